"""`assistant-bridge feedback`: votes per assistant and the latest votes, linked to the answers."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, date, datetime

from bot.config import Settings
from storage import feedback
from storage.db import Database
from storage.models import Feedback


def since_date(text: str) -> datetime:
    """`--since`: a day (2026-11-30, from its start, UTC) or an ISO time (UTC unless given)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date: {text!r} (give e.g. 2026-11-30 or 2026-11-30T14:00)"
        ) from None
    if len(text) == len("2026-11-30"):
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def answer_link(channel: str, ts: str, thread_ts: str | None) -> str:
    """The answer's permalink: Slack's archive URL, `p` and the ts without its dot; a reply
    in a thread also names the thread and the channel (`thread_ts`, `cid`)."""
    link = f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"
    return f"{link}?thread_ts={thread_ts}&cid={channel}" if thread_ts else link


def feedback_report(settings: Settings, *, limit: int, since: datetime | None) -> str:
    """The report as text (the CLI prints it)."""
    counts, latest = asyncio.run(_read(settings.database_url, limit=limit, since=since))
    when = f" since {since:%Y-%m-%d %H:%M} UTC" if since else ""
    if not counts:
        return f"No feedback{when}." if since else "No feedback on answers yet."
    width = max(len("assistant"), *(len(row.assistant) for row in counts))
    lines = [f"Feedback on answers{when}:", f"  {'assistant':<{width}}  {'up':>5}  {'down':>5}"]
    lines += [f"  {row.assistant:<{width}}  {row.up:>5}  {row.down:>5}" for row in counts]
    lines += ["", f"Latest {len(latest)} vote(s), newest first:"]
    names = max(len(vote.assistant) for vote in latest)
    lines += [f"  {_vote_line(vote, names)}" for vote in latest]
    return "\n".join(lines)


def _vote_line(vote: Feedback, names: int) -> str:
    # SQLite gives the stored UTC time back without its zone.
    voted_at = vote.voted_at if vote.voted_at.tzinfo else vote.voted_at.replace(tzinfo=UTC)
    return "  ".join(
        [
            f"{voted_at.astimezone(UTC):%Y-%m-%d %H:%M}",
            vote.vote.ljust(4),
            vote.assistant.ljust(names),
            vote.user_id.ljust(11),
            answer_link(vote.channel_id, vote.message_ts, vote.thread_ts),
        ]
    )


async def _read(
    url: str, *, limit: int, since: datetime | None
) -> tuple[list[feedback.AssistantVotes], list[Feedback]]:
    database = Database(url)
    try:
        async with database.session() as session:
            counts = await feedback.votes_per_assistant(session=session, since=since)
            latest = await feedback.latest_votes(session=session, limit=limit, since=since)
    finally:
        await database.close()
    return counts, latest
