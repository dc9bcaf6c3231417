"""Serving an agent session's live events (GET …/events, or a create with `stream: true`):
SSE frames as the session emits them, its turn advancing by the clock meanwhile; keep-alive
comments, and the drop and error faults; every connection recorded."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from tests.fakes.openai_agent_turns import advance_session
from tests.fakes.openai_agents_state import AgentKnobs, AgentStreamCall
from tests.fakes.openai_http import standard_headers
from tests.fakes.openai_shapes import JsonDict, SessionStream, new_id
from tests.fakes.openai_store import Store
from tests.fakes.openai_stream_http import frame

# How often an open stream brings its session up to date with the clock.
_LOOK_EVERY = 0.02
STREAM_ERROR = {
    "type": "server_error",
    "code": "server_error",
    "message": "The event stream encountered an error. Reconnect to keep receiving events.",
    "param": None,
}


def _take(knobs: AgentKnobs) -> tuple[int | None, int | None]:
    """The drop and error faults this connection uses up: after how many events each."""
    drop = error = None
    if knobs.drops_left > 0:
        knobs.drops_left -= 1
        drop = knobs.drop_after
    if knobs.errors_left > 0:
        knobs.errors_left -= 1
        error = knobs.error_after
    return drop, error


async def serve_session_stream(
    request: web.Request, store: Store, answer: SessionStream
) -> web.StreamResponse:
    with store.lock:
        call = AgentStreamCall(answer.session_id)
        store.agents.stream_calls.append(call)
        knobs = store.agents.knobs
        drop_after, error_after = _take(knobs)
        keepalive = knobs.keepalive
    response = web.StreamResponse(
        status=200,
        headers={
            **standard_headers(),
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
        },
    )
    # Headers first: a client that subscribes before posting input (the SDK's
    # sessions.stream) sees every event of that input, as the position was taken above.
    await response.prepare(request)
    position, quiet_since = answer.position, time.monotonic()
    try:
        while request.transport is not None and not request.transport.is_closing():
            with store.lock:
                session = store.agents.sessions[answer.session_id]
                advance_session(store, session)
                fresh = session.events[position:]
            for event in fresh:
                if drop_after is not None and len(call.types) >= drop_after:
                    return _drop(request, store, call)
                if error_after is not None and len(call.types) >= error_after:
                    return await _error(response, store, call, answer.session_id)
                await response.write(frame(event))
                position += 1
                quiet_since = time.monotonic()
                with store.lock:
                    call.types.append(str(event["type"]))
            if drop_after is not None and len(call.types) >= drop_after:
                return _drop(request, store, call)
            if keepalive is not None and time.monotonic() - quiet_since >= keepalive:
                await response.write(b": keepalive\n\n")
                quiet_since = time.monotonic()
            await asyncio.sleep(_LOOK_EVERY)
    except ConnectionError:
        pass
    with store.lock:
        call.end = "gone"
    return response


def _drop(request: web.Request, store: Store, call: AgentStreamCall) -> web.StreamResponse:
    """Close the connection mid-body: the client reads an incomplete chunked stream."""
    with store.lock:
        call.end = "dropped"
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)


async def _error(
    response: web.StreamResponse, store: Store, call: AgentStreamCall, session_id: str
) -> web.StreamResponse:
    """An `error` event (types/beta/agent_session_error_event.py), then the stream ends; the
    session goes on without it."""
    event: JsonDict = {
        "type": "error",
        "event_id": new_id("evt"),
        "session_id": session_id,
        "error": dict(STREAM_ERROR),
    }
    await response.write(frame(event))
    with store.lock:
        call.types.append("error")
        call.end = "errored"
    await response.write_eof()
    return response
