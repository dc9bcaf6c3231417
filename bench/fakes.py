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

from tests.fakes.openai_agents_state import TurnRec
from tests.fakes.openai_api import FakeOpenAI, ReplyContext
from tests.fakes.openai_store import echo_responder
from tests.fakes.slack_api import FakeSlack

# The OpenAI work a reply answers, named in its text: a response (`resp_…`) or, with
# `--agents`, an Agents API session turn (`turn_…`).
RESPONSE_ID = re.compile(r"\[((?:resp|turn)_[0-9A-Za-z]+)\]")
# A status poll: a response's, or an agent turn's (GET /v1/agents/sessions/{id}/turns/{tid}).
POLL_PATH = re.compile(r"^/v1/(?:responses/(resp_[^/]+)|agents/sessions/[^/]+/turns/(turn_[^/]+))$")
# The bridge leads an agent turn's first message with its per-turn brief as a part of its own,
# "[The person writing …]": no text of the load, so not counted as one of the turn's inputs.
_BRIEF = re.compile(r"^\[.*\]$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Post:
    """A successful chat.postMessage: when it reached the fake, where, and its text."""

    at: float
    channel: str
    text: str

    def response_id(self) -> str | None:
        match = RESPONSE_ID.search(self.text)
        return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class StreamTimes:
    """A streamed answer: when its stream started (its first text became visible) and the
    response it answers (known once its final text, which names it, is shown)."""

    started: float
    response_id: str | None = None


_STREAM_ENDS = ("chat.stopStream", "chat.update")


class TimedSlack(FakeSlack):
    """FakeSlack that also notes the arrival time (perf_counter) of every reply post, and
    answers every Web API call `api_latency` seconds late (the network and Slack's own time).

    A streamed answer counts as posted when its message first shows the whole answer (the
    stop that carries its last text, or the update that ends it): one Post per message.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._posts: list[Post] = []
        self._streams: dict[tuple[str, str], StreamTimes] = {}
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
        elif method == "chat.startStream" and result.get("ok"):
            with self._lock:
                key = (str(result.get("channel")), str(result.get("ts")))
                self._streams[key] = StreamTimes(time.perf_counter())
        elif method in _STREAM_ENDS and result.get("ok"):
            self._stream_ended(str(params.get("channel")), str(params.get("ts")))
        return result

    def _stream_ended(self, channel: str, ts: str) -> None:
        at = time.perf_counter()
        with self._lock:
            times = self._streams.get((channel, ts))
        if times is None or times.response_id is not None:
            return  # not a stream, or its answer was already counted
        text = self.visible_text(channel, ts)
        match = RESPONSE_ID.search(text)
        if match is None:
            return  # stopped before its last text: the update that follows ends it
        with self._lock:
            self._streams[(channel, ts)] = StreamTimes(times.started, match.group(1))
            self._posts.append(Post(at, channel, text))

    def stream_starts(self) -> dict[str, float]:
        """Response id -> when its answer's stream started, for streams that ended."""
        with self._lock:
            return {t.response_id: t.started for t in self._streams.values() if t.response_id}

    def __enter__(self) -> TimedSlack:
        self.start()
        return self

    def timed_posts(self) -> list[Post]:
        with self._lock:
            return list(self._posts)


class TimedOpenAI(FakeOpenAI):
    """FakeOpenAI whose replies name their response (or agent turn) id, and which notes when
    requests came.

    The responder echoes the turn's texts as the default one does, then appends
    `[resp_…]` (`[turn_…]` for an Agents API turn), so a Slack post maps to exactly one
    response or turn.
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
        texts = list(context.user_texts)
        if context.turn_id.startswith("turn_"):
            texts = [t for t in texts if not _BRIEF.match(t)]
        with self._lock:
            self.inputs[context.turn_id] = texts
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

        elif request.method == "GET" and (match := POLL_PATH.match(request.path)):
            with self._lock:
                self.polled_at[match.group(1) or match.group(2)].append(arrived)
        return response

    def turn_inputs(self) -> dict[str, list[str]]:
        """Input texts of every response that finished (response id -> texts)."""
        with self._lock:
            return {key: list(value) for key, value in self.inputs.items()}

    def turns_created(self) -> list[list[str]]:
        """The input texts of every response created and every agent turn started."""
        with self._store.lock:
            bodies = [rec.request for rec in self._store.responses.values()]
            turns = [list(t.user_texts) for t in self._agent_turns()]
        created = [[str(i.get("content")) for i in body.get("input") or []] for body in bodies]
        return created + [[t for t in texts if not _BRIEF.match(t)] for texts in turns]

    def _agent_turns(self) -> list[TurnRec]:
        return [t for s in self._store.agents.sessions.values() for t in s.turns]

    def timings(self) -> tuple[dict[str, float], dict[str, list[float]]]:
        """Response or turn id -> when it was created; -> when it was polled (perf_counter)."""
        with self._store.lock:
            # A streamed create is answered only when its stream ends: its creation time is
            # the fake's own (time.monotonic, the clock perf_counter reads on Linux).
            started = {rid: rec.timing.started for rid, rec in self._store.responses.items()}
            # An agent turn starts inside the POST that creates its session or sends its
            # message: its clock's start (no function calls here, so it never resumes).
            started |= {t.id: t.segment_start for t in self._agent_turns()}
        with self._lock:
            created = started | dict(self.created_at)
            return created, {k: list(v) for k, v in self.polled_at.items()}
