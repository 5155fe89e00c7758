"""Cost Explorer emulator: answers the CE API (AWS JSON 1.1) from a synthetic World's ledger.

moto's CE only replays canned answers, so the sandbox computes real ones: the world's pyarrow tables
are loaded once into an in-memory DuckDB connection and every operation is answered with SQL.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import duckdb

from finops_sandbox.caller_scope import COST_VIEW_KEY
from finops_sandbox.cost_explorer.anomalies import AnomalyDetection
from finops_sandbox.cost_explorer.commitments import Commitments
from finops_sandbox.cost_explorer.common import DEFAULT_PAGE_SIZE, CEError
from finops_sandbox.cost_explorer.dimensions import derived_columns_sql, dimension_table
from finops_sandbox.cost_explorer.forecast import get_cost_forecast
from finops_sandbox.cost_explorer.query import CostQueries
from finops_sandbox.cost_explorer.recommendations import Recommendations
from finops_sandbox.cost_explorer.tags import CostAllocationTags

if TYPE_CHECKING:
    import datetime as dt

    from finops_sandbox.caller_scope import CostView
    from finops_sandbox.cost_explorer.ledger import CostLedger

log = logging.getLogger(__name__)

TARGET_PREFIX = "AWSInsightsIndexService."
_METRIC_COLUMNS = ("unblended_cost", "amortized_cost", "net_unblended_cost", "blended_cost", "usage_quantity")
# Ledger text columns stored as DuckDB ENUMs (created from sorted values, so they also sort as text):
# a fraction of the memory, and grouping / sorting on small integers instead of strings.
_ENUM_COLUMNS = ("account_id", "service", "region", "usage_type", "record_type", "workload_id")
# Pre-aggregated copies of the ledger, smallest first: a query reads the first one holding its columns.
# Rows are unique and stored sorted by the key columns. (A rollup without workload_id would be nearly as
# large as the ledger itself, whose grain is the dimensions plus the workload, so there is none.)
_ROLLUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ledger_das", ("usage_date", "account_id", "service")),
    ("ledger_as", ("usage_date", "account_id", "service", "record_type")),
)
_WORLD_TABLES = ("ledger", "workload_tags", "accounts", "anomalies", "resources")


class CostExplorerEmulator:
    """Answers Cost Explorer requests for `world`; thread-safe (one lock around the DuckDB connection).

    `world` is anything with the :class:`~finops_sandbox.cost_explorer.ledger.CostLedger` attributes
    (a ``World`` in the sandbox), so the emulator depends on a bill ledger, not on the world generator.
    """

    def __init__(self, world: CostLedger, *, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.world = world
        self.page_size = page_size
        self.lock = threading.RLock()
        self.con = duckdb.connect()
        self._sources: list[tuple[str, tuple[str, ...]]] = []
        self._load()
        self.account_names: dict[str, str] = dict(
            self.con.execute("SELECT account_id, account_name FROM accounts").fetchall()
        )
        self.tag_activation = CostAllocationTags(self)  # before the queries: tag grouping asks it
        self.costs = CostQueries(self)
        self.anomalies = AnomalyDetection(self)
        self.recommendations = recs = Recommendations(self)
        self.commitments = cm = Commitments(self)
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "GetCostAndUsage": self.costs.get_cost_and_usage,
            "GetDimensionValues": self.costs.get_dimension_values,
            "GetTags": self.costs.get_tags,
            "ListCostAllocationTags": self.tag_activation.list_cost_allocation_tags,
            "StartCostAllocationTagBackfill": self.tag_activation.start_backfill,
            "ListCostAllocationTagBackfillHistory": self.tag_activation.list_backfill_history,
            "GetCostForecast": lambda body: get_cost_forecast(self, body),
            "GetAnomalyMonitors": self.anomalies.get_anomaly_monitors,
            "GetAnomalies": self.anomalies.get_anomalies,
            "GetReservationPurchaseRecommendation": recs.get_reservation_purchase_recommendation,
            "GetSavingsPlansPurchaseRecommendation": recs.get_savings_plans_purchase_recommendation,
            "GetRightsizingRecommendation": recs.get_rightsizing_recommendation,
            "GetSavingsPlansUtilization": cm.get_savings_plans_utilization,
            "GetSavingsPlansUtilizationDetails": cm.get_savings_plans_utilization_details,
            "GetSavingsPlansCoverage": cm.get_savings_plans_coverage,
            "GetReservationUtilization": cm.get_reservation_utilization,
            "GetReservationCoverage": cm.get_reservation_coverage,
        }

    # ---------------------------------------------------------------- data
    def _load(self) -> None:
        """Copy the world's tables into DuckDB and build the rollups that keep big queries fast."""
        con = self.con
        for name in _WORLD_TABLES:
            con.register(f"arrow_{name}", getattr(self.world, name))
        for column in _ENUM_COLUMNS:
            con.execute(
                f"CREATE TYPE e_{column} AS ENUM (SELECT DISTINCT {column} FROM arrow_ledger "
                f"WHERE {column} IS NOT NULL ORDER BY 1)"
            )
        ledger_cols = [f.name for f in self.world.ledger.schema]
        select = ", ".join(
            f"CAST(l.{c} AS e_{c}) AS {c}" if c in _ENUM_COLUMNS else f"l.{c}" for c in ledger_cols
        )
        has_operation = "operation" in ledger_cols
        op = "operation" if has_operation else "CAST(NULL AS VARCHAR)"
        keys = con.execute(
            f"SELECT DISTINCT service, usage_type, {op}, record_type FROM arrow_ledger"
        ).fetchall()
        con.register("ledger_dims", dimension_table(keys))
        derived, join = derived_columns_sql(has_operation)
        # Every GroupBy dimension as a column (dimensions.py); the world's (day, account) order is kept.
        con.execute(
            f"CREATE TABLE ledger AS SELECT {select}, {derived} FROM arrow_ledger l {join} "
            "ORDER BY l.usage_date, l.account_id"
        )
        con.unregister("ledger_dims")
        # Tags of workloads without spend can never show in CE answers; the rest join the ledger's enum.
        con.execute(
            "CREATE TABLE workload_tags AS "
            "SELECT * REPLACE (TRY_CAST(workload_id AS e_workload_id) AS workload_id) "
            "FROM arrow_workload_tags WHERE TRY_CAST(workload_id AS e_workload_id) IS NOT NULL"
        )
        for name in ("accounts", "anomalies", "resources"):
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM arrow_{name}")
        for name in _WORLD_TABLES:
            con.unregister(f"arrow_{name}")
        sums = ", ".join(f"sum({c}) AS {c}" for c in _METRIC_COLUMNS)
        source = "ledger"
        for name, cols in reversed(_ROLLUPS):  # each rollup from the next larger one
            keys = ", ".join(cols)
            con.execute(
                f"CREATE TABLE {name} AS SELECT {keys}, {sums} FROM {source} GROUP BY ALL ORDER BY {keys}"
            )
            source = name
        columns = tuple(c[0] for c in con.execute("DESCRIBE ledger").fetchall())
        self._sources = [*_ROLLUPS, ("ledger", columns)]

    def source_for(self, columns: Iterable[str]) -> str:
        """The smallest table holding `columns` (plus usage_date and the metrics)."""
        need = set(columns) | {"usage_date"}
        return next(name for name, cols in self._sources if need <= set(cols))

    def rollup_keys(self, name: str) -> tuple[str, ...] | None:
        """Key columns of a rollup (its rows are unique and stored sorted by them); None for the ledger."""
        return next((cols for rollup, cols in _ROLLUPS if rollup == name), None)

    def check_history(self, start: dt.date) -> None:
        """AWS keeps 13 months plus the current one; older starts are a ValidationException."""
        if start < self.world.history_start:
            months = self.world.config.history_months + 1
            raise CEError(f"start date is too old, you can only get data from {months} months")

    def is_estimated(self, period_end: dt.date) -> bool:
        """A period is Estimated when it holds a day whose month's bill is not final yet.

        AWS's rule (``ResultByTime.Estimated`` in botocore's ce model, "Determines whether the result is
        estimated"): every day of the current month, and of the previous month until its bill is
        finalised in the first days of this one (``WorldConfig.bill_final_day``). A day can change while
        it is estimated, not only in the trailing three days.
        """
        return period_end > self.world.estimated_from

    # ---------------------------------------------------------------- protocol
    def handle(
        self, operation: str, body: dict[str, Any], view: CostView | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Answer one request: (HTTP status, JSON body).

        `view` is the caller's scope (sandbox/caller_scope.py); without one the caller is the management
        account and sees the whole organisation.
        """
        handler = self._operations.get(operation)
        if handler is None:
            return 400, {"__type": "UnknownOperationException", "Message": f"Unknown operation {operation}"}
        if not isinstance(body, dict):
            return 400, {"__type": "SerializationException", "Message": "Request body must be a JSON object"}
        try:
            if view is not None:
                body, _accounts = view.apply(operation, body)
                if view.role != "management" and operation in ("GetAnomalies", "GetAnomalyMonitors"):
                    # Cost Anomaly Detection takes no billing view: a member reads its own monitors only.
                    method = getattr(
                        self.anomalies,
                        "get_anomalies" if operation == "GetAnomalies" else "get_anomaly_monitors",
                    )
                    return 200, method(body, view.caller)
            return 200, handler(body)
        except CEError as exc:
            return 400, {"__type": exc.error_type, "Message": exc.message, "message": exc.message}

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """WSGI entry point speaking AWS JSON 1.1 (operation from the X-Amz-Target header)."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else target
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            body = json.loads(raw) if raw.strip() else {}
            status, answer = self.handle(operation, body, environ.get(COST_VIEW_KEY))
        except (ValueError, UnicodeDecodeError):
            status, answer = 400, {"__type": "SerializationException", "Message": "Malformed JSON body"}
        except Exception:
            log.exception("Cost Explorer emulator failed on %s", operation)
            status, answer = 500, {"__type": "InternalServerException", "Message": "Internal error"}
        payload = json.dumps(answer).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ]
        if status != 200:
            headers.append(("x-amzn-ErrorType", answer["__type"]))
        reason = {200: "OK", 400: "Bad Request", 500: "Internal Server Error"}[status]
        start_response(f"{status} {reason}", headers)
        return [payload]
