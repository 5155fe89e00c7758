"""GetCostAndUsage, GetDimensionValues and GetTags: SQL over the ledger loaded in DuckDB.

Aggregation happens once per distinct request (cached, bounded LRU); every page is then a slice of the
sorted Arrow result, so paging through a large answer costs one aggregation plus cheap slices.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from finops_sandbox.cost_explorer.common import (
    DIMENSION_COLUMNS,
    METRIC_SQL,
    USAGE_METRICS,
    CEError,
    fingerprint,
    fmt_amount,
    page_bounds,
    page_size_arg,
    parse_interval,
)
from finops_sandbox.cost_explorer.dimensions import GROUP_BY_DIMENSIONS, placeholder_values
from finops_sandbox.cost_explorer.filter import ActiveFrom, FilterTranslator

if TYPE_CHECKING:
    from finops_sandbox.cost_explorer.emulator import CostExplorerEmulator

_CACHE_ENTRIES = 16
_CACHE_ROWS = 20_000_000  # bound on rows held by cached answers (memory, at ~50-100 bytes a row)
_translate = FilterTranslator(DIMENSION_COLUMNS)


def expression_columns(expression: Any) -> set[str]:
    """Ledger columns an Expression reads: picks the smallest pre-aggregated table that can answer."""
    if not isinstance(expression, dict):
        return set()
    cols: set[str] = set()
    for kind, spec in expression.items():
        if kind in ("And", "Or") and isinstance(spec, list):
            for sub in spec:
                cols |= expression_columns(sub)
        elif kind == "Not":
            cols |= expression_columns(spec)
        elif kind == "Dimensions" and isinstance(spec, dict) and spec.get("Key") in DIMENSION_COLUMNS:
            cols.add(DIMENSION_COLUMNS[spec["Key"]])
        elif kind == "Tags":
            cols.add("workload_id")
    return cols


def periods_of(start: dt.date, end: dt.date, granularity: str) -> list[tuple[dt.date, dt.date]]:
    """CE result periods: days, or calendar months clipped to [start, end)."""
    if granularity == "DAILY":
        return [(start + dt.timedelta(d), start + dt.timedelta(d + 1)) for d in range((end - start).days)]
    periods = []
    cur = start
    while cur < end:
        nxt = dt.date(cur.year + cur.month // 12, cur.month % 12 + 1, 1)
        periods.append((cur, min(nxt, end)))
        cur = nxt
    return periods


@dataclass(frozen=True)
class _Group:
    """One GroupBy definition resolved to SQL."""

    type: str
    key: str
    column: str | None  # ledger column for DIMENSION, None for TAG


@dataclass
class _Aggregate:
    """A fully aggregated GetCostAndUsage answer, sorted by (period, keys); pages slice `rows`."""

    periods: list[tuple[dt.date, dt.date]]
    offsets: list[int]  # first row of each period in `rows`
    counts: list[int]
    rows: pa.Table | None  # grouped requests
    totals: list[dict[str, Decimal]] | None  # ungrouped requests

    @property
    def total_rows(self) -> int:
        return 0 if self.rows is None else self.rows.num_rows


class CostQueries:
    """The cost-reading operations of the emulator."""

    def __init__(self, emulator: CostExplorerEmulator) -> None:
        self.em = emulator
        self._cache: OrderedDict[str, _Aggregate] = OrderedDict()

    # ---------------------------------------------------------------- GetCostAndUsage
    def get_cost_and_usage(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = parse_interval(body.get("TimePeriod"))
        self.em.check_history(start)
        granularity = body.get("Granularity")
        if granularity is None:
            raise CEError("Granularity is required")
        if granularity == "HOURLY":
            raise CEError("Hourly granularity is not enabled for this account")
        if granularity not in ("DAILY", "MONTHLY"):
            raise CEError(f"Invalid Granularity {granularity!r}: must be DAILY, MONTHLY or HOURLY")
        metrics = body.get("Metrics")
        if not isinstance(metrics, list) or not metrics:
            raise CEError("Metrics is required and must be a non-empty list")
        bad = [m for m in metrics if m not in METRIC_SQL]
        if bad:
            raise CEError(f"Invalid metrics: {bad}. Valid metrics are {sorted(METRIC_SQL)}")
        metrics = list(dict.fromkeys(metrics))
        groups = self._groups(body.get("GroupBy"))
        filter_sql, filter_params = _translate(body.get("Filter"), self.em.tag_activation.active_from)

        key = fingerprint(body, "NextPageToken")
        with self.em.lock:
            agg = self._cache.get(key)
            if agg is None:
                agg = self._aggregate(
                    start, end, granularity, metrics, groups, body, filter_sql, filter_params
                )
                self._remember(key, agg)
            else:
                self._cache.move_to_end(key)
        answer: dict[str, Any] = {}
        if groups:
            lo, hi, token = page_bounds(body, key, agg.total_rows, self.em.page_size)
            results, accounts = self._grouped_page(agg, lo, hi, metrics, groups)
            answer["GroupDefinitions"] = [{"Type": g.type, "Key": g.key} for g in groups]
            if token:
                answer["NextPageToken"] = token
        else:
            if body.get("NextPageToken") is not None:
                raise CEError("Invalid NextPageToken")
            results, accounts = self._ungrouped(agg, metrics), set()
        answer["ResultsByTime"] = results
        answer["DimensionValueAttributes"] = [
            {"Value": a, "Attributes": {"description": self.em.account_names.get(a, "")}}
            for a in sorted(accounts)
        ]
        return answer

    def _groups(self, group_by: Any) -> list[_Group]:
        if group_by is None:
            return []
        if not isinstance(group_by, list):
            raise CEError("GroupBy must be a list")
        if len(group_by) > 2:
            raise CEError("You can only group by up to two dimensions, tags or cost categories")
        groups = []
        for g in group_by:
            gtype, gkey = (g.get("Type"), g.get("Key")) if isinstance(g, dict) else (None, None)
            if gtype == "DIMENSION":
                if gkey not in GROUP_BY_DIMENSIONS:
                    raise CEError(
                        "Group Definition dimension is invalid. Valid values are "
                        + ", ".join(GROUP_BY_DIMENSIONS)
                    )
                groups.append(_Group(gtype, gkey, DIMENSION_COLUMNS[gkey]))
            elif gtype == "TAG" and isinstance(gkey, str) and gkey:
                groups.append(_Group(gtype, gkey, None))
            elif gtype == "COST_CATEGORY":
                raise CEError(f"Cost category {gkey!r} does not exist")
            else:
                raise CEError(f"Invalid GroupBy definition {g!r}")
        if len({(g.type, g.key) for g in groups}) < len(groups):
            raise CEError("GroupBy must not repeat a dimension or tag key")
        return groups

    def _aggregate(
        self,
        start: dt.date,
        end: dt.date,
        granularity: str,
        metrics: list[str],
        groups: list[_Group],
        body: dict[str, Any],
        filter_sql: str,
        filter_params: list[Any],
    ) -> _Aggregate:
        periods = periods_of(start, end, granularity)
        needed = expression_columns(body.get("Filter")) | {g.column or "workload_id" for g in groups}
        source = self.em.source_for(needed)
        inner = f"SELECT * FROM {source} WHERE usage_date >= ? AND usage_date < ? AND ({filter_sql})"
        inner_params = [start, end, *filter_params]
        group_columns = [g.column for g in groups]
        rollup_keys = self.em.rollup_keys(source)
        if granularity == "DAILY" and groups and rollup_keys and set(rollup_keys[1:]) == set(group_columns):
            # The rollup already holds one row per (day, group): no aggregation, and when the GroupBy
            # order is the rollup's key order the scan order (insertion order) is already the answer's.
            values = ", ".join(f"{METRIC_SQL[m]} AS m{i}" for i, m in enumerate(metrics))
            keys = ", ".join(f"{c} AS k{i}" for i, c in enumerate(group_columns))
            order = (
                ""
                if tuple(group_columns) == rollup_keys[1:]
                else " ORDER BY " + ", ".join(["p", *(f"k{i}" for i in range(len(groups)))])
            )
            sql = f"SELECT usage_date AS p, {keys}, {values} FROM ({inner}){order}"
            params = inner_params
        else:
            sql, params = self._aggregate_sql(
                self.em.tag_activation.active_from, start, granularity, metrics, groups, inner, inner_params
            )
        table = self.em.con.sql(sql, params=params).to_arrow_table()
        index = {p[0]: i for i, p in enumerate(periods)}
        counts = [0] * len(periods)
        if groups:
            for item in pc.value_counts(table.column("p")).to_pylist():
                counts[index[item["values"]]] = item["counts"]
            offsets, run = [], 0
            for c in counts:
                offsets.append(run)
                run += c
            return _Aggregate(periods, offsets, counts, table, None)
        totals = [dict.fromkeys(metrics, Decimal(0)) for _ in periods]
        for row in table.to_pylist():
            totals[index[row["p"]]] = {m: row[f"m{i}"] or Decimal(0) for i, m in enumerate(metrics)}
        return _Aggregate(periods, [0] * len(periods), counts, None, totals)

    @staticmethod
    def _aggregate_sql(
        active_from: ActiveFrom,
        start: dt.date,
        granularity: str,
        metrics: list[str],
        groups: list[_Group],
        inner: str,
        inner_params: list,
    ) -> tuple[str, list[Any]]:
        """GROUP BY (period, keys) over the filtered source, sorted; tag keys via a join on workload_id."""
        period_sql, period_params = (
            ("usage_date", [])
            if granularity == "DAILY"
            else ("greatest(CAST(date_trunc('month', usage_date) AS DATE), CAST(? AS DATE))", [start])
        )
        sums = ", ".join(f"sum({METRIC_SQL[m]}) AS m{i}" for i, m in enumerate(metrics))
        keys, key_params, joins, join_params = [], [], [], []
        for i, g in enumerate(groups):
            if g.column:
                keys.append(f"s.{g.column} AS k{i}")
            else:
                joins.append(
                    f"LEFT JOIN (SELECT workload_id, min(value) AS value FROM workload_tags WHERE key = ? "
                    f"GROUP BY workload_id) t{i} ON t{i}.workload_id = s.workload_id"
                )
                join_params.append(g.key)
                # An inactive key (NULL), and any key before its activation, groups as `Key$` (ce_tags).
                keys.append(
                    f"CASE WHEN s.usage_date >= CAST(? AS DATE) THEN coalesce(t{i}.value, '') ELSE '' END "
                    f"AS k{i}"
                )
                key_params.append(active_from(g.key))
        select_keys = "".join(f", {k}" for k in keys)
        group_cols = ", ".join(["p", *(f"k{i}" for i in range(len(groups)))])
        sql = (
            f"SELECT {period_sql} AS p{select_keys}, {sums} FROM ({inner}) s {' '.join(joins)} "
            f"GROUP BY {group_cols} ORDER BY {group_cols}"
        )
        return sql, [*period_params, *key_params, *inner_params, *join_params]

    def forget(self) -> None:
        """Drop every cached answer (the data an answer depends on changed, e.g. a tag backfill)."""
        with self.em.lock:
            self._cache.clear()

    def _remember(self, key: str, agg: _Aggregate) -> None:
        self._cache[key] = agg
        while len(self._cache) > 1 and (
            len(self._cache) > _CACHE_ENTRIES or sum(a.total_rows for a in self._cache.values()) > _CACHE_ROWS
        ):
            self._cache.popitem(last=False)

    def _metric_values(self, metrics: list[str], values: Iterator[Decimal | None]) -> dict[str, Any]:
        return {
            m: {"Amount": fmt_amount(v), "Unit": "N/A" if m in USAGE_METRICS else "USD"}
            for m, v in zip(metrics, values, strict=True)
        }

    def _ungrouped(self, agg: _Aggregate, metrics: list[str]) -> list[dict[str, Any]]:
        assert agg.totals is not None
        return [
            {
                "TimePeriod": {"Start": p[0].isoformat(), "End": p[1].isoformat()},
                "Total": self._metric_values(metrics, (t[m] for m in metrics)),
                "Groups": [],
                "Estimated": self.em.is_estimated(p[1]),
            }
            for p, t in zip(agg.periods, agg.totals, strict=True)
        ]

    def _grouped_page(
        self, agg: _Aggregate, lo: int, hi: int, metrics: list[str], groups: list[_Group]
    ) -> tuple[list[dict[str, Any]], set[str]]:
        """ResultsByTime for rows [lo, hi); an empty period goes to the page holding its position."""
        assert agg.rows is not None
        total = agg.total_rows
        rows = agg.rows.slice(lo, hi - lo).to_pylist()
        account_key = next((f"k{i}" for i, g in enumerate(groups) if g.key == "LINKED_ACCOUNT"), None)
        accounts: set[str] = set()
        results = []
        for i, period in enumerate(agg.periods):
            first, count = agg.offsets[i], agg.counts[i]
            if count:
                a, b = max(first, lo), min(first + count, hi)
                if a >= b:
                    continue
            elif not (lo <= first < hi or (first == total and hi == total)):
                continue
            else:
                a = b = first
            page_groups = []
            for row in rows[a - lo : b - lo]:
                keys = [row[f"k{j}"] if g.column else f"{g.key}${row[f'k{j}']}" for j, g in enumerate(groups)]
                page_groups.append(
                    {
                        "Keys": keys,
                        "Metrics": self._metric_values(metrics, (row[f"m{j}"] for j in range(len(metrics)))),
                    }
                )
                if account_key:
                    accounts.add(row[account_key])
            results.append(
                {
                    "TimePeriod": {"Start": period[0].isoformat(), "End": period[1].isoformat()},
                    "Total": {},
                    "Groups": page_groups,
                    "Estimated": self.em.is_estimated(period[1]),
                }
            )
        return results, accounts

    # ---------------------------------------------------------------- GetDimensionValues / GetTags
    def _sort_sql(self, body: dict[str, Any]) -> str | None:
        sort_by = body.get("SortBy")
        if not sort_by:
            return None
        parts = []
        for item in sort_by if isinstance(sort_by, list) else [None]:
            key = item.get("Key") if isinstance(item, dict) else None
            order = item.get("SortOrder", "ASCENDING") if isinstance(item, dict) else None
            if key not in METRIC_SQL or order not in ("ASCENDING", "DESCENDING"):
                raise CEError(f"Invalid SortBy {item!r}")
            parts.append(f"sum({METRIC_SQL[key]}) {'DESC' if order == 'DESCENDING' else 'ASC'}")
        return ", ".join(parts)

    def _listing(
        self, body: dict[str, Any], sql: str, params: list[Any]
    ) -> tuple[list[Any], str | None, int]:
        """Run a value-listing query and cut the page the request asks for."""
        size = page_size_arg(body, "MaxResults", 1000, 1000) if body.get("MaxResults") is not None else 1000
        size = min(size, self.em.page_size)
        with self.em.lock:
            values = self.em.con.execute(sql, params).fetchall()
        key = fingerprint(body, "NextPageToken")
        lo, hi, token = page_bounds(body, key, len(values), size)
        return values[lo:hi], token, len(values)

    def get_dimension_values(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = parse_interval(body.get("TimePeriod"))
        self.em.check_history(start)
        dimension = body.get("Dimension")
        if dimension not in DIMENSION_COLUMNS:
            raise CEError(f"Dimension {dimension!r} is not supported; supported: {sorted(DIMENSION_COLUMNS)}")
        if body.get("Context", "COST_AND_USAGE") not in ("COST_AND_USAGE", "RESERVATIONS", "SAVINGS_PLANS"):
            raise CEError(f"Invalid Context {body.get('Context')!r}")
        column = DIMENSION_COLUMNS[dimension]
        filter_sql, params = _translate(body.get("Filter"), self.em.tag_activation.active_from)
        source = self.em.source_for(expression_columns(body.get("Filter")) | {column})
        search = body.get("SearchString")
        search_sql = ""
        if search:
            search_sql = f" AND (contains(lower({column}), lower(?))"
            params = [*params, search]
            if dimension == "LINKED_ACCOUNT":  # AWS matches account names as well as ids
                search_sql += (
                    f" OR {column} IN (SELECT account_id FROM accounts"
                    " WHERE contains(lower(account_name), lower(?)))"
                )
                params.append(search)
            search_sql += ")"
        order = self._sort_sql(body) or "v"
        # A `No<Dimension>` key groups spend without the attribute; it is not a value of the dimension.
        absent = ", ".join(f"'{v}'" for v in placeholder_values())
        sql = (
            f"SELECT {column} AS v FROM {source} WHERE usage_date >= ? AND usage_date < ? AND ({filter_sql})"
            f"{search_sql} AND {column} NOT IN ({absent}) GROUP BY v ORDER BY {order}, v"
        )
        page, token, total = self._listing(body, sql, [start, end, *params])
        values = [
            {
                "Value": v,
                "Attributes": {"description": self.em.account_names.get(v, "")}
                if column == "account_id"
                else {},
            }
            for (v,) in page
        ]
        answer: dict[str, Any] = {"DimensionValues": values, "ReturnSize": len(values), "TotalSize": total}
        if token:
            answer["NextPageToken"] = token
        return answer

    def get_tags(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = parse_interval(body.get("TimePeriod"))
        self.em.check_history(start)
        tag_key = body.get("TagKey")
        filter_sql, params = _translate(body.get("Filter"), self.em.tag_activation.active_from)
        self._sort_sql(body)  # validated only: keys and values are listed alphabetically
        # Only active cost allocation tags, with spend on days since their activation (see ce_tags).
        spend = (
            "SELECT DISTINCT workload_id FROM ledger WHERE usage_date >= greatest(CAST(? AS DATE), "
            "a.active_from) AND usage_date < ? "
            f"AND workload_id IS NOT NULL AND ({filter_sql})"
        )
        params = [start, end, *params]
        column = "value" if tag_key else "key"
        where = f"t.workload_id IN ({spend})"
        if tag_key:
            where += " AND t.key = ?"
            params.append(tag_key)
        if body.get("SearchString"):
            where += f" AND contains(lower(t.{column}), lower(?))"
            params.append(body["SearchString"])
        sql = (
            f"SELECT DISTINCT t.{column} FROM workload_tags t JOIN tag_active_from a USING (key) "
            f"WHERE {where} AND t.{column} <> '' ORDER BY 1"
        )
        page, token, total = self._listing(body, sql, params)
        answer: dict[str, Any] = {"Tags": [v for (v,) in page], "ReturnSize": len(page), "TotalSize": total}
        if token:
            answer["NextPageToken"] = token
        return answer
