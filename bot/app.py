"""The app factory: builds every part of the bridge from the settings and wires them."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.async_app import AsyncApp
from sqlalchemy import literal
from sqlmodel import select

from bot import backends
from bot.assistants import Assistants, load_assistants
from bot.config import Settings
from bot.jobs import Jobs
from bot.slack.answers import AnswerStreams
from bot.slack.client import build_client
from bot.slack.delivery import Deliverer
from bot.slack.identity import BotIdentity
from bot.slack.inputs import InputBuilder
from bot.slack.pacing import StreamPacer
from bot.slack.people import People
from bot.slack.poster import SlackPoster
from bot.slack.reactions import ReactedMessages
from bot.slack.status import StatusBoard
from bot.slack.thread_context import ThreadContext
from bot.slack.turn_instructions import SlackTurnInstructions
from bot.slack.view import SlackView
from bot.turns.context import TurnContext
from bot.turns.leases import LeaseKeeper
from bot.turns.machine import TurnMachine
from bot.turns.poll_planner import PollPlanner
from handlers import agent_view, commands, events, shortcuts, unhandled
from handlers.routing import Incoming
from storage import inbox, leases, outbox, retention, turns
from storage.db import Database, is_busy
from storage.models import InboundMessage, utcnow

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5.0
# Steps that may wait for a slot, per slot (MAX_CONCURRENT_STEPS): a burst is absorbed
# without a backlog in memory; past that, work waits in the database for the sweep.
PENDING_PER_SLOT = 4
# A poll that found every slot taken is tried again this much later, not shed: a turn
# this process holds has no other clock while its lease is kept alive.
FULL_RETRY_SECONDS = 1.0


def _drop_token_unused_warning(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN from the environment itself and warns that it is unused
    # because we pass our own client (which carries the same token, SLACK_API_URL and the
    # retry handlers) and our own `authorize`: true, and not worth a warning at every start.
    message = record.getMessage()
    return "`token` will be unused" not in message and "will be ignored" not in message


class Bridge:
    """One process's bridge: Bolt app, turn engine, deliverer and the scheduler that clocks them."""

    def __init__(self, settings: Settings, assistants: Assistants | None = None) -> None:
        self.settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        lease = timedelta(seconds=settings.lease_seconds)
        self.db = Database(settings.database_url)
        # One connection per step in flight: aiohttp's default of 100 would queue steps that
        # the bound lets run.
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(limit=settings.max_concurrent_steps),
        )
        self.slack_client = build_client(settings, self.http)
        self.poster = SlackPoster(self.slack_client)
        self.openai_client = backends.build_client(settings)
        self.assistants = assistants or load_assistants(settings)
        self.backends = backends.Backends(self.openai_client, self.http)
        self.status = StatusBoard(db=self.db, poster=self.poster)
        # users.info / conversations.info, cached: who asks, and where (asked as turns start).
        self.people = People(self.slack_client)
        # Slack's per-workspace budgets for the stream methods, shared by every live answer.
        self.pacer = StreamPacer(
            start_per_minute=settings.stream_starts_per_minute,
            append_per_minute=settings.stream_appends_per_minute,
        )
        self.answers = (
            AnswerStreams(client=self.slack_client, pacer=self.pacer, db=self.db)
            if settings.streaming
            else None
        )
        # Renews the leases of turns and replies whose steps run, however long they take.
        self.keeper = LeaseKeeper(db=self.db, owner=self.owner, lease=lease)
        self.reacted = ReactedMessages()
        self.deliverer = Deliverer(
            db=self.db,
            poster=self.poster,
            owner=self.owner,
            lease=lease,
            download=self.backends.download_file,
            status=self.status,
            max_file_bytes=int(settings.max_file_mb * 1024 * 1024),
            keeper=self.keeper,
            reacted=self.reacted if settings.streaming else None,
        )
        self.engine = TurnMachine(
            TurnContext(
                db=self.db,
                backends=self.backends,
                assistants=self.assistants,
                owner=self.owner,
                lease=lease,
                keeper=self.keeper,
                planner=PollPlanner(
                    base=settings.poll_interval, ceiling=settings.poll_interval_max
                ),
                view=SlackView(status=self.status, deliverer=self.deliverer, answers=self.answers),
                run_timeout=timedelta(seconds=settings.run_timeout_seconds),
                function_timeout=settings.function_timeout_seconds,
                streaming=settings.streaming,
                inputs=InputBuilder(
                    db=self.db,
                    openai=self.openai_client,
                    slack_token=settings.slack_bot_token,
                    session=lambda: self.http,
                    max_bytes=int(settings.max_file_mb * 1024 * 1024),
                    notice=self._file_notice,
                    slack=self.slack_client,
                    slack_api_url=settings.slack_api_url,
                    people=self.people,
                    thread=ThreadContext(
                        db=self.db,
                        slack=self.slack_client,
                        people=self.people,
                        max_chars=settings.thread_context_chars,
                        bot=lambda: self.identity.bot,
                    ),
                ),
                slack=self.slack_client,
                instructions=SlackTurnInstructions(self.people),
            )
        )
        self.engine.schedule = self._schedule_turn
        # Missed wake-ups still run (misfire_grace_time=None): a late poll beats a lost one.
        self.scheduler = AsyncIOScheduler(
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 10},
            timezone="UTC",
        )
        bolt_logger = logging.getLogger("slack_bolt.AsyncApp")
        bolt_logger.addFilter(_drop_token_unused_warning)
        # auth.test is asked once, in the background, not by Bolt on a request's path.
        self.identity = BotIdentity(self.slack_client)
        self.bolt = AsyncApp(
            logger=bolt_logger,
            signing_secret=settings.slack_signing_secret or "socket-mode-needs-no-secret",
            client=self.slack_client,
            authorize=self.identity.authorize_function(),
            process_before_response=True,
            request_verification_enabled=bool(settings.slack_signing_secret),
            raise_error_for_unhandled_request=True,
        )
        unhandled.register(self.bolt)
        commands.register(self.bolt, db=self.db, settings=settings, assistants=self.assistants)
        # Before `events`: its catch-all listener takes every event not matched before it.
        title_thread = agent_view.register(
            self.bolt,
            db=self.db,
            assistants=self.assistants,
            spawn=self.spawn,
            on_stop=self._on_stop,
        )
        shortcuts.register(
            self.bolt,
            db=self.db,
            settings=settings,
            spawn=self.spawn,
            on_accepted=self._on_accepted,
        )
        events.register(
            self.bolt,
            db=self.db,
            settings=settings,
            on_accepted=self._on_accepted,
            on_hint=self._on_hint,
            on_thread_started=title_thread,
        )
        # Background work runs beyond MAX_CONCURRENT_STEPS at once: an overloaded process
        # must still ack Slack within its 3 s, while queued work waits safely in the
        # database. The steps mostly wait on the APIs, so the bound is large (a bound of 32
        # capped a process at about 45 turns/s once each API call took 0.1 s).
        self.jobs = Jobs(
            limit=settings.max_concurrent_steps,
            pending_limit=PENDING_PER_SLOT * settings.max_concurrent_steps,
        )
        self._stopping = False

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> bool:
        """Run `coro` in the background, within the bound; False if it was shed (full, or
        stopping): durable work is picked up again by the sweep, cosmetic work is skipped."""
        if self._stopping:
            coro.close()
            return False
        if self.jobs.spawn(coro, name):
            return True
        log.debug("background work full: %s shed", name)
        return False

    def _on_accepted(self, incoming: Incoming) -> None:
        if self.settings.streaming:
            self.spawn(self._show_thinking(incoming), "status")
        else:
            self.spawn(
                self.poster.set_working(channel=incoming.channel_id, ts=incoming.ts, working=True),
                "reaction",
            )
        self.spawn(self.engine.dispatch(incoming.key), f"dispatch {incoming.key}")

    async def _show_thinking(self, incoming: Incoming) -> None:
        """Slack's "is thinking…" status in the thread the answer streams to (it goes when
        the answer comes); the reaction only where Slack refuses the status."""
        thread_ts = incoming.reply_thread_ts or incoming.ts
        if await self.poster.set_thinking(channel=incoming.channel_id, thread_ts=thread_ts):
            return
        self.reacted.add(incoming.channel_id, incoming.ts)
        await self.poster.set_working(channel=incoming.channel_id, ts=incoming.ts, working=True)

    def _on_stop(self, turn_id: int) -> None:
        # Any process may cancel the run (its id is on the row); the holder's stream or
        # poll then sees it cancelled and ends the answer with what was said so far.
        self.spawn(self.engine.stop(turn_id), f"stop turn {turn_id}")

    def _on_hint(self, incoming: Incoming, text: str) -> None:
        self.spawn(
            self.poster.post_hint(
                channel=incoming.channel_id,
                user=incoming.user_id,
                thread_ts=incoming.reply_thread_ts,
                text=text,
            ),
            "hint",
        )

    async def _file_notice(self, message: InboundMessage, text: str) -> None:
        await self.poster.post_hint(
            channel=message.channel_id,
            user=message.user_id,
            thread_ts=message.reply_thread_ts,
            text=text,
        )

    def _schedule_turn(self, turn_id: int, when: datetime) -> None:
        if self._stopping:
            return
        self.scheduler.add_job(
            self._fire_advance,
            "date",
            run_date=when,
            args=[turn_id],
            id=f"turn-{turn_id}",
            replace_existing=True,
        )

    # Scheduler jobs only hand work to `spawn`: APScheduler cancels the jobs it is running
    # when it shuts down, while `stop` lets spawned work finish.
    async def _fire_advance(self, turn_id: int) -> None:
        if not self.spawn(self.engine.advance(turn_id), f"advance turn {turn_id}"):
            self._schedule_turn(turn_id, utcnow() + timedelta(seconds=FULL_RETRY_SECONDS))

    async def _fire_sweep(self) -> None:
        self.spawn(self.sweep(), "sweep")

    async def _fire_prune(self) -> None:
        self.spawn(self.prune(), "prune")

    async def prune(self) -> None:
        """Forget answered messages and finished turns older than RETENTION_DAYS."""
        before = utcnow() - timedelta(days=self.settings.retention_days)
        async with self.db.session() as session:
            pruned = await retention.prune(session=session, before=before)
        if pruned:
            log.info("pruned %d answered message(s) older than %s", pruned, before)

    async def sweep(self) -> None:
        """The safety net: resume orphaned turns, queued messages and undelivered replies."""
        async with self.db.session() as session:
            orphaned = await turns.orphaned_turns(session=session)
            waiting = await inbox.pending_keys(session=session)
            undelivered = await outbox.due_reply_turns(session=session)
        for turn_id in orphaned:
            self.spawn(self.engine.advance(turn_id), f"resume turn {turn_id}")
        for key in waiting:
            self.spawn(self.engine.dispatch(key), f"dispatch {key}")
        for turn_id in undelivered:
            self.spawn(self.deliverer.deliver(turn_id), f"deliver turn {turn_id}")

    async def start(self) -> None:
        if self.db.is_sqlite:
            # SQLite is the single-process setup: whatever a previous process held is ours now.
            async with self.db.session() as session:
                await leases.release_all(session=session)
        self.keeper.start()
        self.identity.start()
        self.scheduler.start()
        self.scheduler.add_job(
            self._fire_sweep, "interval", seconds=SWEEP_SECONDS, id="sweep", next_run_time=utcnow()
        )
        self.scheduler.add_job(
            self._fire_prune, "interval", hours=1, id="prune", next_run_time=utcnow()
        )
        self.spawn(backends.check_key(self.openai_client), "check OpenAI key")

    async def stop(self, *, grace: float = 15.0) -> None:
        """Stop taking work, let running steps finish (up to `grace` s), hand over the rest."""
        self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.jobs.close(grace=grace)
        await self.engine.close()
        await self.keeper.stop()
        await self.identity.stop()
        try:
            async with self.db.session() as session:
                await leases.release_owned(session=session, owner=self.owner)
        except Exception:
            log.exception("could not release this process's claims; they expire on their own")
        await self.openai_client.close()
        await self.http.close()
        await self.db.close()

    async def database_problem(self) -> str | None:
        """None if the database can be used now, else what is wrong, in one line (the
        health check logs it when the state changes)."""
        try:
            async with asyncio.timeout(3), self.db.session(patience=1.0) as session:
                await session.exec(select(literal(1)))
        except TimeoutError:
            return "no answer within 3 s"
        except Exception as exc:
            if is_busy(exc):
                return "busy: another connection holds the write lock"
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            return f"{type(exc).__name__}: {reason[0] if reason else ''}"
        return None
