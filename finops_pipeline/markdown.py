"""Markdown tables for Dagster metadata, in one place so untrusted values cannot break a table.

Account names, services and drivers come from users of the AWS accounts: a ``|`` or a line break in
one of them would split a cell or end the table.
"""

from collections.abc import Iterable, Sequence
from typing import Any


def usd(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _cell(value: Any, width: int) -> str:
    if value is None or value == []:
        return ""
    return " ".join(str(value).replace("|", "/").split())[:width]


def markdown_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    limit: int,
    empty: str = "none",
    width: int = 160,
) -> str:
    """The first ``limit`` rows under ``columns``; ``empty`` when there is none."""
    shown = [row for _, row in zip(range(limit), rows, strict=False)]
    if not shown:
        return empty
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v, width) for v in row) + " |" for row in shown]
    return "\n".join(lines)
