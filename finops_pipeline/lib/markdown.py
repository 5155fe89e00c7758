"""Markdown tables for Dagster metadata, in one place so untrusted values cannot break a table.

Account names, services, tag values and drivers come from users of the AWS accounts: a ``|`` or a
line break in one of them would split a cell or end the table.
"""

from collections.abc import Iterable, Sequence
from typing import Any


def usd(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def md_cell(value: Any, width: int = 80) -> str:
    """A value made safe for a markdown table cell: no pipes, newlines or code spans."""
    text = "" if value is None or value == [] else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    text = text.replace("`", "'")
    if len(text) > width:
        text = text[: width - 3] + "..."
    return text


def md_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    limit: int | None = None,
    empty: str = "none",
    width: int = 80,
) -> str:
    """The rows (the first ``limit`` of them) under ``headers``; ``empty`` when there is none."""
    shown = list(rows) if limit is None else [row for _, row in zip(range(limit), rows, strict=False)]
    if not shown:
        return empty
    head = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers)
    body = "\n".join("| " + " | ".join(md_cell(v, width) for v in row) + " |" for row in shown)
    return f"{head}\n{body}"
