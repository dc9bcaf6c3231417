"""FakeSlack: a local Slack Web API (plus upload, file and response_url endpoints) for tests."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import secrets
import time
from typing import Any, Self

from aiohttp import web

from tests.fakes import slack_files
from tests.fakes import slack_socket_messages as socket_messages
from tests.fakes.faults import Fault
from tests.fakes.slack_api_streams import FakeSlackStreams
from tests.fakes.slack_blocks import decode_params
from tests.fakes.slack_rate_limits import RATELIMITED, throttle
from tests.fakes.slack_routes import METHODS
from tests.fakes.slack_socket import ROUTE, SocketHub, SocketMessage, ack_of
from tests.fakes.slack_store import JsonDict, SlackCall, SlackError, SlackStore, Upload
from tests.fakes.slack_ts import next_ts

__all__ = ["FakeSlack", "SlackCall", "SocketMessage", "Upload"]


class FakeSlack(FakeSlackStreams):
    """Slack's Web API in memory. Use `with FakeSlack() as slack:`; SDK base_url is
    `slack.url + "/api/"`. Knob dicts (channel_errors, latency, users) may be edited any time;
    streams, rate limits and agent sessions: FakeSlackStreams.
    Socket Mode: apps.connections.open (app token) hands out a ws:// URL; `socket_send_*`
    push envelopes down the open connection, `socket_acks()` reads what came back.
    """

    def __init__(
        self, *, bot_token: str = "xoxb-test-token", app_token: str = "xapp-test-token"
    ) -> None:
        store = SlackStore(bot_token=bot_token, app_token=app_token)
        self._socket = SocketHub(store)
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{segment}/{name}", self._download)
        app.router.add_get("/files-pri/{segment}/download/{name}", self._download)
        app.router.add_post("/response_url/{tag}", self._response_url)
        app.router.add_get(ROUTE, self._socket.handle)
        app.on_shutdown.append(self._socket.close_all)
        super().__init__(store, app, name="fake-slack")
        self.channel_errors: dict[str, str] = store.channel_errors
        self.latency: dict[str, float] = store.latency
        self.users: dict[str, JsonDict] = store.users

    def start(self) -> Self:
        """Start serving; the Socket Mode URLs handed out are built on the address it got."""
        super().start()
        with self._store.lock:
            self._store.base_url = self.url
        return self

    @property
    def bot_token(self) -> str:
        with self._store.lock:
            return self._store.bot_token

    @bot_token.setter
    def bot_token(self, value: str) -> None:
        with self._store.lock:
            self._store.bot_token = value

    @property
    def app_token(self) -> str:
        """The app-level token apps.connections.open accepts."""
        with self._store.lock:
            return self._store.app_token

    @app_token.setter
    def app_token(self, value: str) -> None:
        with self._store.lock:
            self._store.app_token = value

    @property
    def scopes(self) -> str:
        """Comma-separated scopes sent back in the x-oauth-scopes header."""
        with self._store.lock:
            return self._store.scopes

    @scopes.setter
    def scopes(self, value: str) -> None:
        with self._store.lock:
            self._store.scopes = value

    # faults ----------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next `times` calls of `method` ("*" for any) with {"ok": false, …}."""
        default = "ratelimited" if status == 429 else "internal_error"
        body = {"ok": False, "error": error or default}
        self._faults.add(
            Fault("*", _method_pattern(method), status, body, dict(headers or {}), times)
        )

    def drop_next(self, method: str, *, times: int = 1) -> None:
        """Close the connection of the next `times` calls of `method` without answering."""
        self._faults.add(Fault("*", _method_pattern(method), times=times, drop=True))

    def lose_answer_next(self, method: str, *, times: int = 1) -> None:
        """Carry out the next `times` calls of `method`, then close the connection: done,
        but the caller never learns so (a post that reached Slack, its answer lost)."""
        self._faults.add(Fault("*", _method_pattern(method), times=times, drop=True, after=True))

    def hold_answer_next(self, method: str, seconds: float) -> None:
        """Carry out the next call of `method`, then wait `seconds` before answering."""
        self._faults.add(Fault("*", _method_pattern(method), after=True, delay=seconds))

    # state set-up ----------------------------------------------------------------------
    def add_file(
        self, file_id: str, name: str, content: bytes, mimetype: str = "application/octet-stream"
    ) -> JsonDict:
        """Register a file a user "shared"; returns its Slack file object (url_private…)."""
        with self._store.lock:
            return slack_files.add_file(self._store, file_id, name, content, mimetype)

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U0USER",
        ts: str | None = None,
        thread_ts: str | None = None,
        **extra: Any,
    ) -> str:
        """Seed a (user) message into a channel's history; returns its ts."""
        message = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts or next_ts(),
            "team": "T0TEST",
            **extra,
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._store.lock:
            self._store.messages[channel].append(message)
        return str(message["ts"])

    def response_url(self, tag: str) -> str:
        return f"{self.url}/response_url/{tag}"

    # Socket Mode ---------------------------------------------------------------------------
    def socket_send_event(
        self, event_callback_body: dict[str, Any], *, retry_attempt: int = 0, retry_reason: str = ""
    ) -> str:
        """Send an Events API body in an "events_api" envelope; returns its envelope_id."""
        envelope = socket_messages.events_api(
            event_callback_body, retry_attempt=retry_attempt, retry_reason=retry_reason
        )
        return self.socket_send(envelope)

    def socket_send_command(self, form_fields: dict[str, str]) -> str:
        """Send a slash command's fields in a "slash_commands" envelope; returns envelope_id."""
        return self.socket_send(socket_messages.slash_commands(form_fields))

    def socket_send(self, message: JsonDict) -> str:
        """Send any message to one connected client; returns its envelope_id (or "")."""
        self._server.call(self._socket.send(message))
        return str(message.get("envelope_id", ""))

    def socket_disconnect(self, reason: str = "refresh_requested") -> int:
        """Send {"type": "disconnect"} to every connection; returns how many got it."""
        return self._server.call(self._socket.broadcast(socket_messages.disconnect(reason)))

    def socket_connected(self) -> bool:
        """Whether a client has a Socket Mode connection open."""
        return self._socket.connected() > 0

    def socket_connections(self) -> int:
        """How many client connections are open now."""
        return self._socket.connected()

    def socket_connections_opened(self) -> int:
        """How many connections were ever accepted (each got a hello)."""
        return self._socket.opened()

    def socket_acks(self) -> list[JsonDict]:
        """Every ack clients sent ({"envelope_id": …, "payload"?: …}), in order."""
        acks = (ack_of(m) for m in self._socket.received())
        return copy.deepcopy([a for a in acks if a is not None])

    def socket_ack(self, envelope_id: str) -> JsonDict | None:
        """The ack of one envelope, or None while there is none."""
        found = [a for a in self.socket_acks() if a["envelope_id"] == envelope_id]
        return found[0] if found else None

    def socket_received(self) -> list[SocketMessage]:
        """Every text message clients sent (acks and anything else), in order."""
        return copy.deepcopy(self._socket.received())

    def socket_sent(self) -> list[JsonDict]:
        """Every message the fake sent down a socket after hello, in order."""
        return copy.deepcopy([m for _, m in self._socket.sent()])

    def socket_pings(self) -> int:
        """How many websocket pings clients sent (each was answered with a pong)."""
        return self._socket.pings()

    # inspection (copies, safe from any thread) ------------------------------------------
    def calls(self, method: str | None = None) -> list[SlackCall]:
        return self._read(lambda s: [c for c in s.calls if method in (None, c.method)])

    def posts(self, channel: str | None = None) -> list[JsonDict]:
        """Messages created by successful chat.postMessage calls, in order, as posted."""
        return self._read(lambda s: [m for c, m in s.posts if channel in (None, c)])

    def messages(self, channel: str, thread_ts: str | None = None) -> list[JsonDict]:
        """A channel's stored messages now (after updates/deletes), oldest first."""
        return self._read(
            lambda s: [
                m
                for m in s.messages.get(channel, [])
                if thread_ts in (None, m.get("thread_ts"), m["ts"])
            ]
        )

    def ephemerals(self, channel: str | None = None) -> list[JsonDict]:
        return self._read(lambda s: [e for e in s.ephemerals if channel in (None, e["channel"])])

    def reactions(self, channel: str, ts: str) -> set[str]:
        return self._read(lambda s: s.reactions.get((channel, ts), set()))

    def statuses(self, channel: str | None = None) -> list[JsonDict]:
        """assistant.threads.setStatus calls that succeeded: {channel_id, thread_ts, status…}."""
        return self._read(
            lambda s: [
                x
                for x in s.statuses
                if x["kind"] == "status" and channel in (None, x["channel_id"])
            ]
        )

    def suggested_prompts(self, channel: str | None = None) -> list[JsonDict]:
        """assistant.threads.setSuggestedPrompts calls that succeeded: {channel_id, prompts…}."""
        return self._read(
            lambda s: [
                x
                for x in s.statuses
                if x["kind"] == "prompts" and channel in (None, x["channel_id"])
            ]
        )

    def uploads(self) -> list[Upload]:
        return self._read(lambda s: s.uploads)

    def response_url_posts(self, tag: str) -> list[Any]:
        return self._read(lambda s: s.response_url_posts.get(tag, []))

    def _dump(self) -> str:
        lines = [
            f"{c.method} {json.dumps(c.params, default=repr)[:300]}" for c in self.calls()[-30:]
        ]
        return "last calls to fake Slack:\n  " + "\n  ".join(lines or ["(none)"])

    # HTTP ------------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await _read_params(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        with self._store.lock:
            call = SlackCall(method, params, headers)
            self._store.calls.append(call)
            delay = self._store.latency.get(method, 0.0)
            retry_after = throttle(self._store, method, time.monotonic())
            if retry_after is not None:
                self._store.throttled.append(call)
        if retry_after is not None:
            return self._reply(RATELIMITED, 429, {"Retry-After": retry_after})
        if delay:
            await asyncio.sleep(delay)

        async def answer() -> web.StreamResponse:
            return self._reply(self._call(method, params, headers.get("authorization", "")))

        return await self._answer_with(
            self._faults.take("*", method),
            request,
            answer,
            lambda fault: self._reply(fault.body, fault.status, fault.headers),
        )

    def _call(self, method: str, params: dict[str, Any], authorization: str) -> JsonDict:
        args = {k: v for k, v in params.items() if k != "token"}
        token = authorization.removeprefix("Bearer ").strip() or str(params.get("token") or "")
        with self._store.lock:
            try:
                if not token:
                    raise SlackError("not_authed")
                if method == "apps.connections.open":
                    return {"ok": True, **self._open_socket(token)}
                if token == self._store.app_token:
                    raise SlackError("not_allowed_token_type")
                if token != self._store.bot_token:
                    raise SlackError("invalid_auth")
                handler = METHODS.get(method)
                if handler is None:
                    raise SlackError("unknown_method")
                return {"ok": True, **handler(self._store, args)}
            except SlackError as exc:
                return {"ok": False, "error": exc.error, **exc.extra}
            except Exception as exc:  # a bug in the fake: keep it for the test to see
                self._store.errors.append(f"{method}: {exc!r}")
                return {"ok": False, "error": "internal_error"}

    def _open_socket(self, token: str) -> JsonDict:
        if token != self._store.app_token:
            known = token == self._store.bot_token
            raise SlackError("not_allowed_token_type" if known else "invalid_auth")
        return self._socket.issue_url()

    def _reply(
        self, body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        standard = {"x-oauth-scopes": self.scopes, "x-slack-req-id": secrets.token_hex(16)}
        return web.json_response(body, status=status, headers={**standard, **(headers or {})})

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        content = await request.read()
        with self._store.lock:
            stored = slack_files.receive_upload(self._store, request.match_info["file_id"], content)
        if not stored:
            return web.Response(status=404, text="file_not_found")
        return web.Response(text=f"OK - {len(content)}")

    async def _download(self, request: web.Request) -> web.StreamResponse:
        with self._store.lock:
            authorized = request.headers.get("Authorization") == f"Bearer {self._store.bot_token}"
            rec = slack_files.private_file(self._store, request.match_info["segment"])
            found = None if rec is None else (rec.content, str(rec.file["mimetype"]))
        if not authorized:
            return web.Response(status=403, text="Forbidden")
        if found is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=found[0], content_type=found[1])

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._store.lock:
            self._store.response_url_posts[request.match_info["tag"]].append(body)
        return web.Response(text="ok")


def _method_pattern(method: str) -> re.Pattern[str]:
    return re.compile(".*" if method == "*" else f"^{re.escape(method)}$")


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Query string plus a form, multipart or JSON body, as one decoded dict."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.read() or b"{}")
        except ValueError:
            body = {}
        if isinstance(body, dict):
            params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in (await request.post()).items():
            if isinstance(value, str | bytes | bytearray):
                params[key] = value
            else:
                params[key] = value.file.read()
    return decode_params(params)
