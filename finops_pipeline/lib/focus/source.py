"""Which files of an AWS Data Export are current, and their bytes: a local folder or an S3 prefix.

AWS Data Exports delivers ``<prefix>/<export-name>/data/BILLING_PERIOD=YYYY-MM/<export-name>-<n>.<ext>``
and, per billing period, ``metadata/BILLING_PERIOD=YYYY-MM/<export-name>-Manifest.json`` whose
``dataFiles`` lists the full ``s3://`` URIs of the files that make the period now
(https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html,
https://docs.aws.amazon.com/cur/latest/userguide/dataexports-manifest.html). An open period is rewritten
as charges change, so the manifest, not the listing, says which files count: a file it no longer names
was replaced. A folder without manifests (a hand copy, the FinOps Foundation sample) counts every file.

DuckDB's httpfs extension is not bundled with the duckdb wheel and must be downloaded on first use, which
an offline machine cannot do; so S3 objects are fetched with boto3 (the pipeline's one AWS resource, its
credential chain and endpoints) into a temporary folder and DuckDB reads them there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz")
PERIOD_RE = re.compile(r"BILLING_PERIOD=(\d{4}-\d{2})")
MANIFEST_SUFFIX = "Manifest.json"


@dataclass(frozen=True)
class ExportFile:
    """One data file: its URI (``s3://...`` or an absolute path), the period its folder names, and the
    fingerprint that tells a rewritten file from the one read before."""

    uri: str
    billing_period: str | None
    fingerprint: str
    size: int

    @property
    def suffix(self) -> str:
        return next(s for s in DATA_SUFFIXES if self.uri.lower().endswith(s))


@dataclass(frozen=True)
class _Listed:
    uri: str
    fingerprint: str
    size: int
    modified: float


def _period(uri: str) -> str | None:
    match = PERIOD_RE.search(uri)
    return match.group(1) if match else None


def _is_data(uri: str) -> bool:
    return uri.lower().endswith(DATA_SUFFIXES) and "/metadata/" not in uri


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


class ExportSource:
    """The export at ``uri``; ``s3`` is a boto3 S3 client (needed for ``s3://`` only)."""

    def __init__(self, uri: str, s3: Any = None) -> None:
        self.uri = uri.rstrip("/")
        self.s3 = s3
        self.bytes_read = 0

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")

    def _listing(self) -> list[_Listed]:
        if not self.is_s3:
            root = Path(self.uri)
            return [
                _Listed(str(p), f"{st.st_size}-{st.st_mtime_ns}", st.st_size, st.st_mtime)
                for p in sorted(root.rglob("*"))
                if p.is_file() and (st := p.stat())
            ]
        bucket, prefix = split_s3(self.uri)
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""
        )
        return [
            _Listed(
                f"s3://{bucket}/{o['Key']}", o["ETag"].strip('"'), o["Size"], o["LastModified"].timestamp()
            )
            for page in pages
            for o in page.get("Contents", [])
        ]

    def _manifest_files(self, manifest: _Listed) -> list[str]:
        """The manifest's ``dataFiles`` as this source names files (absolute paths for a local copy)."""
        document = json.loads(self._read_bytes(manifest.uri))
        files = [str(f) for f in document.get("dataFiles", [])]
        if self.is_s3:
            return files
        # A local copy of the export: the files sit at the same place under the export's folder.
        return [str(Path(self.uri) / "data" / f.split("/data/", 1)[1]) if "/data/" in f else f for f in files]

    def current_files(self) -> list[ExportFile]:
        """The data files that make the export now: per period its newest manifest's, else all found."""
        listing = self._listing()
        latest: dict[str, _Listed] = {}
        for item in listing:
            period = _period(item.uri)
            newer = period not in latest or item.modified >= latest[period].modified
            if item.uri.endswith(MANIFEST_SUFFIX) and period is not None and newer:
                latest[period] = item
        named = {period: set(self._manifest_files(m)) for period, m in latest.items()}
        out = []
        for item in listing:
            if not _is_data(item.uri):
                continue
            period = _period(item.uri)
            if period in named and item.uri not in named[period]:
                continue  # replaced by a later delivery of its period
            out.append(ExportFile(item.uri, period, item.fingerprint, item.size))
        return out

    def _read_bytes(self, uri: str) -> bytes:
        if uri.startswith("s3://"):
            bucket, key = split_s3(uri)
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        else:
            body = Path(uri).read_bytes()
        self.bytes_read += len(body)
        return body

    def local_path(self, file: ExportFile, folder: Path) -> Path:
        """A path DuckDB can read: the file itself, or its S3 object fetched into ``folder``."""
        if not self.is_s3:
            self.bytes_read += file.size
            return Path(file.uri)
        target = folder / f"{abs(hash(file.uri))}{file.suffix}"
        bucket, key = split_s3(file.uri)
        with target.open("wb") as out:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                out.write(chunk)
                self.bytes_read += len(chunk)
        return target
