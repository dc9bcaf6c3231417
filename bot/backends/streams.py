"""A Responses run's event stream, read as the bridge needs it: the answer's text as it is
written, the steps of hosted tools and reasoning, and the end as the RunState a poll gives.

Event shapes: openai/types/responses/response_stream_event.py and the types it lists. Each
event has a `sequence_number`, increasing per response; `GET /responses/{id}?stream=true&
starting_after=N` resumes a background response's stream after event N. Only what the bridge
uses is read (one json.loads per event, no models): this runs for every turn.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from bot.backends.base import RunState, RunStatus
from bot.backends.sse import EventSource
from bot.errors import BackendError

JsonDict = dict[str, Any]
# The state of a finished response from its JSON (`final_state` of bot/backends/responses.py).
Settle = Callable[[JsonDict, RunStatus], RunState]
# One poll of the run (by id), for a stream that ended without saying how the run ended.
Look = Callable[[str], Awaitable[RunState]]

_ENDS = {
    "response.completed": RunStatus.COMPLETED,
    "response.incomplete": RunStatus.INCOMPLETE,
    "response.failed": RunStatus.FAILED,
}
_FINAL_STATUSES = {"completed", "failed", "cancelled", "incomplete"}
_TITLES = {
    "code_interpreter_call": "Running code",
    "file_search_call": "Searching files",
    "web_search_call": "Searching the web",
    "reasoning": "Thinking",
}


@dataclass(frozen=True)
class Source:
    """A web page a search found: the API gives its URL (`action.sources`), rarely a title."""

    url: str
    title: str = ""


@dataclass(frozen=True)
class TextDelta:
    """Answer text the model just wrote (never reasoning text)."""

    text: str


@dataclass(frozen=True)
class ToolStep:
    """A hosted tool's or reasoning step (for Slack's task_update chunks); `step_id` is the
    output item's id."""

    step_id: str
    title: str
    status: Literal["in_progress", "complete", "error"]
    sources: tuple[Source, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class StreamEnd:
    """The response ended: exactly the RunState poll_run gives for it."""

    state: RunState


StreamItem = TextDelta | ToolStep | StreamEnd


class StreamDropped(BackendError):
    """The stream broke, stayed silent past the idle timeout, or ended without a terminal
    event while the run still runs: resume it after `last_sequence`, or poll."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True, code="stream_dropped")


class RunStream:
    """The rest of one run's stream. Iterate once; it ends after a StreamEnd, or raises
    StreamDropped (`last_sequence` says where a resume picks up)."""

    def __init__(
        self, source: EventSource, *, run_id: str, after: int, settle: Settle, look: Look
    ) -> None:
        self.run_id = run_id
        self.last_sequence = after
        self._source = source
        self._settle = settle
        self._look = look
        self._last_item: str | None = None
        self._steps: dict[str, str] = {}
        self._summaries: dict[str, str] = {}
        self._summary_part: dict[str, int] = {}
        self._items: AsyncGenerator[StreamItem, None] | None = None

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        if self._items is None:
            self._items = self._read()
        return self._items

    async def aclose(self) -> None:
        if self._items is not None:
            await self._items.aclose()
        self._source.close()

    @classmethod
    async def created(cls, source: EventSource, *, settle: Settle, look: Look) -> RunStream:
        """A create's stream read up to `response.created` (the run's id is known then), the
        rest left unread. Before that the run may or may not exist: errors are a create's."""
        stream = cls(source, run_id="", after=-1, settle=settle, look=look)
        try:
            while True:
                event = await stream._next_event()
                if event is None:
                    raise BackendError(
                        "stream ended before response.created", transient=True, code="connection"
                    )
                response_id = _dict(event.get("response")).get("id")
                if isinstance(response_id, str) and response_id:
                    stream.run_id = response_id
                    return stream
                if event["type"] == "error":
                    code = str(
                        event.get("code") or _dict(event.get("error")).get("code") or "stream_error"
                    )
                    raise BackendError(f"stream error {code}", transient=True, code=code)
        except StreamDropped as exc:
            source.close()
            raise BackendError(str(exc), transient=True, code="connection") from exc
        except BaseException:
            source.close()
            raise

    async def _next_event(self) -> JsonDict | None:
        """The next event not seen before (a resume may repeat none), None at a clean end."""
        while True:
            try:
                sse = await self._source.next()
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise StreamDropped(f"stream broke: {type(exc).__name__}") from exc
            if sse is None:
                return None
            try:
                data = json.loads(sse.data)
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            sequence = data.get("sequence_number")
            if isinstance(sequence, int):
                if sequence <= self.last_sequence:
                    continue
                self.last_sequence = sequence
            data.setdefault("type", sse.event)
            return data

    async def _read(self) -> AsyncGenerator[StreamItem, None]:
        try:
            while True:
                event = await self._next_event()
                if event is None:
                    yield StreamEnd(await self._ended_early())
                    return
                item = await self._item_of(event)
                if item is not None:
                    yield item
                    if isinstance(item, StreamEnd):
                        return
        finally:
            self._source.close()

    async def _item_of(self, event: JsonDict) -> StreamItem | None:
        kind = event["type"]
        if kind == "response.output_text.delta":
            delta = event.get("delta")
            return TextDelta(delta) if isinstance(delta, str) and delta else None
        if kind == "response.reasoning_summary_text.delta":
            return self._summary_delta(event)
        if kind == "response.output_item.added":
            return self._started(_dict(event.get("item")))
        if kind == "response.output_item.done":
            return self._done(_dict(event.get("item")))
        if kind in _ENDS:
            response = _dict(event.get("response"))
            status = str(response.get("status"))
            final = RunStatus(status) if status in _FINAL_STATUSES else _ENDS[kind]
            return StreamEnd(self._settle(response, final))
        if kind == "error":
            return StreamEnd(await self._failed(event))
        return None

    def _started(self, item: JsonDict) -> ToolStep | None:
        item_id = str(item.get("id") or "")
        self._last_item = item_id or self._last_item
        title = _title(item)
        if title is None:
            return None
        self._steps[item_id] = title
        return ToolStep(item_id, title, "in_progress")

    def _done(self, item: JsonDict) -> ToolStep | None:
        item_id = str(item.get("id") or "")
        self._last_item = item_id or self._last_item
        title = self._steps.pop(item_id, None) or _title(item)
        if title is None:
            return None
        failed = item.get("status") in ("failed", "incomplete")
        parts = [_dict(part).get("text") for part in item.get("summary") or []]
        summary = "\n\n".join(text for text in parts if isinstance(text, str) and text)
        detail = summary or self._summaries.get(item_id, "")
        self._summaries.pop(item_id, None)
        self._summary_part.pop(item_id, None)
        return ToolStep(item_id, title, "error" if failed else "complete", _sources(item), detail)

    def _summary_delta(self, event: JsonDict) -> ToolStep | None:
        item_id, delta = str(event.get("item_id") or ""), event.get("delta")
        if not isinstance(delta, str) or not delta:
            return None
        so_far = self._summaries.get(item_id, "")
        if so_far and event.get("summary_index", 0) != self._summary_part.get(item_id, 0):
            so_far += "\n\n"
        self._summary_part[item_id] = int(event.get("summary_index") or 0)
        self._summaries[item_id] = so_far + delta
        title = self._steps.get(item_id, _TITLES["reasoning"])
        return ToolStep(item_id, title, "in_progress", detail=self._summaries[item_id])

    async def _failed(self, event: JsonDict) -> RunState:
        """An `error` event (code, message, param): the run failed. A poll gives the state
        exactly as polling says it (its watermark); without one, the event's code."""
        error = _dict(event.get("error"))
        code = event.get("code") or error.get("code") or "stream_error"
        try:
            state = await self._look(self.run_id)
        except BackendError:
            state = None
        if state is not None and state.status is not RunStatus.RUNNING:
            return state
        return RunState(RunStatus.FAILED, reason=str(code), watermark=self._last_item)

    async def _ended_early(self) -> RunState:
        """The stream ended without a terminal event: a cancelled response's does (the
        event union has no cancellation event). A poll says how the run ended, if it has."""
        try:
            state = await self._look(self.run_id)
        except BackendError as exc:
            raise StreamDropped("stream ended early; the poll failed") from exc
        if state.status is RunStatus.RUNNING:
            raise StreamDropped("stream ended without a terminal event")
        return state


def _title(item: JsonDict) -> str | None:
    """The step a hosted tool's or reasoning item is; None for others. A function call is
    no step here: the bridge runs it, and the turn shows it while it runs (its card is
    complete when the function is done, not when the model has written the call)."""
    return _TITLES.get(str(item.get("type")))


def _sources(item: JsonDict) -> tuple[Source, ...]:
    """Web search results: `action.sources` ([{type: "url", url}], when the request has
    include=["web_search_call.action.sources"])."""
    found = _dict(item.get("action")).get("sources")
    if not isinstance(found, list):
        return ()
    return tuple(
        Source(str(s["url"]), str(s.get("title") or ""))
        for s in found
        if isinstance(s, dict) and isinstance(s.get("url"), str)
    )


def _dict(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}
