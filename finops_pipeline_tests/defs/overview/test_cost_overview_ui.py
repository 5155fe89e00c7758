"""Acceptance (#17): the cost overview's page in the Dagster UI shows the figures, checked in Chromium.

The marts and ``cost_overview`` are materialized into a Dagster instance under a temporary DAGSTER_HOME,
the webserver serves it on loopback, and headless Chromium renders the asset's page: its text must hold
the numbers DuckDB gives for the same like-for-like periods (the screenshot is kept beside the test's
files, ``cost_overview.png``).
"""

import datetime as dt
import html
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from finops_pipeline.lib.savings import total_monthly_savings
from finops_pipeline_tests.lib.reporting.chromium import browser_env, run_chromium
from finops_pipeline_tests.pipeline_fixtures import run_pipeline, step_failures, write_workspace

PROJECT_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
ASSETS = ("tag_compliance_resources", "tag_compliance_summary", "recommendations", "cost_anomalies")
COST = "SELECT sum(unblended_cost) FROM raw.ce_cost_daily WHERE usage_date >= ? AND usage_date < ?"


def shown(value: float) -> str:
    """A number as the UI prints a float metadata value (JavaScript's shortest form)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def expected(database: Path, today: dt.date) -> dict[str, Any]:
    """The overview's figures straight from DuckDB, for the suite's day (2026-11-27: 26 complete days)."""
    month = today.replace(day=1)
    last_month = (month - dt.timedelta(days=1)).replace(day=1)
    before = (last_month - dt.timedelta(days=1)).replace(day=1)
    days = (today - month).days
    with duckdb.connect(str(database), read_only=True) as conn:  # every figure read inside the block

        def cost(start: dt.date, end: dt.date) -> float:
            return round(float(conn.execute(COST, [start, end]).fetchone()[0]), 2)

        untagged = conn.execute(
            "SELECT spend_usd - spend_tagged_usd FROM marts.tag_compliance_summary "
            "WHERE dimension = 'overall' ORDER BY snapshot_date DESC LIMIT 1"
        ).fetchone()[0]
        kinds = conn.execute(
            "SELECT kind, sum(estimated_monthly_savings_usd) FROM marts.recommendations GROUP BY 1"
        ).fetchall()
        top_account = conn.execute(
            "SELECT c.account_id, a.account_name FROM raw.ce_cost_daily c JOIN raw.aws_accounts a USING "
            "(account_id) WHERE usage_date >= ? AND usage_date < ? GROUP BY ALL ORDER BY sum(unblended_cost) "
            "DESC LIMIT 1",
            [last_month, month],
        ).fetchone()
        return {
            "month_to_date_days": days,
            "month_to_date_usd": cost(month, today),
            "month_to_date_previous_usd": cost(last_month, last_month + dt.timedelta(days=days)),
            "last_month_usd": cost(last_month, month),
            "last_month_previous_usd": cost(before, last_month),
            "untagged_spend_usd": round(float(untagged), 2),
            "savings_available_monthly_usd": round(total_monthly_savings(dict(kinds)), 2),
            "top_account": top_account,
        }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def webserver(workspace: Path, cwd: Path, port: int, log: Path) -> Iterator[str]:
    """``dagster-webserver`` on loopback for the block; its URL once it answers (bounded wait).

    Without libfaketime, like the browser: under ``faketime`` (the suite checked on 2027-03-01 and
    2028-02-29) Chromium's page on a faked webserver never settled and the test timed out after 300 s on
    both dates. The server only shows what the run wrote under the faked date."""
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)],
            cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=browser_env(),
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while True:  # readiness polling of the webserver, bounded
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
                try:
                    urllib.request.urlopen(f"{url}/server_info", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def render(url: str, profile: Path, screenshot: Path) -> str:
    """The page's text after its scripts ran (Chromium's DOM dump), and a screenshot of it."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_chromium(profile, "--virtual-time-budget=30000", *args, url, timeout=180)

    run("--window-size=1400,3200", f"--screenshot={screenshot}")
    dom = run("--dump-dom").stdout
    text = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(text))


@pytest.mark.slow  # a webserver and a headless browser
def test_the_overview_page_shows_the_lead_s_figures(
    warehouse_copy: Path, sandbox: Any, tmp_path: Path, project: Path, pipeline_env_for: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    pipeline_env_for(warehouse_copy, DAGSTER_HOME=str(home))
    with dg.DagsterInstance.get() as instance:
        result = run_pipeline(assets=[*ASSETS, "cost_overview"], instance=instance)
    assert result.success, step_failures(result)
    today = sandbox.world.config.as_of
    want = expected(warehouse_copy, today)
    metadata = {
        k: v.value for k, v in result.asset_materializations_for_node("cost_overview")[0].metadata.items()
    }
    for key, value in want.items():
        if key != "top_account":
            assert metadata[key] == value, key
    assert want["month_to_date_days"] == 26 and want["month_to_date_usd"] > 0
    screenshot = tmp_path / "cost_overview.png"
    with webserver(write_workspace(project), project, free_port(), tmp_path / "webserver.log") as url:
        text = render(f"{url}/assets/cost_overview", tmp_path / "chromium", screenshot)
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
    for key in ("month_to_date_usd", "month_to_date_previous_usd", "last_month_usd", "untagged_spend_usd"):
        assert f"{key} " in text and shown(want[key]) in text, (key, want[key], text[:3000])
    assert shown(want["savings_available_monthly_usd"]) in text
    account_id, account_name = want["top_account"]
    assert f"{account_id} {account_name}" in text  # the name beside the id, in the top accounts table
    assert "top_movers" in text and "open_high_severity_anomalies" in text
