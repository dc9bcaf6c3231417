"""Server-sent events read off an aiohttp response: `event:` and `data:` fields, comments skipped.

The format (https://html.spec.whatwg.org/multipage/server-sent-events.html): lines end in
LF or CRLF (OpenAI writes LF; a lone CR is not handled), a blank line ends an event, a line
starting with ":" is a comment (keep-alives), `field: value` loses one leading space, and
several `data:` lines join with LF. Lines are split here rather than with aiohttp's
`readline`, which refuses lines over its buffer limit (128 KiB): a `response.completed`
event carries the whole response on one line.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True)
class ServerSentEvent:
    """One event: its `event:` name ("" when none) and its data, still bytes."""

    event: str
    data: bytes


class SseDecoder:
    """Bytes in as they arrive, complete events out."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._event = ""
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        self._pending.append(chunk)
        if b"\n" not in chunk:
            return []
        *lines, rest = b"".join(self._pending).split(b"\n")
        self._pending = [rest] if rest else []
        events: list[ServerSentEvent] = []
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if self._data:
                    events.append(ServerSentEvent(self._event, b"\n".join(self._data)))
                self._event, self._data = "", []
            elif line[:1] != b":":
                name, _, value = line.partition(b":")
                value = value[1:] if value[:1] == b" " else value
                if name == b"data":
                    self._data.append(value)
                elif name == b"event":
                    self._event = value.decode("utf-8", "replace")
        return events


class EventSource:
    """The events of one open event-stream response, in order; None once it ends cleanly.

    Reading raises what aiohttp raises: `ClientPayloadError` when the connection breaks
    mid-body, `SocketTimeoutError` when the request's `sock_read` timeout passes without
    a byte (a keep-alive comment is bytes too).
    """

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._decoder = SseDecoder()
        self._ready: deque[ServerSentEvent] = deque()

    async def next(self) -> ServerSentEvent | None:
        while not self._ready:
            chunk = await self._response.content.readany()
            if not chunk:
                return None
            self._ready.extend(self._decoder.feed(chunk))
        return self._ready.popleft()

    def close(self) -> None:
        self._response.close()
