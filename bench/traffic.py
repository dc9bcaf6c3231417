"""The load generator: signed Slack DM events from many users, sent open-loop at a fixed rate."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import aiohttp

from tests.e2e.harness import SIGNING_SECRET
from tests.fakes.slack_events import JSON, dm_event, event_callback, sign


@dataclass(slots=True)
class Message:
    """One DM event: what was sent, when it was due, sent and acknowledged, and the answer."""

    index: int
    user: str
    channel: str
    text: str
    body: bytes
    due: float = 0.0
    sent: float = 0.0
    acked: float = 0.0
    status: int = 0
    error: str = ""

    @property
    def ack_seconds(self) -> float:
        return self.acked - self.sent


def build_messages(
    *, users: int, count: int, user_prefix: str = "UL", text_prefix: str = "u"
) -> list[Message]:
    """`count` events, users taking turns round-robin; each text ("u17 m5") is unique."""
    messages: list[Message] = []
    for index in range(count):
        number, round_ = index % users, index // users
        user = f"{user_prefix}{number:05d}"
        text = f"{text_prefix}{number} m{round_}"
        event = dm_event(user, text)
        body = json.dumps(event_callback(event)).encode()
        messages.append(Message(index, user, str(event["channel"]), text, body))
    return messages


async def _send(session: aiohttp.ClientSession, url: str, message: Message) -> None:
    headers = sign(SIGNING_SECRET, message.body, content_type=JSON)
    message.sent = time.perf_counter()
    try:
        async with session.post(url, data=message.body, headers=headers) as response:
            await response.read()
            message.status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        message.status = -1
        message.error = repr(exc)
    message.acked = time.perf_counter()


async def send_all(url: str, messages: list[Message], *, rate: float) -> float:
    """Send each message at its scheduled time without waiting for earlier acks.

    Signing happens at send time (the signature carries a timestamp Slack checks), the
    JSON bodies are prepared beforehand. Returns the perf_counter time sending began.
    """
    connector = aiohttp.TCPConnector(limit=512, limit_per_host=512)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        start_loop, start = loop.time(), time.perf_counter()
        for message in messages:
            offset = message.index / rate
            message.due = start + offset
            delay = start_loop + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = loop.create_task(_send(session, url, message))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(list(tasks))
    return start
