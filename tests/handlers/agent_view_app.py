"""A real Bolt app wired as the bridge wires it (agent view, `/assistant`, events), talking to
the fake Slack through the bridge's own Web API client, fed requests signed as Slack signs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.assistants import Assistants
from bot.config import Settings
from bot.slack.client import build_client
from bot.slack.identity import BotIdentity
from handlers import agent_view, commands, events, unhandled
from handlers.routing import Incoming
from storage.db import Database
from storage.migrate import migrate
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import FORM, JSON, event_callback, sign
from tests.fakes.slack_interactions import interactive_form

SECRET = "test-signing-secret"


@dataclass
class AgentViewApp:
    """The app, its database, and what it handed on: background work, stops, accepted keys."""

    app: AsyncApp
    db: Database
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopped: list[int] = field(default_factory=list)
    accepted: list[Incoming] = field(default_factory=list)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> bool:
        self.tasks.append(asyncio.create_task(coro, name=name))
        return True

    async def send(self, body: str, content_type: str) -> tuple[int, str]:
        """Dispatch a signed request; (status, body) of what Bolt answered."""
        headers: dict[str, str | Sequence[str]] = {
            **sign(SECRET, body.encode(), content_type=content_type)
        }
        response = await self.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        return response.status, response.body

    async def send_event(self, event: dict[str, Any], **envelope: Any) -> int:
        status, _ = await self.send(json.dumps(event_callback(event, **envelope)), JSON)
        return status

    async def send_payload(self, payload: dict[str, Any]) -> int:
        status, _ = await self.send(interactive_form(payload).decode(), FORM)
        return status

    async def command(self, form: bytes) -> str:
        status, body = await self.send(form.decode(), FORM)
        assert status == 200, body
        return str(json.loads(body)["text"])

    async def until(self, check: Callable[[], object]) -> None:
        """Poll `check` (a look at the fake) without blocking the loop, until it holds."""
        # The fake answers in a thread of its own: there is no event to wait on.
        async with asyncio.timeout(15):
            while True:
                if check():
                    return
                await asyncio.sleep(0.01)

    async def settle(self) -> None:
        """Wait for the background work handed on so far (each Slack call it makes)."""
        async with asyncio.timeout(15):
            await asyncio.gather(*self.tasks)


@asynccontextmanager
async def bolt_app(
    slack: FakeSlack, database_url: str, *, learn_identity: bool = False, **settings: Any
) -> AsyncIterator[tuple[AsyncApp, Settings, Database]]:
    """A Bolt app as the bridge builds it (the bridge's client, signing secret, authorize,
    acks after the listener), on a migrated database; `learn_identity`: ask auth.test first,
    as the bridge does at start. Listeners are the caller's to register."""
    migrate(database_url)
    config = Settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret=SECRET,
        slack_api_url=slack.url + "/api/",
        openai_api_key="sk-test",
        database_url=database_url,
        **settings,
    )
    async with aiohttp.ClientSession() as http:
        client = build_client(config, http)
        identity = BotIdentity(client)
        if learn_identity:
            await identity.learn()
        app = AsyncApp(
            signing_secret=SECRET,
            client=client,
            authorize=identity.authorize_function(),
            process_before_response=True,
            raise_error_for_unhandled_request=True,
        )
        db = Database(database_url)
        unhandled.register(app)
        try:
            yield app, config, db
        finally:
            await db.close()


@asynccontextmanager
async def agent_view_app(
    slack: FakeSlack, database_url: str, assistants: Assistants, **settings: Any
) -> AsyncIterator[AgentViewApp]:
    async with bolt_app(slack, database_url, **settings) as (app, config, db):
        wired = AgentViewApp(app=app, db=db)
        commands.register(app, db=db, settings=config, assistants=assistants)
        title_thread = agent_view.register(
            app, db=db, assistants=assistants, spawn=wired.spawn, on_stop=wired.stopped.append
        )
        events.register(
            app,
            db=db,
            settings=config,
            on_accepted=wired.accepted.append,
            on_hint=lambda _incoming, _text: None,
            on_thread_started=title_thread,
        )
        try:
            yield wired
        finally:
            for task in wired.tasks:
                task.cancel()
            await asyncio.gather(*wired.tasks, return_exceptions=True)
