"""Shared pieces of the Cost Explorer emulator: errors, argument parsing, formatting, page tokens."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from finops_sandbox.cost_explorer.dimensions import DIMENSION_COLUMNS as _DIMENSION_COLUMNS

# CE metric name -> SQL over the ledger's decimal(18, 6) columns (sums stay exact decimals in DuckDB).
METRIC_SQL: dict[str, str] = {
    "UnblendedCost": "unblended_cost",
    "AmortizedCost": "amortized_cost",
    "NetUnblendedCost": "net_unblended_cost",
    "BlendedCost": "blended_cost",
    "UsageQuantity": "usage_quantity",
    # Approximations: the ledger has no separate net-amortized or normalized columns.
    "NetAmortizedCost": "(amortized_cost + net_unblended_cost - unblended_cost)",
    "NormalizedUsageAmount": "usage_quantity",
}
USAGE_METRICS = {"UsageQuantity", "NormalizedUsageAmount"}

# CE dimension -> ledger column: see dimensions.py (every dimension botocore documents for GroupBy).
DIMENSION_COLUMNS = _DIMENSION_COLUMNS


# Groups (GetCostAndUsage) or values (GetDimensionValues, GetTags) per page unless the caller asks for
# fewer. AWS documents no page size for GetCostAndUsage ("AWS provides the token when the response from a
# previous call has more results than the maximum page size", API_GetCostAndUsage) and caps
# GetDimensionValues at 1000 per page (its MaxResults: "an upper limit of 1000"); 1000 is that documented
# figure, small enough that the default world's daily answers take several pages, so a client that never
# follows NextPageToken loses rows here as it would against AWS (5000 hid that).
DEFAULT_PAGE_SIZE = 1000


class CEError(Exception):
    """An AWS-style client error: answered as HTTP 400 with `__type` and `Message`."""

    def __init__(self, message: str, error_type: str = "ValidationException") -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


def parse_day(value: Any, field: str) -> dt.date:
    """A `YYYY-MM-DD` date, or the ValidationException AWS answers for anything else."""
    if not isinstance(value, str) or len(value) != 10:
        raise CEError(f"{field}: invalid date format {value!r}, expected YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CEError(f"{field}: invalid date format {value!r}, expected YYYY-MM-DD") from exc


def parse_interval(period: Any, start_key: str = "Start", end_key: str = "End") -> tuple[dt.date, dt.date]:
    """A [start, end) interval; AWS rejects an end that is not after the start."""
    if not isinstance(period, dict) or start_key not in period or end_key not in period:
        raise CEError(f"TimePeriod must have {start_key} and {end_key}")
    start = parse_day(period[start_key], start_key)
    end = parse_day(period[end_key], end_key)
    if end <= start:
        raise CEError("Start date (and hour) should be before end date (and hour)")
    return start, end


def fmt_amount(value: Decimal | float | int | None) -> str:
    """Amounts as AWS writes them: plain decimal notation, no exponent, no trailing zeros."""
    if value is None:
        return "0"
    if not isinstance(value, Decimal):
        value = Decimal(repr(float(value))).quantize(Decimal("0.0000000001"))
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def fingerprint(body: dict[str, Any], *drop: str) -> str:
    """Stable hash of a request body without its paging fields: the cache key of an answer."""
    clean = {k: v for k, v in body.items() if k not in drop}
    return hashlib.sha256(json.dumps(clean, sort_keys=True, default=str).encode()).hexdigest()[:24]


def make_token(key: str, offset: int) -> str:
    """Opaque page token binding an offset to the request it continues."""
    return base64.urlsafe_b64encode(f"{key}:{offset}".encode()).decode().rstrip("=")


def read_token(token: Any, key: str, total: int) -> int:
    """The offset in `token`; ValidationException unless it was issued for this very request."""
    if token is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(str(token) + "=" * (-len(str(token)) % 4)).decode()
        token_key, offset_text = raw.rsplit(":", 1)
        offset = int(offset_text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CEError("Invalid NextPageToken") from exc
    if token_key != key or not 0 < offset < max(total, 1):
        raise CEError("Invalid NextPageToken")
    return offset


def page_bounds(body: dict[str, Any], key: str, total: int, size: int) -> tuple[int, int, str | None]:
    """[start, stop) of the page a request asks for, and the token of the next page (or None)."""
    start = read_token(body.get("NextPageToken"), key, total)
    stop = min(start + size, total)
    return start, stop, make_token(key, stop) if stop < total else None


def page_size_arg(body: dict[str, Any], field: str, default: int, maximum: int) -> int:
    """A caller's page size, validated like AWS (positive integer, capped)."""
    value = body.get(field, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CEError(f"{field} must be a positive integer")
    return min(value, maximum)
