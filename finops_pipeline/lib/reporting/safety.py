"""What keeps a report from being turned against its reader or its host.

- **Formula injection** (CSV / Excel / JSON): a text value starting with ``=``, ``+``, ``-``, ``@``, tab or
  carriage return is prefixed with an apostrophe, so a spreadsheet shows it as text instead of running it.
  Real numbers are numbers, never text, so they are untouched; text that is exactly a plain decimal number
  (``-12.5``) is left as it is too.
- **Where files go**: the output folder is confined to the project folder (``Settings.project_root``: the
  folder of this project's ``pyproject.toml`` or FINOPS_PROJECT_ROOT, never the working directory; no
  ``..``, no symlink leading out, not under ``.git`` or a virtualenv; checked again on the opened folder
  right before writing); files are created with ``O_EXCL`` and
  ``O_NOFOLLOW`` under a temporary name inside that folder and renamed into place, so a reader never sees
  half a file and nothing existing is overwritten or followed.
- **Names**: every file name carries a timestamp and a random component.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc

from finops_pipeline.settings import confined_dir

DANGEROUS_FIRST = ("=", "+", "-", "@", "\t", "\r")
DANGEROUS_RE = r"^[=+\-@\t\r]"
PLAIN_NUMBER_RE = r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"
_PLAIN_NUMBER = re.compile(PLAIN_NUMBER_RE)
NEUTRALISER = "'"
REPORT_ID_RE = re.compile(r"^finops-report-\d{8}T\d{6}Z-[0-9a-f]{8}$")  # what report_stem makes


class OutputPathError(ValueError):
    """The report folder would escape the project folder."""


def neutralise(value: str) -> str:
    """One text value made safe for a spreadsheet cell."""
    if value and value[0] in DANGEROUS_FIRST and not _PLAIN_NUMBER.match(value):
        return NEUTRALISER + value
    return value


def neutralise_json(value: Any) -> Any:
    """Every string in a JSON-able structure (keys included), recursively; numbers untouched."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {neutralise(k) if isinstance(k, str) else k: neutralise_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [neutralise_json(v) for v in value]
    return value


def neutralise_array(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Vectorised :func:`neutralise` over a string column (other types are returned as they are)."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    risky = pc.and_not(
        pc.match_substring_regex(array, DANGEROUS_RE),
        pc.match_substring_regex(array, PLAIN_NUMBER_RE),
    )
    prefixed = pc.binary_join_element_wise(NEUTRALISER, array, "")
    return pc.if_else(pc.fill_null(risky, False), prefixed, array)


def neutralise_table(table: pa.Table) -> pa.Table:
    return pa.Table.from_arrays([neutralise_array(column) for column in table.columns], schema=table.schema)


def report_dir(value: str | Path, root: Path) -> Path:
    """The confined, existing report folder (created if missing); ``root`` is ``Settings.project_root``."""
    root = root.resolve()
    try:
        folder = confined_dir(value, root)
    except ValueError as exc:
        raise OutputPathError(
            f"report folder {str(value)!r} is not allowed: {exc}. Fix: use a folder inside {root}, "
            "e.g. reports"
        ) from None
    folder.mkdir(parents=True, exist_ok=True)
    again = folder.resolve()
    if again != root and root not in again.parents:
        raise OutputPathError(f"report folder {str(value)!r} escaped {root} while being created")
    return again


def attachment_folder(files: Sequence[str | Path], report_id: object, root: Path) -> Path | None:
    """The report folder e-mail attachments may come from: that of the report's files, in the project.

    None (nothing attachable) when the id is not one :func:`report_stem` makes, or the first file's
    folder is not a confined report folder: the file list comes from run metadata, which is not trusted.
    """
    if not files or not isinstance(report_id, str) or not REPORT_ID_RE.match(report_id):
        return None
    try:
        return confined_dir(Path(str(files[0])).parent, root)
    except ValueError:
        return None


def report_stem(now: dt.datetime) -> str:
    """``finops-report-20261127T020000Z-3f9a1c2b``: sortable and unguessable."""
    return f"finops-report-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"


class SafeFolder:
    """Writes into one confined folder through a directory descriptor (no path re-resolution)."""

    def __init__(self, folder: Path, root: Path) -> None:
        self.path = folder
        self.root = root.resolve()
        self._fd: int | None = None

    def __enter__(self) -> SafeFolder:
        self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        real = (
            Path(os.path.realpath(f"/proc/self/fd/{self._fd}"))
            if Path("/proc/self/fd").is_dir()
            else self.path
        )
        if real != self.root and self.root not in real.parents:
            self.close()
            raise OutputPathError(f"report folder {self.path} now resolves to {real}, outside {self.root}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @contextmanager
    def atomic(self, name: str) -> Iterator[IO[bytes]]:
        """A new file ``name`` in the folder, visible only once complete; never overwrites or follows."""
        if self._fd is None:
            raise RuntimeError("SafeFolder used outside its with block")
        if "/" in name or name.startswith(".") or "\0" in name:
            raise OutputPathError(f"bad report file name {name!r}")
        temp = f".{name}.{secrets.token_hex(6)}.part"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(temp, flags, 0o644, dir_fd=self._fd)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.stat(name, dir_fd=self._fd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                raise OutputPathError(f"{name} already exists in {self.path}")
            os.rename(temp, name, src_dir_fd=self._fd, dst_dir_fd=self._fd)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=self._fd)
            raise
