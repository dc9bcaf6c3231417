"""The test fakes, timestamped from outside: when each reply post and each OpenAI call arrived."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.openai_api import FakeOpenAI, ReplyContext
from tests.fakes.openai_store import echo_responder
from tests.fakes.slack_api import FakeSlack

RESPONSE_ID = re.compile(r"\[(resp_[0-9A-Za-z]+)\]")
_RESPONSE_PATH = re.compile(r"^/v1/responses/(resp_[^/]+)$")


@dataclass(frozen=True, slots=True)
class Post:
    """A successful chat.postMessage: when it reached the fake, where, and its text."""

    at: float
    channel: str
    text: str

    def response_id(self) -> str | None:
        match = RESPONSE_ID.search(self.text)
        return match.group(1) if match else None


class TimedSlack(FakeSlack):
    """FakeSlack that also notes the arrival time (perf_counter) of every reply post, and
    answers every Web API call `api_latency` seconds late (the network and Slack's own time)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._posts: list[Post] = []
        self.api_latency = 0.0

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if self.api_latency:
            await asyncio.sleep(self.api_latency)
        return await super()._api(request)

    def _call(self, method: str, params: dict[str, Any], authorization: str) -> dict[str, Any]:
        result = super()._call(method, params, authorization)
        if method == "chat.postMessage" and result.get("ok"):
            at = time.perf_counter()
            message = result.get("message") or {}
            texts = [str(message.get("text") or "")]
            texts += [str(b.get("text") or "") for b in message.get("blocks") or []]
            with self._lock:
                self._posts.append(Post(at, str(result.get("channel")), "\n".join(texts)))
        return result

    def __enter__(self) -> TimedSlack:
        self.start()
        return self

    def timed_posts(self) -> list[Post]:
        with self._lock:
            return list(self._posts)


class TimedOpenAI(FakeOpenAI):
    """FakeOpenAI whose replies name their response id, and which notes when requests came.

    The responder echoes the turn's texts as the default one does, then appends
    `[resp_…]`, so a Slack post maps to exactly one response.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        # Every request is answered this many seconds late (network, API time), on top of
        # the model's latency that a background response takes.
        self.api_latency = 0.0
        self.created_at: dict[str, float] = {}
        self.polled_at: defaultdict[str, list[float]] = defaultdict(list)
        self.inputs: dict[str, list[str]] = {}
        self.responder = self._respond

    def __enter__(self) -> TimedOpenAI:
        self.start()
        return self

    def _respond(self, context: ReplyContext) -> str:
        with self._lock:
            self.inputs[context.turn_id] = list(context.user_texts)
        return f"{echo_responder(context)} [{context.turn_id}]"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        if self.api_latency:
            await asyncio.sleep(self.api_latency)
        response = await super()._handle(request)
        if request.method == "POST" and request.path == "/v1/responses":
            if response.status == 200 and isinstance(response, web.Response) and response.text:
                response_id = str(json.loads(response.text)["id"])
                with self._lock:
                    self.created_at[response_id] = arrived
        elif request.method == "GET" and (match := _RESPONSE_PATH.match(request.path)):
            with self._lock:
                self.polled_at[match.group(1)].append(arrived)
        return response

    def turn_inputs(self) -> dict[str, list[str]]:
        """Input texts of every response that finished (response id -> texts)."""
        with self._lock:
            return {key: list(value) for key, value in self.inputs.items()}

    def timings(self) -> tuple[dict[str, float], dict[str, list[float]]]:
        with self._lock:
            return dict(self.created_at), {k: list(v) for k, v in self.polled_at.items()}
