"""CPU per turn of the storage calls alone: `python bench/storage_calls.py [--database-url URL]`.

Runs the statements one DM turn makes (store the message, open the turn, record the run,
finish it with its reply, mark the reply posted), through the bridge's own `Database` and
query functions, and prints the process's CPU time per turn. No Slack, no OpenAI, no
event-loop contention: the figure to compare when changing the storage layer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# Run as a script: import `storage` and `tests` from the repository root, not from bench/.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlmodel.ext.asyncio.session import AsyncSession  # noqa: E402

from storage import finish, inbox, outbox, turns  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import migrate  # noqa: E402
from storage.models import UsageRecord, utcnow  # noqa: E402
from tests.scratch_schema import scratch_schema  # noqa: E402
from tests.turn_rows import dm_message, open_turn_over_pending  # noqa: E402

LEASE = timedelta(seconds=30)
USERS = 300


async def one_turn(db: Database, n: int) -> None:
    """The storage calls of one DM turn, in the order the bridge makes them."""
    message = dm_message(f"U{n % USERS}", f"{n}.000100")
    key = message.key

    async def enqueue(session: AsyncSession) -> bool:
        return await inbox.enqueue_message(session=session, message=message)

    await db.store(enqueue)
    async with db.session() as session:
        turn = await open_turn_over_pending(session, key=key, owner="bench", lease=LEASE)
    assert turn.id is not None
    async with db.session(single=True) as session:
        await turns.record_started(
            session=session,
            turn_id=turn.id,
            owner="bench",
            run_id=f"resp_{n}",
            next_poll_at=utcnow(),
            lease=LEASE,
        )
    async with db.session(single=True) as session:
        parts = await finish.finish_turn(
            session=session,
            turn=turn,
            owner="bench",
            outcome="completed",
            parts=["hello"],
            lease=LEASE,
            polls=2,
            watermark=f"msg_{n}",
            # A turn's final run's usage rides on the finish (issue 13).
            usage=UsageRecord(
                run_id=f"resp_{n}",
                turn_id=turn.id,
                team_id="T",
                channel_id=turn.channel_id,
                user_id="U",
                key=key,
                assistant="default",
                backend="responses",
                model="gpt-5-mini",
                input_tokens=1200,
                output_tokens=40,
            ),
        )
    async with db.session(single=True) as session:
        await turns.pending_messages(session=session, key=key)
    assert parts and parts[0].id is not None
    async with db.session(single=True) as session:
        await outbox.mark_posted(session=session, reply_id=parts[0].id, ts=f"{n}.900000")


async def measure(url: str, turns_count: int, warmup: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per turn over `turns_count` turns after `warmup`."""
    db = Database(url)
    try:
        for n in range(warmup):
            await one_turn(db, n)
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(warmup, warmup + turns_count):
            await one_turn(db, n)
        return (
            (time.process_time() - cpu) / turns_count,
            (time.perf_counter() - wall) / turns_count,
        )
    finally:
        await db.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python bench/storage_calls.py", description=__doc__)
    parser.add_argument("--database-url", help="PostgreSQL URL (a fresh schema is used)")
    parser.add_argument("--turns", type=int, default=2000, help="turns measured (2000)")
    parser.add_argument("--warmup", type=int, default=100, help="turns before measuring (100)")
    args = parser.parse_args()

    def run(url: str, name: str) -> None:
        migrate(url)
        cpu, wall = asyncio.run(measure(url, args.turns, args.warmup))
        print(
            f"{name}: {args.turns} turns, {cpu * 1000:.2f} ms CPU and {wall * 1000:.2f} ms "
            "wall per turn (storage calls only)"
        )

    if args.database_url:
        with scratch_schema(args.database_url, prefix="bench") as (url, _schema):
            run(url, "PostgreSQL")
    else:
        with tempfile.TemporaryDirectory(prefix="bridge-storage-bench-") as tmp:
            run(f"sqlite:///{tmp}/bridge.db", "SQLite")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
