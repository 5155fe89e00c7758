"""Translate CE filter `Expression`s into parameterised SQL predicates.

Values are always bound parameters: a filter comes straight from a client request and must never be
able to change the SQL text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from finops_sandbox.cost_explorer.common import CEError

ActiveFrom = Callable[[str], dt.date | None]

_EXPRESSION_KEYS = ("And", "Or", "Not", "Dimensions", "Tags", "CostCategories")
_VALUE_OPTIONS = {"EQUALS", "STARTS_WITH", "ENDS_WITH", "CONTAINS"}
_CASE_OPTIONS = {"CASE_SENSITIVE", "CASE_INSENSITIVE"}
# Workloads carrying tag key ? (optionally with one of a set of values): the spend a tag filter selects.
_TAGGED = "SELECT workload_id FROM workload_tags WHERE key = ?"
# The row's day is on or after the key's activation (a NULL activation, an inactive key, is never).
_ACTIVE = "coalesce(usage_date >= CAST(? AS DATE), FALSE)"


def _options(spec: dict[str, Any], allowed: set[str]) -> set[str]:
    options = spec.get("MatchOptions") or ["EQUALS"]
    if not isinstance(options, list) or not set(options) <= allowed:
        raise CEError(f"Unsupported MatchOptions {options!r}; allowed: {sorted(allowed)}")
    return set(options)


def _values(spec: dict[str, Any], what: str) -> list[str]:
    values = spec.get("Values")
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise CEError(f"{what}: Values must be a non-empty list of strings")
    return values


def _match(column: str, values: list[str], options: set[str]) -> tuple[str, list[Any]]:
    """`column` matched against `values` under CE's MatchOptions (EQUALS / STARTS_WITH / ...)."""
    insensitive = "CASE_INSENSITIVE" in options
    col = f"lower({column})" if insensitive else column
    vals = [v.lower() for v in values] if insensitive else list(values)
    modes = options & _VALUE_OPTIONS or {"EQUALS"}
    if len(modes) > 1:
        raise CEError(f"MatchOptions may hold only one of {sorted(_VALUE_OPTIONS)}")
    mode = modes.pop()
    if mode == "EQUALS":
        return f"{col} IN ({', '.join('?' * len(vals))})", vals
    func = {"STARTS_WITH": "starts_with", "ENDS_WITH": "suffix", "CONTAINS": "contains"}[mode]
    return "(" + " OR ".join(f"{func}({col}, ?)" for _ in vals) + ")", vals


class FilterTranslator:
    """Turns an Expression into (sql, params) over a table whose CE dimensions map to `columns`.

    `workload_column` names the column that joins to `workload_tags`; without it tag filters are
    rejected (the table carries no tag information).
    """

    def __init__(self, columns: dict[str, str], workload_column: str | None = "workload_id") -> None:
        self.columns = columns
        self.workload_column = workload_column

    def __call__(
        self, expression: dict[str, Any] | None, active_from: ActiveFrom | None = None
    ) -> tuple[str, list[Any]]:
        """`active_from(key)`: first usage day a tag key is active (None: inactive); omitted: always.

        With it the table needs a ``usage_date`` column: an inactive key's spend, and its spend before
        activation, carries no value of the key (Cost Explorer's ``Key$``), see ``ce_tags``.
        """
        if expression is None:
            return "TRUE", []
        return self._expr(expression, active_from)

    def _expr(self, expression: Any, active_from: ActiveFrom | None = None) -> tuple[str, list[Any]]:
        if not isinstance(expression, dict):
            raise CEError("Filter expression must be an object")
        present = [k for k in _EXPRESSION_KEYS if expression.get(k) is not None]
        unknown = set(expression) - set(_EXPRESSION_KEYS) - {"ProductAttributes"}
        if unknown or len(present) != 1:
            raise CEError(
                "Expression must contain exactly one of And, Or, Not, Dimensions, Tags, CostCategories"
            )
        kind = present[0]
        spec = expression[kind]
        if kind in ("And", "Or"):
            if not isinstance(spec, list) or len(spec) < 2:
                raise CEError(f"{kind} expression must contain at least two expressions")
            parts = [self._expr(e, active_from) for e in spec]
            sql = f" {kind.upper()} ".join(f"({p[0]})" for p in parts)
            return sql, [v for p in parts for v in p[1]]
        if kind == "Not":
            sql, params = self._expr(spec, active_from)
            return f"NOT ({sql})", params
        if kind == "Dimensions":
            return self._dimension(spec)
        if kind == "Tags":
            return self._tag(spec, active_from)
        raise CEError(f"Cost category {spec.get('Key')!r} does not exist")

    def _dimension(self, spec: dict[str, Any]) -> tuple[str, list[Any]]:
        key = spec.get("Key")
        if key not in self.columns:
            raise CEError(f"Dimension {key} is not supported here; supported: {sorted(self.columns)}")
        options = _options(spec, _VALUE_OPTIONS | _CASE_OPTIONS)
        return _match(self.columns[key], _values(spec, f"Dimension {key}"), options)

    def _tag(self, spec: dict[str, Any], active_from: ActiveFrom | None) -> tuple[str, list[Any]]:
        if self.workload_column is None:
            raise CEError("Tag filters are not supported for this operation")
        key = spec.get("Key")
        if not isinstance(key, str) or not key:
            raise CEError("Tags filter needs a Key")
        options = _options(spec, _VALUE_OPTIONS | _CASE_OPTIONS | {"ABSENT"})
        wl = self.workload_column
        # Spend on days the key is active as a cost allocation tag; elsewhere it has no value.
        active_sql: str = "TRUE"
        active_params: list[Any] = []
        if active_from is not None:
            active_sql, active_params = _ACTIVE, [active_from(key)]
        absent = (
            f"(NOT ({active_sql}) OR {wl} IS NULL OR {wl} NOT IN ({_TAGGED}))",
            [*active_params, key],
        )
        if "ABSENT" in options:
            return absent
        values = spec.get("Values")
        if not values:  # a key with no values selects spend carrying the key, whatever its value
            return f"({active_sql}) AND {wl} IN ({_TAGGED})", [*active_params, key]
        values = _values(spec, f"Tag {key}")
        # CE treats an empty tag value as "spend without the tag" (the `Key$` group).
        present = [v for v in values if v != ""]
        parts: list[tuple[str, list[Any]]] = []
        if present:
            cond, params = _match("value", present, options)
            parts.append(
                (f"({active_sql}) AND {wl} IN ({_TAGGED} AND {cond})", [*active_params, key, *params])
            )
        if len(present) < len(values):
            parts.append(absent)
        return " OR ".join(f"({p[0]})" for p in parts), [v for p in parts for v in p[1]]
