"""Dollar amounts as AWS sends them (strings or numbers) to the warehouse's DECIMAL(18, 6)."""

from decimal import Decimal
from typing import Any

MICRO = Decimal("0.000001")


def money(value: Any) -> Decimal | None:
    """``"12.3456789"`` -> ``Decimal("12.345679")``; None or "" (AWS leaves some fields blank) -> None."""
    return None if value in (None, "") else Decimal(str(value)).quantize(MICRO)
