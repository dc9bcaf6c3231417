"""Serving a fake response's event stream: `event:`/`data:` frames as the events come due,
keep-alive comments, the drop fault, and a record of every stream request."""

from __future__ import annotations

import asyncio
import json
import time

from aiohttp import web

from tests.fakes.openai_http import standard_headers
from tests.fakes.openai_responses import advance_response
from tests.fakes.openai_shapes import JsonDict, Streamed
from tests.fakes.openai_store import Store, StreamCall

# How often an open stream looks for news it was not woken for (a cancel, a knob).
_LOOK_EVERY = 0.05


def frame(event: JsonDict) -> bytes:
    """One server-sent event as the API writes it: `event: <type>`, `data: <json>`, blank."""
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def _take_drop(store: Store) -> int | None:
    faults = store.stream_faults
    if faults.drops_left is not None and faults.drops_left <= 0:
        return None
    if faults.drops_left is not None:
        faults.drops_left -= 1
    return faults.drop_after


async def serve_stream(request: web.Request, store: Store, answer: Streamed) -> web.StreamResponse:
    """Write the response's events after `answer.after`, live until its events run out."""
    with store.lock:
        call = StreamCall(
            answer.kind, answer.response_id, answer.after if answer.kind == "resume" else None
        )
        store.stream_calls.append(call)
        drop_after = _take_drop(store)
        keepalive = store.knobs.stream_keepalive
    response = web.StreamResponse(
        status=200,
        headers={
            **standard_headers(),
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
        },
    )
    await response.prepare(request)
    position, quiet_since = answer.after + 1, time.monotonic()
    try:
        while True:
            if drop_after is not None and len(call.sequence_numbers) >= drop_after:
                return _drop(request, store, call)
            with store.lock:
                rec = store.responses[answer.response_id]
                advance_response(store, rec)
                stream = rec.stream
                assert stream is not None
                fresh = stream.log[position:]
                ended = stream.finished(rec) and position + len(fresh) >= len(stream.log)
                wait = stream.due_in(rec)
            for event in fresh:
                await response.write(frame(event))
                position += 1
                with store.lock:
                    call.sequence_numbers.append(int(event["sequence_number"]))
                if drop_after is not None and len(call.sequence_numbers) >= drop_after:
                    return _drop(request, store, call)
            if fresh:
                quiet_since = time.monotonic()
            if ended:
                break
            if keepalive is not None and time.monotonic() - quiet_since >= keepalive:
                await response.write(b": keepalive\n\n")
                quiet_since = time.monotonic()
            pause = _LOOK_EVERY if wait is None else min(wait, _LOOK_EVERY)
            if keepalive is not None:
                pause = min(pause, max(0.0, keepalive - (time.monotonic() - quiet_since)))
            await asyncio.sleep(pause)
    except ConnectionError:
        with store.lock:
            call.end = "gone"
        return response
    with store.lock:
        call.end = "finished"
    await response.write_eof()
    return response


def _drop(request: web.Request, store: Store, call: StreamCall) -> web.StreamResponse:
    """Close the connection mid-body: the client reads an incomplete chunked stream."""
    with store.lock:
        call.end = "dropped"
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)
