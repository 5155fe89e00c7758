"""Pages small enough that a client without its page loop fails: Organizations ListAccounts, the Tagging
API's GetResources and Cost Explorer's GetAnomalies, three items a page.

AWS returns fewer items than asked whenever it likes (ListAccounts "can be empty while NextToken is set";
GetResources 1-100; GetAnomalies pages by NextPageToken), so each of these reads must follow the token.
With pages of three a reader that stops at the first page keeps 3 of 13 accounts, 3 resources per account
and region, and 3 anomalies: each assertion below would fail.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import boto3
import duckdb

from finops_pipeline.clock import today_utc
from finops_pipeline_tests.conftest import set_aws_env
from finops_pipeline_tests.defs.ingest.test_tagged_resources import expected_resources, scanned
from finops_pipeline_tests.pipeline_fixtures import run_pipeline, step_failures

PAGE = 3


def test_every_page_of_accounts_resources_and_anomalies_is_read(
    sandbox: Any, sandbox_factory: Any, pipeline_env_for: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    world = sandbox.world
    small = sandbox_factory(page_size=PAGE)
    database = tmp_path / "finops.duckdb"
    pipeline_env_for(database, small)
    result = run_pipeline(
        world.data_end - dt.timedelta(days=1),
        world.data_end,
        assets=["aws_accounts", "tagged_resources", "ce_anomalies"],
    )
    assert result.success, step_failures(result)
    with duckdb.connect(str(database), read_only=True) as conn:
        accounts = {r[0] for r in conn.execute("SELECT account_id FROM raw.aws_accounts").fetchall()}
        anomalies = dict(conn.execute("SELECT anomaly_id, total_impact FROM raw.ce_anomalies").fetchall())
        pages = dict(conn.execute("SELECT operation, sum(pages) FROM meta.api_calls GROUP BY 1").fetchall())
    assert accounts == set(world.accounts.column("account_id").to_pylist())
    assert pages["ListAccounts"] >= math.ceil(len(accounts) / PAGE)
    assert scanned(database) == expected_resources(world)
    assert pages["GetResources"] > 12 * 3  # more than one page per account and region
    # The anomalies: all of them, as a client that pages through the same sandbox reads them.
    set_aws_env(monkeypatch, small.env(), tmp_path)
    ce, token, truth = boto3.client("ce"), None, {}
    start = (today_utc() - dt.timedelta(days=90)).isoformat()  # the pipeline's window (LOOKBACK_DAYS)
    while True:
        answer = ce.get_anomalies(
            DateInterval={"StartDate": start}, MaxResults=100, **({"NextPageToken": token} if token else {})
        )
        truth |= {a["AnomalyId"]: a["Impact"]["TotalImpact"] for a in answer["Anomalies"]}
        token = answer.get("NextPageToken")
        if not token:
            break
    assert len(truth) > PAGE
    assert {k: round(float(v), 2) for k, v in anomalies.items()} == truth
    assert pages["GetAnomalies"] >= math.ceil(len(truth) / PAGE)
