"""The resource-grain marts of the FOCUS export: spend coverage by the tag policy, and showback by one key.

Both read the AWS rows of raw.focus_cost only (the export may hold other clouds' rows) and weigh by
``EffectiveCost`` (commitments amortised, what a team consumed). The tag policy is the project's
(``TagRules``: required keys, allowed values, case mode); a row meets it when its ``Tags`` carry every
required key with a non-blank value, allowed where the policy lists values. Exempt resource types are
Tagging API types (``ec2:snapshot``) that FOCUS's ``ResourceType`` does not spell, so they do not apply.
Showback splits a period's whole bill: the key's values, ``untagged`` (resource cost without the key) and
``shared`` (rows of no resource without the key: tax, support, commitment fees, credits).
"""

from __future__ import annotations

import duckdb

from finops_pipeline.lib.tag_rules import TagRules
from finops_pipeline.warehouse import transaction

AWS_ROWS = """
SELECT billing_period, ServiceName, ResourceType, ResourceId, EffectiveCost, BilledCost,
    CASE WHEN $insensitive
         THEN map_from_entries(list_transform(map_entries(CAST(Tags AS MAP(VARCHAR, VARCHAR))),
                                              lambda e: {'key': lower(e.key), 'value': e.value}))
         ELSE CAST(Tags AS MAP(VARCHAR, VARCHAR)) END AS tag_map
FROM raw.focus_cost WHERE ProviderName = 'AWS' AND billing_period IN (SELECT unnest($periods))
"""
COVERAGE_SQL = f"""
WITH rows AS ({AWS_ROWS}),
judged AS (
    SELECT *, coalesce(list_bool_and(list_transform(range(1, len($keys) + 1), lambda i:
        coalesce(trim(tag_map[$keys[i]]) <> ''
                 AND ($allowed[i] IS NULL OR list_contains($allowed[i], tag_map[$keys[i]])), false))), false)
        AS tagged
    FROM rows
),
base AS (  -- the resource grain first: each row's tag map is judged once, the three dimensions share it
    SELECT billing_period, ServiceName, ResourceType, ResourceId, tagged, sum(EffectiveCost) AS cost
    FROM judged GROUP BY ALL
),
dims AS (
    SELECT billing_period, 'service' AS dimension, ServiceName AS dimension_value, ResourceId, tagged, cost
    FROM base
    UNION ALL
    SELECT billing_period, 'resource_type', coalesce(ResourceType, '(no type)'), ResourceId, tagged, cost
    FROM base
    UNION ALL
    SELECT billing_period, 'resource', coalesce(ResourceId, '(no resource)'), ResourceId, tagged, cost
    FROM base
)
SELECT billing_period, dimension, dimension_value, count(DISTINCT ResourceId) AS resources,
    sum(cost) AS effective_cost,
    coalesce(sum(cost) FILTER (WHERE tagged), 0) AS tagged_cost,
    coalesce(sum(cost) FILTER (WHERE NOT tagged), 0) AS untagged_cost,
    CASE WHEN sum(cost) <> 0 THEN 100.0 * coalesce(sum(cost) FILTER (WHERE tagged), 0) / sum(cost) END
        AS coverage_pct
FROM dims GROUP BY billing_period, dimension, dimension_value
"""
SHOWBACK_SQL = f"""
WITH rows AS ({AWS_ROWS}),
valued AS (
    SELECT *, nullif(trim(tag_map[$key]), '') AS value FROM rows
),
allocated AS (
    SELECT billing_period,
        CASE WHEN value IS NOT NULL THEN 'tagged'
             WHEN ResourceId IS NOT NULL THEN 'untagged' ELSE 'shared' END AS allocation,
        coalesce(value, '') AS tag_value, EffectiveCost, BilledCost, ResourceId
    FROM valued
)
SELECT billing_period, $shown_key AS tag_key, allocation, tag_value,
    sum(EffectiveCost) AS effective_cost, sum(BilledCost) AS billed_cost,
    count(DISTINCT ResourceId) AS resources,
    CASE WHEN sum(sum(EffectiveCost)) OVER (PARTITION BY billing_period) <> 0
         THEN 100.0 * sum(EffectiveCost) / sum(sum(EffectiveCost)) OVER (PARTITION BY billing_period) END
        AS share_pct
FROM allocated GROUP BY billing_period, allocation, tag_value
"""


def _policy_params(rules: TagRules) -> dict[str, object]:
    insensitive = rules.key_case_mode == "insensitive"
    keys = [k.lower() if insensitive else k for k in rules.required_keys]
    return {
        "insensitive": insensitive,
        "keys": keys,
        "allowed": [
            list(v) if (v := rules.allowed_for(k)) is not None else None for k in rules.required_keys
        ],
    }


# The billing periods a run of partitions rebuilds: the partitions themselves and every period of the rows
# of their files (a hand copy in one partition, its first period, may hold several months).
ROW_PERIODS_SQL = """
SELECT DISTINCT c.billing_period FROM raw.focus_cost c JOIN raw.focus_files f USING (source_file)
WHERE f.billing_period IN (SELECT unnest($periods))
"""


def _replace_periods(
    conn: duckdb.DuckDBPyConnection, table: str, sql: str, params: dict[str, object]
) -> None:
    """The rows of the partitions ``params['periods']`` in ``table`` rebuilt from ``sql``; other periods
    are untouched."""
    found = [p for (p,) in conn.execute(ROW_PERIODS_SQL, {"periods": params["periods"]}).fetchall()]
    periods = sorted({*params["periods"], *found})
    with transaction(conn):
        conn.execute(
            f"DELETE FROM {table} WHERE billing_period IN (SELECT unnest($periods))", {"periods": periods}
        )
        conn.execute(f"INSERT INTO {table} BY NAME {sql}", {**params, "periods": periods})


def write_spend_coverage(conn: duckdb.DuckDBPyConnection, rules: TagRules, periods: list[str]) -> None:
    """Rebuild marts.focus_spend_coverage for the billing periods ``periods`` (the run's partitions)."""
    params = {**_policy_params(rules), "periods": periods}
    _replace_periods(conn, "marts.focus_spend_coverage", COVERAGE_SQL, params)


def write_showback(conn: duckdb.DuckDBPyConnection, tag_key: str, case_mode: str, periods: list[str]) -> None:
    """Rebuild marts.focus_showback for ``tag_key`` (matched case-insensitively in insensitive mode) and
    the billing periods ``periods``."""
    insensitive = case_mode == "insensitive"
    params = {
        "insensitive": insensitive,
        "key": tag_key.lower() if insensitive else tag_key,
        "shown_key": tag_key,
        "periods": periods,
    }
    _replace_periods(conn, "marts.focus_showback", SHOWBACK_SQL, params)
