"""An Agents API session's event stream, read for one turn as the bridge reads a Responses
stream: answer text as it is written, steps of the agent's tools, the end as a poll's state.

`GET /agents/sessions/{id}/events` streams the *session's* live events (every turn's, and
subagents'), and replays nothing missed: the stream is opened before the input is sent, and
after a drop it is opened again and the turn looked at once (`sessions.turns.retrieve` and
its items: what the guide prescribes), so an end that happened meanwhile is not waited for.

Events the bridge reads (openai/types/beta/agent_session_event.py): `…turn.output_text.delta`
(text; of a `commentary` message, a step's detail instead), `…turn.item.added|done` (tool
steps), `agent.session.requires_action` (function calls or approvals: the turn's state is
looked up), `…turn.completed|failed|cancelled` and `agent.session.failed` (the end, looked
up for its items, files and usage), `error`. The rest — session status, environment,
reasoning-summary and content-part events, `output_text.done`, subagent events and any
event of another turn — changes nothing the bridge shows.
"""

from __future__ import annotations

from typing import Any

from bot.backends.base import RunState, RunStatus
from bot.backends.sse import EventSource
from bot.backends.streams import (
    Look,
    RunStream,
    StreamDropped,
    StreamEnd,
    StreamItem,
    TextDelta,
    ToolStep,
)

JsonDict = dict[str, Any]

_ENDS = (
    "agent.session.turn.completed",
    "agent.session.turn.failed",
    "agent.session.turn.cancelled",
)
_TITLES = {
    "web_search_call": "Searching the web",
    "command_execution": "Running a command",
    "mcp_call": "Calling a tool",
    "computer_use_call": "Using the computer",
    "reasoning": "Thinking",
}


def _unused_settle(data: JsonDict, status: RunStatus) -> RunState:
    return RunState(status)


class AgentRunStream(RunStream):
    """The rest of one turn's events on its session's stream. `ended`: a state already known
    (a resume found the turn finished), yielded before anything is read."""

    def __init__(
        self, source: EventSource, *, turn_id: str, look: Look, ended: RunState | None = None
    ) -> None:
        super().__init__(source, run_id=turn_id, after=-1, settle=_unused_settle, look=look)
        self._ended = ended
        self._commentary: set[str] = set()

    async def _item_of(self, event: JsonDict) -> StreamItem | None:
        if self._ended is not None:
            ended, self._ended = self._ended, None
            return StreamEnd(ended)
        kind = str(event.get("type"))
        if kind in ("error", "agent.session.failed"):
            state = await self._look(self.run_id)
            if state.status is RunStatus.RUNNING:
                raise StreamDropped(f"session stream said {kind}; the turn runs on")
            return StreamEnd(state)
        if kind == "agent.session.requires_action":
            state = await self._look(self.run_id)
            # A denied approval lets the turn go on: nothing to end yet.
            return None if state.status is RunStatus.RUNNING else StreamEnd(state)
        turn_id = event.get("turn_id") or _dict(event.get("turn")).get("id")
        if turn_id is not None and turn_id != self.run_id:
            return None  # another turn's (a subagent's) event
        if kind in _ENDS:
            state = await self._look(self.run_id)
            if state.status is RunStatus.RUNNING:  # the turn's record lags its event
                raise StreamDropped("the turn ended on the stream but not yet in its record")
            return StreamEnd(state)
        if kind == "agent.session.turn.output_text.delta":
            return self._delta(event)
        if kind == "agent.session.turn.item.added":
            return self._added(_dict(event.get("item")))
        if kind == "agent.session.turn.item.done":
            return self._finished(_dict(event.get("item")))
        return None

    async def _next_event(self) -> JsonDict | None:
        if self._ended is not None:
            return {"type": "bridge.ended"}
        return await super()._next_event()

    def _delta(self, event: JsonDict) -> StreamItem | None:
        delta, item_id = event.get("delta"), str(event.get("item_id") or "")
        if not isinstance(delta, str) or not delta:
            return None
        if item_id in self._commentary:
            so_far = self._summaries.get(item_id, "") + delta
            self._summaries[item_id] = so_far
            return ToolStep(item_id, "Working", "in_progress", detail=so_far)
        return TextDelta(delta)

    def _added(self, item: JsonDict) -> ToolStep | None:
        item_id = str(item.get("id") or "")
        if item.get("type") == "message" and item.get("phase") == "commentary":
            self._commentary.add(item_id)
            self._steps[item_id] = "Working"
            return ToolStep(item_id, "Working", "in_progress")
        title = _title(item)
        if title is None:
            return None
        self._steps[item_id] = title
        return ToolStep(item_id, title, "in_progress")

    def _finished(self, item: JsonDict) -> ToolStep | None:
        item_id = str(item.get("id") or "")
        title = self._steps.pop(item_id, None) or _title(item)
        if title is None:
            return None
        failed = item.get("status") in ("failed", "incomplete") or bool(item.get("error"))
        detail = self._summaries.pop(item_id, "")
        return ToolStep(item_id, title, "error" if failed else "complete", detail=detail)


def _title(item: JsonDict) -> str | None:
    """The step an item is; a function call is none (the bridge shows its own)."""
    kind = str(item.get("type"))
    if kind == "mcp_call" and item.get("server_label"):
        return f"Calling {item['server_label']}"
    return _TITLES.get(kind)


def _dict(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}
