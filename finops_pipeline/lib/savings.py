"""How savings add up: the one place that says RI and Savings Plans offers are never summed."""

from collections.abc import Mapping

PURCHASE_KINDS = ("reserved_instances", "savings_plans")


def total_monthly_savings(by_kind: Mapping[str, float]) -> float:
    """Every kind's monthly savings, with the larger of the RI and Savings Plans offers only.

    Both offers would cover the same usage, so buying both saves no more than the better one.
    """
    purchases = max((float(by_kind.get(kind) or 0.0) for kind in PURCHASE_KINDS), default=0.0)
    return sum(float(usd or 0.0) for kind, usd in by_kind.items() if kind not in PURCHASE_KINDS) + purchases
