"""Which files of an AWS Data Export are current, and their bytes: a local folder or an S3 prefix.

AWS Data Exports delivers ``<prefix>/<export-name>/data/BILLING_PERIOD=YYYY-MM/<export-name>-<n>.<ext>``
and, per billing period, ``metadata/BILLING_PERIOD=YYYY-MM/<export-name>-Manifest.json`` whose
``dataFiles`` lists the full ``s3://`` URIs of the files that make the period now
(https://docs.aws.amazon.com/cur/latest/userguide/dataexports-export-delivery.html,
https://docs.aws.amazon.com/cur/latest/userguide/dataexports-manifest.html). An open period is rewritten
as charges change, so the manifest, not the listing, says which files count: a file it no longer names
was replaced. A folder without manifests (a hand copy, the FinOps Foundation sample) counts every file.

Each file belongs to one billing period, the Dagster partition of ``focus_cost`` it is read under: the one
its ``BILLING_PERIOD=`` folder names, else (a file outside AWS's layout) the first ``BillingPeriodStart``
of its rows, else ``UNKNOWN_PERIOD`` (a file that cannot say is still read, and refused with its reason).

DuckDB's httpfs extension is not bundled with the duckdb wheel and must be downloaded on first use, which
an offline machine cannot do; so S3 objects are fetched with boto3 (the pipeline's one AWS resource, its
credential chain and endpoints) into a temporary folder and DuckDB reads them there.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import duckdb

DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz")
PERIOD_RE = re.compile(r"BILLING_PERIOD=(\d{4}-\d{2})")
MANIFEST_SUFFIX = "Manifest.json"
UNKNOWN_PERIOD = "unknown"  # the partition of a file whose period neither its folder nor its rows give


@dataclass(frozen=True)
class ExportFile:
    """One data file: its URI (``s3://...`` or an absolute path), the period its folder names, the
    fingerprint that tells a rewritten file from the one read before, and its partition (module doc)."""

    uri: str
    billing_period: str | None
    fingerprint: str
    size: int
    partition: str

    @property
    def suffix(self) -> str:
        return next(s for s in DATA_SUFFIXES if self.uri.lower().endswith(s))


def period_digest(files: list[ExportFile]) -> str:
    """What a period's files are now: their URIs and fingerprints, hashed. Equal digests, nothing to read."""
    text = "\n".join(sorted(f"{f.uri} {f.fingerprint}" for f in files))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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

    def current_files(self, known: Mapping[str, tuple[str, str]] | None = None) -> list[ExportFile]:
        """The data files that make the export now: per period its newest manifest's, else all found.

        ``known``: {uri: (fingerprint, partition)} of files read before; an unchanged file outside AWS's
        layout keeps its partition instead of being read again to find it.
        """
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
            out.append(ExportFile(item.uri, period, item.fingerprint, item.size, period or UNKNOWN_PERIOD))
        return [self._partitioned(f, known or {}) for f in out]

    def _partitioned(self, file: ExportFile, known: Mapping[str, tuple[str, str]]) -> ExportFile:
        if file.billing_period:
            return file
        fingerprint, partition = known.get(file.uri, ("", ""))
        return (
            replace(file, partition=partition)
            if fingerprint == file.fingerprint
            else self._with_rows_period(file)
        )

    def _with_rows_period(self, file: ExportFile) -> ExportFile:
        """``file`` in the partition of its rows' first billing period (a file outside AWS's layout)."""
        reader = "read_parquet" if file.suffix == ".parquet" else "read_csv"
        options = "" if file.suffix == ".parquet" else ", all_varchar = true, header = true"
        with tempfile.TemporaryDirectory(prefix="focus-period-") as folder:
            path = str(self.local_path(file, Path(folder))).replace("'", "''")
            try:
                first = "min(substr(CAST(BillingPeriodStart AS VARCHAR), 1, 7))"
                with duckdb.connect() as conn:
                    (period,) = conn.execute(f"SELECT {first} FROM {reader}('{path}'{options})").fetchone()
            except duckdb.Error:  # unreadable, or no BillingPeriodStart: the ingest refuses it and says why
                period = None
        valid = isinstance(period, str) and re.fullmatch(r"\d{4}-\d{2}", period)
        return ExportFile(file.uri, None, file.fingerprint, file.size, period if valid else UNKNOWN_PERIOD)

    def files_by_period(self) -> dict[str, list[ExportFile]]:
        """The current files per partition (billing period), periods in order."""
        grouped: dict[str, list[ExportFile]] = {}
        for file in sorted(self.current_files(), key=lambda f: (f.partition, f.uri)):
            grouped.setdefault(file.partition, []).append(file)
        return grouped

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
