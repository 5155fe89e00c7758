"""What a World is generated from: its config, the public constants, and the calendar of one build.

Structural choices that must fall inside the observed window (late-joining accounts, the suspension
date) are placed relative to `Window.history_start` and a nominal span, and so only move when as_of
crosses into another month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from finops_pipeline.clock import today_utc
from finops_sandbox import catalog as cat

MANAGEMENT_ACCOUNT_ID = "123456789012"
OU_NAMES: tuple[str, ...] = ("Production", "Non-Production", "Sandbox", "Shared Services")
ANOMALY_KINDS: tuple[str, ...] = ("spike", "level_shift", "new_service", "drift", "drop")

HOSTILE_TAG_VALUES: tuple[str, ...] = (
    '=HYPERLINK("http://evil.example","x")',
    "+cmd",
    "-2+3",
    "@SUM(A1)",
    "line one\r\nline two",
    "../../etc/passwd",
    "long-" + "x" * 251,
    "Zürich-データ",
)
DIRTY_ENVIRONMENT_VALUES: tuple[str, ...] = (" prod", "PROD", "Prod", "production", "prd", "dev ", "QA")

EPOCH = dt.date(1970, 1, 1)
MICRO = 1_000_000


@dataclass(frozen=True)
class WorldConfig:
    """What to generate; the same config always yields the same World."""

    accounts: int = 12
    as_of: dt.date = field(default_factory=today_utc)
    history_months: int = 13
    regions: tuple[str, ...] = ("us-east-1", "us-west-2", "eu-west-1")
    seed: int = 42
    resources_per_account_region: int = 12
    # Cost allocation tag activation in the payer account (what ListCostAllocationTags reports and what
    # Cost Explorer's tag grouping obeys, see `ce_tags`). Keys in `inactive_tag_keys` are Inactive: all
    # their spend is `Key$`. A key in `tag_activation_dates` was activated on that day: its spend before
    # it is `Key$`. Every other key is active since before the history starts (the demo's figures).
    inactive_tag_keys: tuple[str, ...] = ()
    tag_activation_dates: tuple[tuple[str, dt.date], ...] = ()
    # Completed cost allocation tag backfills (BackfillFrom, requested on): keys active when one was
    # requested show their values from its BackfillFrom on (cost_explorer/tags.py).
    tag_backfills: tuple[tuple[dt.date, dt.date], ...] = ()
    # Day of a month from which last month's bill is final: Cost Explorer marks every day of the current
    # month, and of the previous month before this day, `Estimated` (ResultByTime.Estimated in botocore's
    # ce model; AWS "finalizes your monthly AWS bill at the start of the new month ... typically between
    # the first and fifth day", https://repost.aws/knowledge-center/monthly-aws-billing).
    bill_final_day: int = 5
    # Days before the trailing three that are restated too (while still estimated): AWS keeps changing a
    # day until its month is final, not for three days only. 0 = only the trailing three days move.
    late_restatement_days: int = 0
    # Month-close items of the record types the base world lacks (Fee, Discount, BundledDiscount), dated
    # on a closed month's last day and posted from the 3rd of the next month, while it is still estimated.
    month_close_extras: bool = False
    # Budgets of every other filter kind besides the account budgets: organisation, service, tag, several
    # accounts, cost category, FilterExpression, CostTypes (world/scoped_budgets.py).
    scoped_budgets: bool = False


def day_number(d: dt.date) -> int:
    return (d - EPOCH).days


def date_of(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day))


def month_start(d: dt.date, months_back: int = 0) -> dt.date:
    total = d.year * 12 + d.month - 1 - months_back
    return dt.date(total // 12, total % 12 + 1, 1)


def month_days_start(days: np.ndarray) -> np.ndarray:
    """The first day (epoch days) of each day's month."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def estimated_since(as_of: dt.date, bill_final_day: int) -> dt.date:
    """First day Cost Explorer still marks `Estimated` on `as_of`: this month's 1st once last month is final.

    Before `bill_final_day` last month's bill is not final yet, so its days are estimated too.
    """
    return month_start(as_of, 1 if as_of.day < bill_final_day else 0)


@dataclass(frozen=True)
class Window:
    """The observed days of one build: [history_start, data_end), the days since `estimated_from` estimated.

    `estimated_start` .. data_end are the trailing (restated) days; `late_start` .. `estimated_start` the
    older estimated days that `late_restatement_days` restates as well.
    """

    config: WorldConfig
    history_start: dt.date
    data_end: dt.date
    estimated_start: dt.date
    estimated_from: dt.date
    late_start: dt.date
    d0: int  # history_start as epoch days
    d1: int  # data_end as epoch days (exclusive)
    # Nominal history length: placements keyed to it must not move when as_of moves within a month.
    span: int

    @property
    def seed(self) -> int:
        return self.config.seed

    @classmethod
    def of(cls, config: WorldConfig) -> Window:
        if config.accounts < 1:
            raise ValueError("accounts must be >= 1")
        unknown = [r for r in config.regions if r not in cat.REGION_PREFIX]
        if unknown:
            raise ValueError(f"unsupported regions: {unknown}")
        if not 1 <= config.bill_final_day <= 28:
            raise ValueError("bill_final_day must be a day of the month from 1 to 28")
        if not 0 <= config.late_restatement_days <= 62:
            raise ValueError("late_restatement_days must be from 0 to 62")
        history_start = month_start(config.as_of, config.history_months)
        estimated_from = estimated_since(config.as_of, config.bill_final_day)
        estimated_start = config.as_of - dt.timedelta(days=3)
        late = estimated_start - dt.timedelta(days=config.late_restatement_days)
        return cls(
            config=config,
            history_start=history_start,
            data_end=config.as_of,
            estimated_start=estimated_start,
            estimated_from=estimated_from,
            late_start=min(estimated_start, max(late, estimated_from)),
            d0=day_number(history_start),
            d1=day_number(config.as_of),
            span=int(config.history_months * 30.4),
        )
