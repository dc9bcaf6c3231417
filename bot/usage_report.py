"""`assistant-bridge usage`: recorded token usage, summed per assistant, user, channel or day."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime

from bot.config import Settings
from storage import usage
from storage.db import Database
from storage.usage import UsageBy, UsageTotal

_COLUMNS = ("runs", "input", "cached", "output", "reasoning", "tool_calls")


def usage_report(
    settings: Settings, *, by: UsageBy, since: datetime | None, as_csv: bool = False
) -> str:
    """The report as text (the CLI prints it): a table with totals, or CSV with a header."""
    totals = asyncio.run(_read(settings.database_url, by=by, since=since))
    if as_csv:
        return format_csv(totals, by=by)
    when = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
    if not totals:
        return f"No usage recorded{when}."
    return format_table(totals, by=by, title=f"Token usage by {by.value}{when}:")


def _numbers(total: UsageTotal) -> tuple[int, ...]:
    return (
        total.runs,
        total.input_tokens,
        total.cached_tokens,
        total.output_tokens,
        total.reasoning_tokens,
        total.tool_calls,
    )


def format_table(totals: list[UsageTotal], *, by: UsageBy, title: str) -> str:
    """Aligned columns, one line per group and a `total` line."""
    sums = tuple(sum(column) for column in zip(*map(_numbers, totals), strict=True))
    rows = [(t.group, *(f"{n:,}" for n in _numbers(t))) for t in totals]
    rows.append(("total", *(f"{n:,}" for n in sums)))
    header = (by.value, *_COLUMNS)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        padded = [cell.rjust(width) for cell, width in zip(cells, widths, strict=True)]
        return "  " + "  ".join([cells[0].ljust(widths[0]), *padded[1:]])

    rule = "  " + "  ".join("-" * width for width in widths)
    return "\n".join([title, line(header), *map(line, rows[:-1]), rule, line(rows[-1])])


def format_csv(totals: list[UsageTotal], *, by: UsageBy) -> str:
    """One header line, one line per group, plain integers (no totals line: sum them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([by.value, *_COLUMNS])
    writer.writerows([t.group, *_numbers(t)] for t in totals)
    return out.getvalue().rstrip("\n")


async def _read(url: str, *, by: UsageBy, since: datetime | None) -> list[UsageTotal]:
    database = Database(url)
    try:
        async with database.session() as session:
            return await usage.usage_totals(session=session, by=by, since=since)
    finally:
        await database.close()
