"""A tiny PNG decoder (8-bit RGB / RGBA, non-interlaced): enough to read Chromium's screenshots."""

import struct
import zlib
from collections import Counter

import numpy as np


def decode(data: bytes) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows of raw pixel bytes, bytes per pixel)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = bit_depth = color_type = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, bit_depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    assert bit_depth == 8 and color_type in (2, 6) and interlace == 0, (bit_depth, color_type, interlace)
    bpp = 3 if color_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).copy()
        if f == 1:  # Sub: running sum per channel
            line = (
                (np.cumsum(line.reshape(width, bpp).astype(np.int64), axis=0) % 256).astype(np.uint8).ravel()
            )
        elif f == 2:  # Up
            line = line + prev
        elif f in (3, 4):  # Average / Paeth: sequential along the row
            out = bytearray(line.tobytes())
            up = prev.tobytes()
            for i in range(stride):
                a = out[i - bpp] if i >= bpp else 0
                b = up[i]
                if f == 3:
                    out[i] = (out[i] + ((a + b) >> 1)) & 0xFF
                else:
                    c = up[i - bpp] if i >= bpp else 0
                    p = a + b - c
                    pa_, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    out[i] = (out[i] + (a if pa_ <= pb and pa_ <= pc else (b if pb <= pc else c))) & 0xFF
            line = np.frombuffer(bytes(out), dtype=np.uint8)
        rows.append(line.tobytes())
        prev = line
    return width, height, rows, bpp


def colour_counts(data: bytes) -> Counter:
    """How many pixels of each '#rrggbb' colour."""
    width, height, rows, bpp = decode(data)
    pixels = (
        np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(height * width, bpp)[:, :3].astype(np.uint32)
    )
    packed = (pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    return Counter({f"#{int(v):06x}": int(n) for v, n in zip(values, counts, strict=True)})
