"""What the moto seeding modules share: the names the world is seeded under, the seeding error, and the
conversions of world values into what moto's backends store."""

from __future__ import annotations

import datetime as dt
import json

MEMBER_ROLE_NAME = "FinOpsMemberReadOnly"
LAMBDA_ROLE_NAME = "finops-sandbox-lambda-exec"
SES_SENDER = "finops@example.com"
SES_DOMAIN = "example.com"
PARTITION = "aws"


class SeedError(RuntimeError):
    """A world row moto refused; the message names the row so the world generator can be fixed."""


def naive_utc(value: dt.datetime | dt.date) -> dt.datetime:
    """moto stores timestamps as naive UTC datetimes (its ``utcnow()``)."""
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def parse_tags(raw: str | None) -> dict[str, str]:
    """A world row's tags (a JSON object, or None) as the str-to-str dict moto's backends take."""
    return {str(k): str(v) for k, v in json.loads(raw or "{}").items()}
