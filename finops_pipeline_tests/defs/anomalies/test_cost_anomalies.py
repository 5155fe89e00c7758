"""marts.cost_anomalies on the ingested session sandbox: dollars and drivers against the world's labels."""

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest

from finops_pipeline.config_resources import AnomalyPolicyResource
from finops_pipeline.defs.anomalies import assets
from finops_pipeline.defs.anomalies.assets import TABLE_SQL, detect_events, mart_rows, read_series
from finops_pipeline.defs.anomalies.checks import no_new_high_severity_anomaly
from finops_pipeline.warehouse import WarehouseResource
from finops_pipeline_tests.conftest import set_aws_env
from finops_pipeline_tests.pipeline_fixtures import materialized_copy, pipeline_env, run_pipeline


@pytest.fixture(scope="module")
def anomalies_warehouse(
    ingested_warehouse: Path, sandbox: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return materialized_copy(
        ingested_warehouse, sandbox, tmp_path_factory.mktemp("anomalies"), ("cost_anomalies",)
    )


@pytest.fixture(scope="module")
def mart(anomalies_warehouse: Path) -> pl.DataFrame:
    with duckdb.connect(str(anomalies_warehouse), read_only=True) as conn:
        return conn.sql("SELECT * FROM marts.cost_anomalies").pl()


@pytest.fixture(scope="module")
def labels(sandbox: Any) -> pl.DataFrame:
    return pl.from_arrow(sandbox.world.anomalies).with_columns(pl.col("impact_usd").cast(pl.Float64))


def _overlapping(mart: pl.DataFrame, label: dict[str, Any], source: str = "finops_pipeline") -> pl.DataFrame:
    return mart.filter(
        (pl.col("source") == source)
        & (pl.col("grain") == "account_service")
        & (pl.col("account_id") == label["account_id"])
        & (pl.col("service") == label["service"])
        & (pl.col("start_date") <= label["end_date"])
        & (pl.col("end_date") >= label["start_date"])
    )


def test_every_grain_and_both_sources_are_present(mart: pl.DataFrame) -> None:
    counts = dict(mart.group_by("source").len().iter_rows())
    assert counts["finops_pipeline"] >= 20
    assert counts["aws"] >= 5
    grains = set(mart.filter(pl.col("source") == "finops_pipeline")["grain"])
    assert grains == {"account_service", "account", "organisation"}
    assert mart["event_id"].n_unique() == mart.height
    # Money adds up: impact = actual - expected on every event of ours (AWS's are taken as reported).
    ours = mart.filter(pl.col("source") == "finops_pipeline")
    diff = (ours["actual_usd"] - ours["expected_usd"] - ours["impact_usd"]).abs().max()
    assert diff < 1e-6


def test_new_services_are_found_with_their_dollars_and_driver(
    mart: pl.DataFrame, labels: pl.DataFrame
) -> None:
    new = labels.filter(pl.col("kind") == "new_service").to_dicts()
    assert len(new) == 5
    for label in new:
        found = _overlapping(mart, label).sort("start_date")
        assert found.height >= 1, label
        event = found.row(0, named=True)
        assert event["kind"] == "new_series"
        assert event["start_date"] == label["start_date"]
        # The first 14 days of a new series are its event, the labelled window; the account's
        # month-end credit on the service (when the window holds one) makes the net a little lower.
        assert event["impact_usd"] == pytest.approx(label["impact_usd"], rel=0.1)
        assert event["days"] in (14, 15, 16)
        assert event["severity"] == "high"
        assert event["top_driver_dimension"] == "usage_type"
        assert event["top_driver_value"] == label["usage_type"]
        assert event["top_driver_share"] == pytest.approx(1.0, abs=0.15)  # impact is net of credits


def test_spikes_and_level_shifts_are_found_and_attributed(mart: pl.DataFrame, labels: pl.DataFrame) -> None:
    increases = labels.filter(pl.col("kind").is_in(["spike", "level_shift"])).to_dicts()
    found = [label for label in increases if _overlapping(mart, label).height]
    assert len(found) >= len(increases) - 1
    attributed = 0
    for label in found:
        event = _overlapping(mart, label).sort("score", descending=True).row(0, named=True)
        assert event["direction"] == "increase"
        drivers = {d["value"] for d in pl.Series([event["drivers"]]).str.json_decode().explode().to_list()}
        attributed += label["usage_type"] in drivers or label["region"] in drivers
    assert attributed >= len(found) - 1


def test_drops_and_drifts_of_one_usage_type_are_found_with_it_as_driver(
    mart: pl.DataFrame, labels: pl.DataFrame
) -> None:
    hidden = labels.filter(pl.col("kind").is_in(["drop", "drift"])).to_dicts()
    assert len(hidden) >= 8
    found = [label for label in hidden if _overlapping(mart, label).height]
    assert len(found) >= len(hidden) - 4  # measured over 15 as-of days to 2027-01-22: 8-10 of 10-12
    # Those the account × service series hides are found on the account × usage-type series: the
    # event carries that usage type, with all of the event's impact, as its top driver.
    by_usage_type = 0
    for label in found:
        event = _overlapping(mart, label).sort("score", descending=True).row(0, named=True)
        if event["top_driver_share"] == 1.0 and event["top_driver_value"] == label["usage_type"]:
            by_usage_type += 1
            assert event["top_driver_dimension"] == "usage_type"
            assert event["top_driver_impact_usd"] == pytest.approx(event["impact_usd"])
            assert event["direction"] == ("decrease" if label["kind"] == "drop" else "increase")
    assert by_usage_type >= 2  # the same days: 2-3 of them


def test_aws_anomalies_sit_beside_ours_and_match(mart: pl.DataFrame, sandbox: Any) -> None:
    aws = mart.filter(pl.col("source") == "aws")
    assert set(aws["grain"]) <= {"account_service", "account"}
    assert aws["account_id"].null_count() == 0
    matched = aws.filter(pl.col("matched"))
    assert matched.height >= aws.height // 2
    for row in matched.head(5).iter_rows(named=True):
        other = mart.filter(pl.col("event_id").is_in(row["matched_event_ids"]))
        assert set(other["source"]) == {"finops_pipeline"}
        assert set(other["grain"]) == {row["grain"]}


def test_the_series_read_in_ranges_of_accounts_are_the_sqls_rows(
    anomalies_warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assets, "DRILLDOWN_PART_ROWS", 1)  # every account a range of its own
    monkeypatch.setattr(assets, "READ_BATCH_ROWS", 1_000)
    with duckdb.connect(str(anomalies_warehouse), read_only=True) as conn:
        series, drilldown = read_series(conn)
        whole_series = conn.sql(assets.SERIES_SQL).pl()
        whole_drilldown = conn.sql(assets.DRILLDOWN_SQL).pl()
        accounts = conn.sql("SELECT count(DISTINCT account_id) FROM raw.aws_accounts").fetchall()[0][0]
    assert accounts > 1 and drilldown["group"].n_unique() > 1
    for read, whole in ((series, whole_series), (drilldown, whole_drilldown)):
        assert read.select(pl.col(pl.Utf8)).width == 0  # ids as categoricals, no text
        text = read.with_columns(pl.col(pl.Categorical).cast(pl.Utf8))
        assert text.sort(pl.all()).equals(whole.sort(pl.all()))


def test_first_seen_survives_a_rerun_and_the_check_warns_on_new_high(
    anomalies_warehouse: Path, tmp_path: Path
) -> None:
    warehouse_copy = tmp_path / "finops.duckdb"
    shutil.copyfile(anomalies_warehouse, warehouse_copy)
    policy = AnomalyPolicyResource()  # the defaults: min impact $1, score 6, high from $100
    later = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    with duckdb.connect(str(warehouse_copy)) as conn:
        conn.execute(TABLE_SQL)
        before = conn.sql("SELECT event_id, first_seen_at FROM marts.cost_anomalies").pl()
        again = mart_rows(conn, policy, later, detect_events(*read_series(conn), policy))
    before = before.with_columns(pl.col("first_seen_at").cast(pl.Datetime("us", "UTC")))
    merged = again.join(before, on="event_id", suffix="_before")
    assert merged.height == before.height
    assert (merged["first_seen_at"] == merged["first_seen_at_before"]).all()
    assert (again["computed_at"] == later).all()

    check = WarehouseResource(database=str(warehouse_copy))
    quiet = no_new_high_severity_anomaly(warehouse=check)
    with duckdb.connect(str(warehouse_copy)) as conn:
        # One of today's events becomes high severity and first seen in the latest run.
        event_id, impact = conn.execute(
            "UPDATE marts.cost_anomalies SET severity = 'high', "
            "first_seen_at = (SELECT max(computed_at) FROM marts.cost_anomalies) "
            "WHERE event_id = (SELECT event_id FROM marts.cost_anomalies WHERE source = 'finops_pipeline' "
            "ORDER BY end_date DESC, event_id LIMIT 1) RETURNING event_id, impact_usd"
        ).fetchone()
    warned = no_new_high_severity_anomaly(warehouse=check)
    assert isinstance(warned, dg.AssetCheckResult)
    assert warned.passed is False
    assert warned.severity == dg.AssetCheckSeverity.WARN
    assert warned.metadata["new_high_severity"].value == quiet.metadata["new_high_severity"].value + 1
    assert warned.metadata["new_high_severity_impact_usd"].value == pytest.approx(
        quiet.metadata["new_high_severity_impact_usd"].value + float(impact), abs=0.01
    )
    assert event_id


def test_new_high_severity_events_travel_in_the_metadata_for_the_alert_sensor(
    ingested_warehouse: Path, sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "finops.duckdb"
    shutil.copyfile(ingested_warehouse, database)
    set_aws_env(monkeypatch, pipeline_env(sandbox.env(), database), tmp_path)
    result = run_pipeline(assets=("cost_anomalies",))
    assert result.success
    materialization = next(
        e.event_specific_data.materialization
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    )
    sent = materialization.metadata["new_high_severity_anomalies"].value
    with duckdb.connect(str(database), read_only=True) as conn:
        first_seen = conn.execute(
            "SELECT event_id, impact_usd, end_date FROM marts.cost_anomalies "
            "WHERE source = 'finops_pipeline' "
            "AND severity = 'high' AND first_seen_at = computed_at ORDER BY event_id"
        ).fetchall()
        newest = conn.execute(
            "SELECT max(end_date) FROM marts.cost_anomalies WHERE source = 'finops_pipeline'"
        ).fetchone()[0]
    # The alert is the check's rule: first seen now and active in the last 7 days; an old anomaly seen
    # for the first time (a backfill) is in the mart but pages nobody.
    expected = [(e, i) for e, i, end in first_seen if end >= newest - dt.timedelta(days=7)]
    assert first_seen, "the sandbox's first run should surface new high-severity anomalies"
    assert len(expected) < len(first_seen)  # the history holds older ones: in the mart, not alerted
    check = next(e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
                 and e.event_specific_data.check_name == "no_new_high_severity_anomaly")  # fmt: skip
    assert check.event_specific_data.metadata["new_high_severity"].value == len(expected)
    assert sorted((row["event_id"], round(row["impact_usd"], 6)) for row in sent) == [
        (event_id, round(float(impact), 6)) for event_id, impact in expected
    ]
    assert materialization.metadata["anomalies_new_high_severity"].value == len(expected)
    assert all(row["severity"] == "high" and row["start_date"] <= row["end_date"] for row in sent)


def test_aws_sets_end_dates_on_ongoing_anomalies_and_the_mart_still_tells_them_open(
    anomalies_warehouse: Path, mart: pl.DataFrame, sandbox: Any
) -> None:
    """API_Anomaly: AnomalyEndDate is "the last day the anomaly is detected" -- set on an ongoing one
    too, so "no end date" cannot be the open flag: open is an end on the last data day (as_of - 1)."""
    with duckdb.connect(str(anomalies_warehouse), read_only=True) as conn:
        raw = conn.sql("SELECT anomaly_id, anomaly_end_date, current_score FROM raw.ce_anomalies").pl()
    assert raw.height >= 5 and raw["anomaly_end_date"].null_count() == 0
    last = sandbox.world.data_end - dt.timedelta(days=1)
    aws = mart.filter(pl.col("source") == "aws").join(raw, left_on="event_id", right_on="anomaly_id")
    assert aws.height == raw.height
    ongoing = aws.filter(pl.col("is_open"))
    ended = aws.filter(~pl.col("is_open"))
    assert ongoing.height >= 1 and ended.height >= 1
    assert set(ongoing["end_date"]) == {last} and (ongoing["current_score"] > 0).all()
    assert (ended["end_date"] < last).all() and (ended["current_score"] == 0).all()


def test_the_asset_shows_the_detectors_measured_accuracy_per_world_family() -> None:
    """The figures bench/anomaly_eval.py --record last measured are on the asset's definition."""
    from finops_pipeline.defs.anomalies.assets import ACCURACY_FILE, cost_anomalies

    recorded = json.loads((Path(__file__).parents[3] / "finops_pipeline" / ACCURACY_FILE).read_text())
    metadata = cost_anomalies.specs_by_key[dg.AssetKey("cost_anomalies")].metadata
    for family in ("sandbox", "independent", "realistic", "bottom_up"):
        assert metadata[f"detector_f1_{family}"] == recorded["families"][family]["finops_pipeline"]["f1"]
    assert metadata["detector_f1_sandbox"] == 0.879 and metadata["detector_f1_independent"] == 0.791
    table = metadata["detector_accuracy"].value
    assert "| B independent (never fitted or chosen on) | 0.702 | 0.909 | 0.791 | 0.668 | 0.122 |" in table
