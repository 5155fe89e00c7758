"""The report depends on every table it reads: the asset graph shows where its figures come from."""

import re
from pathlib import Path

import dagster as dg

from finops_pipeline import tables
from finops_pipeline.defs.reporting.assets import finops_report

REPORTING = Path(tables.__file__).resolve().parents[1] / "lib" / "reporting"
TABLE_RE = re.compile(r"\b((?:raw|marts)\.[a-z_]+)\b")


def test_every_table_the_report_reads_is_a_declared_dep() -> None:
    read = {
        name
        for path in (*REPORTING.rglob("*.py"), *REPORTING.rglob("*.sql"))
        for name in TABLE_RE.findall(path.read_text())
        if name in tables.BY_NAME
    }
    assert {"raw.ce_cost_daily", "marts.tag_compliance_summary", "raw.tagged_resources"} <= read
    writers = {tables.table(name).asset for name in read}
    deps = {key.to_user_string() for key in finops_report.asset_deps[dg.AssetKey("finops_report")]}
    assert None not in writers
    assert writers <= deps, f"read but not declared: {sorted(writers - deps)}"
