"""Keeps this process's claims alive while their steps run, and fences non-idempotent calls.

A turn (and, once it is finished, its reply parts) is claimed with a lease: another
process may take it over when the lease runs out. A step can take longer than a lease —
an upload of a large file, a function call, a create that OpenAI answers slowly, a post
that Slack rate-limits — so while a step runs, the keeper renews the lease of every turn
in flight, in one statement per beat (a third of the lease), whatever the number of turns.
A turn that only waits for its next poll is not in flight: its lease already covers the
wait (`EngineCore._wait`), and a process that died stops renewing, so its work is taken
over when the lease ends.

Right before a call that must not happen twice (a create, an upload, sending tool
outputs, running functions, a post), `fence` makes sure the claim is still this
process's, with at least half a lease to go, renewing it in the database when it is
short; a claim the database no longer backs raises `TurnLost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from bot.errors import TurnLost
from storage import outbox, turns
from storage.db import Database
from storage.models import Reply, Turn, utcnow

log = logging.getLogger(__name__)

# The shortest beat: leases of a few seconds (tests) still get a few beats per lease.
_MIN_BEAT_SECONDS = 0.2


def aware(moment: datetime | None) -> datetime | None:
    """`moment` as aware UTC: SQLite hands timestamps back without their zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class LeaseKeeper:
    """Renews the leases of this process's turns (and reply parts) while their steps run."""

    def __init__(self, *, db: Database, owner: str, lease: timedelta) -> None:
        self.db = db
        self.owner = owner
        self.lease = lease
        # Turns whose step runs now, by id; their `lease_until` is what the database holds.
        self._turns: dict[int, Turn] = {}
        # Reply parts being delivered now, by turn id.
        self._parts: dict[int, list[Reply]] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def running(self, turn: Turn) -> Iterator[None]:
        """Keep `turn`'s lease alive while the block (one step of the turn) runs."""
        assert turn.id is not None
        self._turns[turn.id] = turn
        try:
            yield
        finally:
            self._turns.pop(turn.id, None)

    @contextlib.contextmanager
    def delivering(self, turn_id: int, parts: list[Reply]) -> Iterator[None]:
        """Keep the lease on a turn's claimed reply parts alive while they are posted."""
        self._parts[turn_id] = parts
        try:
            yield
        finally:
            self._parts.pop(turn_id, None)

    def forget(self, turn_id: int) -> None:
        """The turn ended (or is no longer this process's): stop renewing it."""
        self._turns.pop(turn_id, None)

    def in_flight(self) -> int:
        """How many turns and deliveries the keeper renews now (for tests and logs)."""
        return len(self._turns) + len(self._parts)

    async def fence(self, turn: Turn, *, full: bool = False) -> None:
        """Before a non-idempotent call: the turn is still this process's, for at least half
        a lease (`full`: a whole lease from now, renewed in the database — for a step whose
        bound is a lease, such as a function call). Raises TurnLost otherwise."""
        remaining = _remaining(turn.lease_until)
        if not full and remaining is not None and remaining >= self.lease / 2:
            return
        if not await self._renew_turns([turn]):
            raise TurnLost(f"turn {turn.id} is no longer held by this process")

    async def fence_parts(self, parts: list[Reply]) -> bool:
        """Before posting one of a turn's parts: whether this process still holds them."""
        remaining = min((_remaining(p.lease_until) for p in parts), default=None, key=_order)
        if remaining is not None and remaining >= self.lease / 2:
            return True
        return await self._renew_parts({parts[0].turn_id: parts})

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lease keeper")

    async def stop(self) -> None:
        """Stop renewing (after the running steps ended, before the claims are handed over)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        beat = max(_MIN_BEAT_SECONDS, self.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(beat)
            try:
                await self.beat()
            except Exception as exc:  # the database may be away for a moment: beat again
                log.warning("renewing this process's leases failed (%s)", type(exc).__name__)

    async def beat(self) -> None:
        """Renew every claim in flight that has less than two thirds of a lease left."""
        due = [turn for turn in self._turns.values() if _short(turn.lease_until, self.lease)]
        if due:
            await self._renew_turns(due)
        parts = {
            turn_id: held
            for turn_id, held in self._parts.items()
            if any(_short(part.lease_until, self.lease) for part in held)
        }
        if parts:
            await self._renew_parts(parts)

    async def _renew_turns(self, due: list[Turn]) -> bool:
        """Renew `due` in one statement; True if this process still held every one."""
        until = utcnow() + self.lease
        async with self.db.session(single=True) as session:
            held = await turns.renew_turns(
                session=session,
                turn_ids=[turn.id for turn in due if turn.id is not None],
                owner=self.owner,
                lease_until=until,
            )
        for turn in due:
            # A turn the database no longer gives this process is never taken for held again
            # (the caller of `fence` says so in the log).
            turn.lease_until = until if turn.id in held else None
        return all(turn.id in held for turn in due)

    async def _renew_parts(self, due: dict[int, list[Reply]]) -> bool:
        until = utcnow() + self.lease
        async with self.db.session(single=True) as session:
            held = await outbox.renew_replies(
                session=session, turn_ids=list(due), owner=self.owner, lease_until=until
            )
        for turn_id, parts in due.items():
            for part in parts:
                part.lease_until = until if turn_id in held else None
        return all(turn_id in held for turn_id in due)


def _remaining(until: datetime | None) -> timedelta | None:
    moment = aware(until)
    return None if moment is None else moment - utcnow()


def _order(remaining: timedelta | None) -> timedelta:
    # An unknown lease sorts first: it is the one that needs renewing.
    return timedelta.min if remaining is None else remaining


def _short(until: datetime | None, lease: timedelta) -> bool:
    remaining = _remaining(until)
    return remaining is None or remaining < lease * 2 / 3
