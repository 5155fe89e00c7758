"""JSON, one payload: report facts, totals and every dataset as a list of row objects.

JSON columns (tags) are embedded as objects, and every string in the payload, keys included, is
neutralised recursively (numbers stay numbers).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
from decimal import Decimal
from typing import IO, Any

from finops_pipeline.lib.reporting.datasets import Dataset
from finops_pipeline.lib.reporting.safety import neutralise_json


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _clean_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dataset_rows(dataset: Dataset) -> list[dict[str, Any]]:
    json_columns = [name for name, kind in dataset.kinds.items() if kind == "json"]
    rows = dataset.table.to_pylist()
    for row in rows:
        for name, value in row.items():
            row[name] = _clean_number(value)
        for name in json_columns:
            if isinstance(row.get(name), str):
                with contextlib.suppress(ValueError):
                    row[name] = json.loads(row[name])
    return rows


def payload(report: dict[str, Any], totals: dict[str, Any], datasets: list[Dataset]) -> dict[str, Any]:
    return neutralise_json(
        {
            "report": report,
            "totals": {k: _clean_number(v) for k, v in totals.items()},
            "datasets": {
                d.name: {
                    "title": d.title,
                    "description": d.spec.description,
                    "source": d.source,
                    "note": d.note,
                    "columns": d.kinds,
                    "row_count": d.rows,
                    "rows": dataset_rows(d),
                }
                for d in datasets
            },
        }
    )


def write_json(
    report: dict[str, Any], totals: dict[str, Any], datasets: list[Dataset], handle: IO[bytes]
) -> None:
    text = json.dumps(
        payload(report, totals, datasets), default=_default, ensure_ascii=False, allow_nan=False, indent=1
    )
    handle.write(text.encode())
