"""``commitment_usage``: daily Savings Plans and RI utilization and coverage per account, and the commitments.

Read from the management account's Cost Explorer (it sees every member's commitments) for the partition
window, clipped to today: AWS refuses an End in the future for these operations. Each account's calls
are one target of ``raw.scan_status`` (source ``ce_commitments``, region ``global``): a refused or failing
account keeps its stored days and is labelled there, it never sinks the run nor shrinks the tables. A
short window of many accounts is read per day, every account in one grouped request (``cm.plan``); a
failed grouped request labels every account. With ``FINOPS_SP_COVERAGE_ACCOUNT_DAYS`` above 1 each run
also reads the organisation's Savings Plans coverage (one request, ``raw.sp_coverage_organization``) and
reads it per account only when a day of the window has gone that many days without it; the other runs
keep each account's stored Savings Plans rows. The
commitment lists themselves (one request per kind) fail the asset when refused: without them nothing
is known. See ``lib/commitments.py`` for which request gives what and why. With
``FINOPS_COST_DETAIL_SOURCE=data_export`` the days the export holds come from it instead, every account
at no request (``usage_export.py``).
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from finops_pipeline import tables as registry
from finops_pipeline.aws_session import AwsResource, ScanOutcome, ScanTarget, attempt, call_metadata
from finops_pipeline.clock import today_utc
from finops_pipeline.config_resources import CostWindowResource, FocusExportResource
from finops_pipeline.defs import layers
from finops_pipeline.defs.commitments.usage_export import ExportedCommitments, in_schema, read_export
from finops_pipeline.defs.ingest.partitions import daily_partitions
from finops_pipeline.lib import commitments as cm
from finops_pipeline.lib.cost_window import REFRESH_TAG, refresh_window, restated_start
from finops_pipeline.lib.fan_out import record_scan_status
from finops_pipeline.request_budget import RequestBudget
from finops_pipeline.settings import load_settings
from finops_pipeline.tables import definition_metadata, row_count
from finops_pipeline.warehouse import WarehouseResource, record_api_calls, transaction

SOURCE = "ce_commitments"
ONE_DAY = dt.timedelta(days=1)
UTILIZATION, COVERAGE = "raw.commitment_utilization", "raw.commitment_coverage"
ORGANIZATION = "raw.sp_coverage_organization"
# Every account, closed ones too: Cost Explorer keeps a suspended account's history, and its usage before
# the closure counts in the coverage of those days.
ACCOUNTS_SQL = "SELECT account_id FROM raw.aws_accounts ORDER BY account_id"
SCHEMAS = {name: registry.table(name).arrow_schema() for name in (UTILIZATION, COVERAGE, ORGANIZATION)}
# The days of [$start, $end) whose Savings Plans coverage was read per account: marked so, or holding an
# account's row (read before the organisation's figure was kept, FINOPS_SP_COVERAGE_ACCOUNT_DAYS=1).
PER_ACCOUNT_DAYS_SQL = f"""
SELECT usage_date FROM {ORGANIZATION} WHERE per_account AND usage_date >= $start AND usage_date < $end
UNION
SELECT usage_date FROM {COVERAGE}
WHERE commitment_type LIKE '{cm.SP_PREFIX}%' AND usage_date >= $start AND usage_date < $end
"""
FIRST_UNREAD_SQL = f"""
SELECT min(d)::DATE FROM range($start::DATE, $end::DATE, INTERVAL 1 DAY) t(d)
WHERE d::DATE NOT IN ({PER_ACCOUNT_DAYS_SQL})
"""


# Each day's stored organisation-wide figures, as ``cm.day_totals`` answers them: commitment, used, coverage
# dollars (an organisation-only day's Savings Plans coverage from its organisation row) and hours.
STORED_TOTALS_SQL = f"""
WITH u AS (
    SELECT usage_date, sum(total_commitment) AS total, sum(used_commitment) AS used
    FROM {UTILIZATION} WHERE usage_date >= $start AND usage_date < $end GROUP BY 1
), c AS (
    SELECT usage_date, sum(dollars) AS dollars, sum(hours) AS hours FROM (
        SELECT usage_date, covered_cost + on_demand_cost AS dollars,
               coalesce(covered_hours, 0) + coalesce(on_demand_hours, 0) AS hours
        FROM {COVERAGE} WHERE usage_date >= $start AND usage_date < $end
        UNION ALL
        SELECT usage_date, covered_cost + on_demand_cost, 0 FROM {ORGANIZATION}
        WHERE NOT per_account AND usage_date >= $start AND usage_date < $end
    ) GROUP BY 1
)
SELECT usage_date, coalesce(total, 0), coalesce(used, 0), coalesce(dollars, 0), coalesce(hours, 0)
FROM u FULL JOIN c USING (usage_date)
"""
# A day moved when a figure differs by a cent (an hour's hundredth) or more: the stored rows are each
# rounded to the micro-dollar, so their sum may differ from the organisation's total by less.
MOVED_BY = Decimal("0.01")


def _first_moved(
    conn: duckdb.DuckDBPyConnection, answered: dict[dt.date, cm.DayTotals], start: dt.date, end: dt.date
) -> dt.date | None:
    """The first day of ``[start, end)`` whose stored figures are not what Cost Explorer answers now."""
    stored = {
        day: tuple(Decimal(str(v)) for v in figures)
        for day, *figures in conn.execute(STORED_TOTALS_SQL, {"start": start, "end": end}).fetchall()
    }
    zero = (Decimal(0),) * 4
    moved = [
        day
        for day in sorted(set(stored) | set(answered))
        if any(
            abs(a - b) >= MOVED_BY
            for a, b in zip(answered.get(day, zero), stored.get(day, zero), strict=True)
        )
    ]
    return moved[0] if moved else None


def _sp_label(kinds: Sequence[str] | set[str]) -> str:
    """The commitment type Savings Plans coverage is filed under: coverage is of eligible spend by every
    plan, so it takes the first Savings Plans type owned (Compute when none is)."""
    return (sorted(k for k in kinds if k.startswith(cm.SP_PREFIX)) or [cm.SP_PREFIX + "Compute"])[0]


def _account_rows(
    ce: Any, start: dt.date, end: dt.date, account_id: str, kinds: Sequence[str], read: cm.ReadPlan
) -> dict[str, list[dict[str, Any]]]:
    """The families ``read`` takes per account: utilization of the account's own commitment types and
    coverage of every type (eligible usage); Savings Plans coverage here or organisation-wide only."""
    utilization: list[dict[str, Any]] = []
    for kind in () if read.utilization_by_day else kinds:
        if kind.startswith(cm.SP_PREFIX):
            utilization += cm.sp_utilization(ce, start, end, account_id, kind)
        else:
            utilization += cm.ri_utilization(ce, start, end, account_id, kind.removeprefix(cm.RI_PREFIX))
    coverage = (
        cm.sp_coverage(ce, start, end, account_id, _sp_label(kinds)) if read.sp_coverage_by_account else []
    )
    for service in () if read.ri_coverage_by_day else cm.RI_SERVICES:
        coverage += cm.ri_coverage(ce, start, end, account_id, service)
    return {UTILIZATION: utilization, COVERAGE: coverage}


def _day_rows(
    ce: Any, start: dt.date, end: dt.date, read: cm.ReadPlan, sp_label: str
) -> dict[str, list[dict[str, Any]]]:
    """The families ``read`` takes per day: every account's rows, one grouped request per day and kind;
    and the organisation's Savings Plans coverage over the window when ``read`` takes it."""
    rows: dict[str, list[dict[str, Any]]] = {UTILIZATION: [], COVERAGE: [], ORGANIZATION: []}
    if read.sp_coverage_organization:
        rows[ORGANIZATION] = cm.organization_sp_coverage(ce, start, end, sp_label)
    for offset in range((end - start).days):
        day = start + dt.timedelta(days=offset)
        if read.utilization_by_day:
            rows[UTILIZATION] += cm.day_utilization(ce, day)
        if read.ri_coverage_by_day:
            rows[COVERAGE] += cm.day_ri_coverage(ce, day)
    return rows


def _read(
    ce: Any,
    start: dt.date,
    end: dt.date,
    known: Sequence[str],
    kinds: dict[str, set[str]],
    budget: RequestBudget,
    sp_by_account: bool,
    sp_organization: bool,
) -> tuple[cm.ReadPlan, list[ScanOutcome], dict[str, pa.Table]]:
    """Every account's rows of the window, read the cheaper way (``cm.plan``), and one outcome per account.

    The grouped requests answer for the whole organisation: when one fails, every account is labelled
    with that failure and keeps its stored days, as a failed account's own request does."""
    owned = sum(len(k) for k in kinds.values())
    read = cm.plan((end - start).days, len(set(known) | set(kinds)), owned, sp_by_account, sp_organization)
    budget.reserve(read.requests, f"commitment_usage over {start}..{end - dt.timedelta(days=1)}")
    label = _sp_label(set().union(*kinds.values()))
    grouped = attempt(ScanTarget("organization", "global"), lambda: _day_rows(ce, start, end, read, label))
    seen = {r["account_id"] for name in (UTILIZATION, COVERAGE) for r in (grouped.result or {}).get(name, [])}
    outcomes = [
        attempt(
            ScanTarget(account, "global"),
            lambda a=account: _account_rows(ce, start, end, a, sorted(kinds.get(a, ())), read),
        )
        for account in sorted(set(known) | set(kinds) | seen)
    ]
    if grouped.status != "ok":
        outcomes = [ScanOutcome(o.target, grouped.status, grouped.detail) for o in outcomes]
    ok = {o.target.account_id for o in outcomes if o.status == "ok"}
    rows = {
        name: pa.Table.from_pylist(
            [r for o in outcomes if o.status == "ok" for r in o.result[name]]
            + [r for r in (grouped.result or {}).get(name, []) if r["account_id"] in ok],
            schema=SCHEMAS[name],
        )
        for name in (UTILIZATION, COVERAGE)
    }
    rows[ORGANIZATION] = pa.Table.from_pylist(
        (grouped.result or {}).get(ORGANIZATION, []), SCHEMAS[ORGANIZATION]
    )
    return read, outcomes, rows


def _write(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    rows: pa.Table,
    start: dt.date,
    end: dt.date,
    ok_accounts: Sequence[str] | None,
    types_like: str = "%",
) -> None:
    """Replace the window of the accounts that answered (their commitment types ``LIKE types_like``: a
    run that read Savings Plans coverage organisation-wide keeps each account's stored Savings Plans
    rows); a failed account's stored days stay. ``ok_accounts`` None: every account's (the export)."""
    accounts = pa.array(list(ok_accounts or ()), pa.string())
    conn.register("ok_accounts", pa.table({"account_id": accounts}))
    conn.register("incoming_rows", rows)
    only = "" if ok_accounts is None else "AND account_id IN (SELECT account_id FROM ok_accounts)"
    try:
        with transaction(conn):
            conn.execute(
                f"DELETE FROM {table} WHERE usage_date >= ? AND usage_date < ? AND commitment_type LIKE ? "
                + only,
                [start, end, types_like],
            )
            if rows.num_rows:
                conn.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming_rows")
    finally:
        conn.unregister("incoming_rows")
        conn.unregister("ok_accounts")


def _write_organization(
    conn: duckdb.DuckDBPyConnection, rows: pa.Table, start: dt.date, end: dt.date, per_account: bool
) -> None:
    """Replace the window's organisation-wide figures. A day read per account by an earlier run keeps
    its mark when this run read organisation-wide only: its per-account rows are still stored."""
    window = {"start": start, "end": end}
    kept = {day for (day,) in conn.execute(PER_ACCOUNT_DAYS_SQL, window).fetchall()}
    marks = pa.array([per_account or day in kept for day in rows["usage_date"].to_pylist()], pa.bool_())
    conn.register(
        "incoming_rows", rows.set_column(rows.schema.get_field_index("per_account"), "per_account", marks)
    )
    try:
        with transaction(conn):
            conn.execute(f"DELETE FROM {ORGANIZATION} WHERE usage_date >= ? AND usage_date < ?", [start, end])
            conn.execute(f"INSERT INTO {ORGANIZATION} BY NAME SELECT * FROM incoming_rows")
    finally:
        conn.unregister("incoming_rows")


def _first_unread(conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> dt.date | None:
    """The first day of ``[start, end)`` whose Savings Plans coverage was not read per account."""
    (first,) = conn.execute(FIRST_UNREAD_SQL, {"start": start, "end": end}).fetchone() or (None,)
    return first


def _sp_by_account(first_unread: dt.date | None, end: dt.date, every_days: int, leaves: dt.date) -> bool:
    """Whether this run reads Savings Plans coverage per account (one request per account): on every run
    with FINOPS_SP_COVERAGE_ACCOUNT_DAYS=1, else once a day of the range has gone ``every_days`` days,
    counted to the range's last day, without it, or would leave the daily refresh's range tomorrow
    (``leaves``: a closing month's last days) unread. So an account's figures are at most that old, and
    a backfill of days never read per account reads them per account."""
    if every_days <= 1:
        return True
    if first_unread is None:
        return False
    return (end - ONE_DAY - first_unread).days >= every_days or first_unread < leaves


def _read_start(
    ce: Any, warehouse: WarehouseResource, start: dt.date, end: dt.date, cost_window: CostWindowResource,
    budget: RequestBudget,
) -> tuple[dt.date, int]:  # fmt: skip
    """Where a daily refresh starts reading, and the days it probed unchanged: its trailing days
    (``restated_start``) always, and of its older days only from the first one whose organisation-wide
    figures moved (``cm.day_totals``, six requests). A failed probe reads the whole range. As with the
    cost grains' probe (``defs/ingest/restatement.py``), a restatement that moves figures between
    accounts and leaves every organisation total is missed until a backfill reads the days again."""
    tail = max(start, restated_start(cost_window, end - ONE_DAY))
    if tail <= start:
        return start, 0
    budget.reserve(cm.PROBE_REQUESTS, f"commitment_usage probe of {start}..{tail - ONE_DAY}")
    probe = attempt(ScanTarget("organization", "global"), lambda: cm.day_totals(ce, start, tail))
    if probe.status != "ok":
        return start, 0
    with warehouse.connect() as conn:
        first = min(_first_moved(conn, probe.result, start, tail) or tail, tail)
    return first, (first - start).days


def _accounts(conn: duckdb.DuckDBPyConnection, aws: AwsResource) -> list[str]:
    if aws.single_account_mode:
        return [aws.caller_account_id()]
    return [row[0] for row in conn.execute(ACCOUNTS_SQL).fetchall()]


@dataclass
class _CeRead:
    """One span read from Cost Explorer: where it started reading, how, and what it gave."""

    start: dt.date
    end: dt.date
    range_start: dt.date
    plan: cm.ReadPlan
    outcomes: list[ScanOutcome]
    rows: dict[str, pa.Table]
    kinds: dict[str, set[str]]
    unchanged: int
    by_account: bool


def _read_ce(
    aws: AwsResource, warehouse: WarehouseResource, cost_window: CostWindowResource,
    span: tuple[dt.date, dt.date], daily: bool,
) -> _CeRead:  # fmt: skip
    """The span's figures from Cost Explorer: a daily refresh from its first moved day (``_read_start``),
    Savings Plans coverage per account when due (``_sp_by_account``), the cheaper way (``cm.plan``)."""
    ce = aws.client("ce")
    (start, end), today = span, today_utc()
    range_start, every, unchanged = start, cost_window.sp_coverage_account_days, 0
    if daily:
        start, unchanged = _read_start(ce, warehouse, start, end, cost_window, aws.budget)
    with warehouse.connect() as conn:
        known = _accounts(conn, aws)
        unread = _first_unread(conn, range_start, end) if every > 1 else None
    by_account = _sp_by_account(unread, end, every, refresh_window(cost_window, today + ONE_DAY)[0])
    if by_account and unread is not None:
        start = min(start, unread)  # the per-account read covers every day read organisation-wide
    kinds = cm.owners(ce, start, end)
    plan, outcomes, rows = _read(ce, start, end, known, kinds, aws.budget, by_account, every > 1)
    return _CeRead(start, end, range_start, plan, outcomes, rows, kinds, unchanged, by_account)


def _write_ce(conn: duckdb.DuckDBPyConnection, read: _CeRead) -> None:
    ok = [o.target.account_id for o in read.outcomes if o.status == "ok"]
    _write(conn, UTILIZATION, read.rows[UTILIZATION], read.start, read.end, ok)
    replaced = "%" if read.by_account else cm.RI_PREFIX + "%"
    _write(conn, COVERAGE, read.rows[COVERAGE], read.start, read.end, ok, replaced)
    if read.rows[ORGANIZATION].num_rows:
        _write_organization(conn, read.rows[ORGANIZATION], read.start, read.end, read.by_account)


def _export_rows(exported: ExportedCommitments | None) -> dict[str, pa.Table]:
    read = exported.read if exported else None
    parts = {UTILIZATION: "utilization", COVERAGE: "coverage", ORGANIZATION: "organization"}
    return {
        name: in_schema(getattr(read, part), SCHEMAS[name]) if read else SCHEMAS[name].empty_table()
        for name, part in parts.items()
    }


def _write_export(
    conn: duckdb.DuckDBPyConnection, exported: ExportedCommitments, rows: dict[str, pa.Table]
) -> None:
    """Replace every account's figures of the days the export covers (it answers for all of them)."""
    for lo, hi in exported.read.windows if exported.read else []:
        days = {
            name: table.filter((pc.field("usage_date") >= lo) & (pc.field("usage_date") < hi))
            for name, table in rows.items()
        }
        _write(conn, UTILIZATION, days[UTILIZATION], lo, hi, None)
        _write(conn, COVERAGE, days[COVERAGE], lo, hi, None)
        _write_organization(conn, days[ORGANIZATION], lo, hi, True)


def _outcomes(
    known: Sequence[str], exported: ExportedCommitments | None, reads: Sequence[_CeRead]
) -> list[ScanOutcome]:
    """One outcome per account: a failed Cost Explorer read wins over the export's answer."""
    by_account = {}
    if exported is not None and exported.read is not None:
        by_account = {a: ScanOutcome(ScanTarget(a, "global"), "ok", "") for a in known}
    for read in reads:
        for o in read.outcomes:
            if o.status != "ok" or o.target.account_id not in by_account:
                by_account[o.target.account_id] = o
    return [by_account[a] for a in sorted(by_account)]


def build_commitment_usage(partitions: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    """The asset on the cost grains' daily partitions, built when the definitions load (as
    ``build_cost_assets``): a run over a range of days then covers both with one partition set."""

    @dg.asset(
        group_name=layers.RAW_SAVINGS,
        kinds={"aws", "duckdb"},
        owners=["team:finops"],
        pool="duckdb",
        # the inventory first: the export's reservations take their terms from it (lib/focus/commitments)
        deps=["aws_accounts", "commitment_inventory"],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        description="Daily Savings Plans and RI utilization and coverage per account, and the commitments "
        "with their terms, from Cost Explorer or the Data Export; a failed account keeps its days and is "
        "labelled.",
        metadata={
            **definition_metadata("commitment_usage"),
            "tables": f"{UTILIZATION}, {COVERAGE}",
        },
    )
    def commitment_usage(
        context: dg.AssetExecutionContext,
        aws: AwsResource,
        warehouse: WarehouseResource,
        cost_window: CostWindowResource,
        focus_export: FocusExportResource,
    ) -> dg.MaterializeResult:
        window = context.partition_time_window
        start, end = window.start.date(), min(window.end.date(), today_utc())
        if start >= end:
            return dg.MaterializeResult(
                metadata={**_day_metadata(), "window_days": 0, "note": "today's figures come tomorrow"}
            )
        daily = context.run.tags.get(REFRESH_TAG) == "daily"
        with aws.tracked() as calls:
            exported = read_export(aws, warehouse, focus_export, (start, end))
            spans = [(start, end)] if exported is None else exported.ce_spans
            reads = [_read_ce(aws, warehouse, cost_window, span, daily) for span in spans]
        with warehouse.connect() as conn:
            known = _accounts(conn, aws)
            export_rows = _export_rows(exported)
            if exported is not None and exported.read is not None:
                _write_export(conn, exported, export_rows)
            for read in reads:
                _write_ce(conn, read)
            outcomes = _outcomes(known, exported, reads)
            items = [sum(len(part) for part in (o.result or {}).values()) for o in outcomes]
            statuses = record_scan_status(conn, SOURCE, outcomes, items)
            record_api_calls(conn, context.run.run_id, context.asset_key.to_user_string(), calls)
            counted = row_count(conn, "commitment_usage")
            days = _daily_figures(conn, start, end)
        # Each partition carries its own day's figures (as the cost grains do), so the UI plots the daily
        # utilization; the window's figures go on one observation, not copied onto every day.
        for key in context.partition_keys:
            context.add_asset_metadata(days.get(key, _day_metadata()), partition_key=key)
        observed = _window_metadata(
            start, end, exported, export_rows, reads, outcomes, statuses, counted, calls
        )
        context.log_event(dg.AssetObservation(asset_key=context.asset_key, metadata=observed))
        return dg.MaterializeResult()

    return commitment_usage


def _window_metadata(
    start: dt.date, end: dt.date, exported: ExportedCommitments | None, export_rows: dict[str, pa.Table],
    reads: Sequence[_CeRead], outcomes: list[ScanOutcome], statuses: Any, counted: dict[str, int],
    calls: Any,
) -> dict[str, Any]:  # fmt: skip
    """The run's figures over its window: what it read (and how), from which source, and its dollars."""
    export = exported.read if exported is not None else None
    rows = {
        name: pa.concat_tables([export_rows[name], *(r.rows[name] for r in reads)])
        for name in (UTILIZATION, COVERAGE)
    }
    # The owners: every account with a utilization row, and those the Cost Explorer spans listed.
    owners = set(pc.unique(rows[UTILIZATION]["account_id"]).to_pylist())
    owners.update(*(read.kinds for read in reads))
    starts = [r.start for r in reads] + [lo for lo, _ in (export.windows if export else [])]
    metadata = _metadata(min(starts or [start]), end, rows, len(owners), outcomes, statuses, counted, calls)
    metadata |= {
        "detail_source": "data_export" if export else "cost_explorer",
        "export_days_read": sum((hi - lo).days for lo, hi in export.windows) if export else 0,
        "export_files_read": export.files if export else 0,
        "export_bytes_read": export.bytes_read if export else 0,
        "export_terms_unknown": export.unknown_terms if export else 0,
        "days_awaiting_export": exported.awaiting_days if exported else 0,
        "detail_source_fallback": exported.fallback if exported else "",
        "ce_requests_planned": sum(r.plan.requests for r in reads),
        "ce_requests_if_per_account": sum(r.plan.requests_per_account for r in reads),
    }
    if reads:
        first = reads[0]
        metadata |= {
            "utilization_read": "per day" if first.plan.utilization_by_day else "per account",
            "ri_coverage_read": "per day" if first.plan.ri_coverage_by_day else "per account",
            "sp_coverage_read": "per account" if first.by_account else "organisation-wide",
            # The daily refresh's older days whose organisation-wide figures had not moved: not read.
            "window_checked_start": first.range_start.isoformat(),
            "days_probed_unchanged": first.unchanged,
        }
    return metadata


DAILY_FIGURES_SQL = f"""
SELECT strftime(usage_date, '%Y-%m-%d'), count(*), sum(total_commitment), sum(used_commitment),
       sum(net_savings)
FROM {UTILIZATION} WHERE usage_date >= ? AND usage_date < ? GROUP BY 1
"""


def _day_metadata(
    rows: int = 0, total: Decimal = Decimal(0), used: Decimal = Decimal(0), net: Decimal = Decimal(0)
) -> dict[str, float | int]:
    """One partition's own figures, read back from the table (a day without commitments shows zeros)."""
    return {
        "dagster/row_count": rows,
        "commitment_usd": float(round(total, 2)),
        "used_commitment_usd": float(round(used, 2)),
        "net_savings_usd": float(round(net, 2)),
        "utilization_pct": float(round(100 * used / total, 2)) if total else 0.0,
    }


def _daily_figures(
    conn: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date
) -> dict[str, dict[str, Any]]:
    """Each day's utilization rows and dollars in ``[start, end)`` after the write, by partition key."""
    rows = conn.execute(DAILY_FIGURES_SQL, [start, end]).fetchall()
    return {day: _day_metadata(int(n), Decimal(t), Decimal(u), Decimal(v)) for day, n, t, u, v in rows}


def _metadata(
    start: dt.date,
    end: dt.date,
    rows: dict[str, pa.Table],
    owners: int,
    outcomes: list[ScanOutcome],
    statuses: Any,
    counted: dict[str, int],
    calls: Any,
) -> dict[str, Any]:
    used = rows[UTILIZATION]
    total = pc.sum(used["total_commitment"]).as_py() or Decimal(0)
    spent = pc.sum(used["used_commitment"]).as_py() or Decimal(0)
    return {
        "table_rows": counted["dagster/row_count"],
        "window_start": start.isoformat(),
        "window_end_exclusive": end.isoformat(),
        "window_rows": used.num_rows + rows[COVERAGE].num_rows,
        "commitment_owners": owners,
        "commitment_usd": float(round(total, 2)),
        "utilization_pct": float(round(100 * spent / total, 2)) if total else 0.0,
        "accounts_read": len(outcomes),
        "accounts_failed": len(outcomes) - statuses["ok"],
        **call_metadata(calls),
    }


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[build_commitment_usage(daily_partitions(load_settings()))])
