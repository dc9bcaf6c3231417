"""FakeOpenAI: a local server speaking the OpenAI wire format for end-to-end tests."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any

from aiohttp import web

from tests.fakes.faults import Fault
from tests.fakes.openai_agent_stream import serve_session_stream
from tests.fakes.openai_agents import check_gate, is_agents_path
from tests.fakes.openai_api_agents import AgentKnobsMixin
from tests.fakes.openai_api_knobs import KnobsMixin
from tests.fakes.openai_api_tools import ToolKnobsMixin
from tests.fakes.openai_http import (
    BadJson,
    Form,
    Recorded,
    blob_response,
    form_summary,
    json_response,
    read_body,
    standard_headers,
)
from tests.fakes.openai_response_json import response_json
from tests.fakes.openai_routes import advance_all, route
from tests.fakes.openai_run_json import run_json
from tests.fakes.openai_shapes import (
    Accepted,
    ApiError,
    ApiRequest,
    Blob,
    JsonDict,
    Later,
    SessionStream,
    Streamed,
    default_error,
)
from tests.fakes.openai_store import ReplyContext, Responder, Store
from tests.fakes.openai_stream_http import serve_stream
from tests.fakes.openai_stream_knobs import StreamKnobsMixin
from tests.fakes.openai_threads import assistant_json
from tests.fakes.server import FakeServer

__all__ = ["FakeOpenAI", "Recorded", "ReplyContext", "Responder"]

_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


# Above the Files API's 512 MB limit, so that `max_file_bytes` (not aiohttp) rejects uploads.
MAX_BODY_BYTES = 600 * 1024 * 1024


class FakeOpenAI(FakeServer[Store], KnobsMixin, ToolKnobsMixin, StreamKnobsMixin, AgentKnobsMixin):
    """Conversations, background Responses, Assistants (threads/runs), Agents (beta), Files
    and Models.

    Use `with FakeOpenAI() as oa:` and point the SDK at `oa.url + "/v1"`.
    """

    def __init__(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        super().__init__(Store(), app, name="fake-openai")
        self._requests: list[Recorded] = []
        # Extra fields of model objects by id (e.g. shutdown_date); may be edited any time.
        self.model_extra: dict[str, JsonDict] = self._store.knobs.model_extra

    # faults ----------------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: JsonDict | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with an HTTP error (OpenAI error body)."""
        self._faults.add(
            Fault(
                method.upper(),
                re.compile(path_regex),
                status,
                body if body is not None else default_error(status),
                dict(headers or {}),
                times,
            )
        )

    def drop_next(self, method: str, path_regex: str, times: int = 1) -> None:
        """Close the connection of the next `times` matching requests without answering."""
        self._faults.add(Fault(method.upper(), re.compile(path_regex), times=times, drop=True))

    def lose_answer_next(self, method: str, path_regex: str, times: int = 1) -> None:
        """Carry out the next matching requests, then close the connection: done, unanswered."""
        self._faults.add(
            Fault(method.upper(), re.compile(path_regex), times=times, drop=True, after=True)
        )

    def hold_answer_next(self, method: str, path_regex: str, seconds: float) -> None:
        """Carry out the next matching request, then wait `seconds` before answering."""
        self._faults.add(Fault(method.upper(), re.compile(path_regex), after=True, delay=seconds))

    # state set-up ----------------------------------------------------------------------
    def add_assistant(
        self,
        assistant_id: str,
        model: str = "gpt-4o",
        instructions: str = "",
        name: str | None = None,
        tools: list[Any] | None = None,
    ) -> JsonDict:
        assistant = assistant_json(
            assistant_id, model=model, instructions=instructions, name=name, tools=tools
        )
        with self._store.lock:
            self._store.assistants[assistant_id] = assistant
        return copy.deepcopy(assistant)

    # inspection (copies, safe from any thread) ------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        with self._store.lock:
            return list(self._requests)

    def calls(self, method: str, path_regex: str) -> list[Recorded]:
        pattern = re.compile(path_regex)
        return [
            r for r in self.requests if method.upper() in ("*", r.method) and pattern.search(r.path)
        ]

    def conversation_items(self, conversation_id: str) -> list[JsonDict]:
        return self._read(lambda s: s.conversations[conversation_id].items)

    def thread_messages(self, thread_id: str) -> list[JsonDict]:
        return self._read(lambda s: s.threads[thread_id].messages)

    def responses_created(self) -> list[JsonDict]:
        """Request bodies of the responses actually created (not the rejected attempts)."""
        return self._read(lambda s: [r.request for r in s.responses.values()])

    def runs_created(self) -> list[JsonDict]:
        return self._read(lambda s: [r.request for r in s.runs.values()])

    def response(self, response_id: str) -> JsonDict:
        return self._read(lambda s: response_json(s.responses[response_id]))

    def run(self, run_id: str) -> JsonDict:
        return self._read(lambda s: run_json(s.runs[run_id]))

    def _catch_up(self) -> None:
        advance_all(self._store)

    def _dump(self) -> str:
        lines = [f"{r.method} {r.path} {json.dumps(r.json)[:300]}" for r in self.requests[-30:]]
        return "last requests to fake OpenAI:\n  " + "\n  ".join(lines or ["(none)"])

    # HTTP ------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        payload, form = await read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        recorded = Recorded(
            request.method,
            request.path,
            dict(request.query),
            headers,
            None if isinstance(payload, BadJson) else payload,
            form_summary(form),
        )
        with self._store.lock:
            self._requests.append(recorded)
        return await self._answer_with(
            self._faults.take(request.method, request.path),
            request,
            lambda: self._answer_or_error(request, recorded, payload, form),
            lambda fault: json_response(fault.status, fault.body, fault.headers),
        )

    async def _answer_or_error(
        self, request: web.Request, recorded: Recorded, payload: Any, form: Form | None
    ) -> web.StreamResponse:
        try:
            return await self._answer(request, recorded, payload, form)
        except ApiError as exc:
            return json_response(exc.status, exc.body)
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test
            with self._store.lock:
                self._store.errors.append(f"{request.method} {request.path}: {exc!r}")
            return json_response(500, default_error(500))

    async def _answer(
        self, request: web.Request, recorded: Recorded, payload: Any, form: Form | None
    ) -> web.StreamResponse:
        self._check_auth(recorded.headers.get("authorization", ""))
        if isinstance(payload, BadJson):
            raise ApiError(400, "We could not parse the JSON body of your request.")
        found = route(request.method, request.path)
        if found is None:
            raise ApiError(404, f"Invalid URL ({request.method} {request.path})")
        handler, match = found
        api_request = ApiRequest(
            request.method,
            request.path,
            dict(recorded.query),
            copy.deepcopy(payload),
            form,
            recorded.headers,
        )
        with self._store.lock:
            if is_agents_path(request.path):
                check_gate(self._store, request.method, recorded.headers)
            advance_all(self._store)
            result = handler(self._store, api_request, match)
            if isinstance(result, Blob):
                return blob_response(result)
            if isinstance(result, Accepted):
                return web.Response(status=result.status, headers=standard_headers())
            streamed = isinstance(result, Later | Streamed | SessionStream)
            text = None if streamed else json.dumps(result)
        if isinstance(result, Streamed):
            return await serve_stream(request, self._store, result)
        if isinstance(result, SessionStream):
            return await serve_session_stream(request, self._store, result)
        if isinstance(result, Later):
            await asyncio.sleep(result.delay)
            with self._store.lock:
                advance_all(self._store)
                text = json.dumps(result.then())
        return web.Response(text=text, content_type="application/json", headers=standard_headers())

    def _check_auth(self, authorization: str) -> None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise ApiError(401, _NO_KEY)
        expected = self.api_key
        if expected is not None and key != expected:
            raise ApiError(
                401,
                f"Incorrect API key provided: {key[:3]}***{key[-4:]}. You can "
                "find your API key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
