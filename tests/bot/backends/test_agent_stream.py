"""How a session stream's events become the bridge's stream items (bot/backends/agent_stream.py):
answer text, tool steps, commentary as a step, other turns ignored, ends looked up."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.backends.agent_stream import AgentRunStream
from bot.backends.base import RunState, RunStatus
from bot.backends.streams import StreamEnd, StreamItem, TextDelta, ToolStep

TURN = "turn_1"


class Events:
    """An EventSource stand-in: the given frames, then the end."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        import json

        from bot.backends.sse import ServerSentEvent

        self._frames = [
            ServerSentEvent(event=e["type"], data=json.dumps(e).encode()) for e in events
        ]

    async def next(self) -> Any:
        return self._frames.pop(0) if self._frames else None

    def close(self) -> None:
        self._frames.clear()


def read(events: list[dict[str, Any]], state: RunState) -> tuple[list[StreamItem], list[str]]:
    looked: list[str] = []

    async def look(turn_id: str) -> RunState:
        looked.append(turn_id)
        return state

    async def scenario() -> list[StreamItem]:
        stream = AgentRunStream(Events(events), turn_id=TURN, look=look)  # type: ignore[arg-type]
        return [item async for item in stream]

    return asyncio.run(scenario()), looked


def delta(text: str, item: str = "msg_1", turn: str = TURN) -> dict[str, Any]:
    return {
        "type": "agent.session.turn.output_text.delta",
        "delta": text,
        "item_id": item,
        "turn_id": turn,
    }


def added(item: dict[str, Any], turn: str = TURN) -> dict[str, Any]:
    return {"type": "agent.session.turn.item.added", "item": item, "turn_id": turn}


def done(item: dict[str, Any], turn: str = TURN) -> dict[str, Any]:
    return {"type": "agent.session.turn.item.done", "item": item, "turn_id": turn}


COMPLETED = RunState(RunStatus.COMPLETED, text="Hello there", watermark=TURN)
END = {"type": "agent.session.turn.completed", "turn_id": TURN, "turn": {"id": TURN}}


def test_text_steps_and_the_end_in_order() -> None:
    search = {"id": "ws_1", "type": "web_search_call", "status": "in_progress"}
    mcp = {"id": "mcp_1", "type": "mcp_call", "server_label": "crm", "status": "in_progress"}
    items, looked = read(
        [
            added(search),
            done({**search, "status": "completed"}),
            added(mcp),
            done({**mcp, "status": "failed"}),
            added({"id": "msg_1", "type": "message", "phase": "final_answer"}),
            delta("Hello "),
            delta("there"),
            END,
        ],
        COMPLETED,
    )
    assert items == [
        ToolStep("ws_1", "Searching the web", "in_progress"),
        ToolStep("ws_1", "Searching the web", "complete"),
        ToolStep("mcp_1", "Calling crm", "in_progress"),
        ToolStep("mcp_1", "Calling crm", "error"),
        TextDelta("Hello "),
        TextDelta("there"),
        StreamEnd(COMPLETED),
    ]
    assert looked == [TURN], "the end is looked up once, for its items and files"


def test_commentary_is_a_working_step_not_answer_text() -> None:
    items, _ = read(
        [
            added({"id": "c_1", "type": "message", "phase": "commentary"}),
            delta("Let me check", item="c_1"),
            done({"id": "c_1", "type": "message", "phase": "commentary"}),
            delta("Done."),
            END,
        ],
        COMPLETED,
    )
    assert items[:3] == [
        ToolStep("c_1", "Working", "in_progress"),
        ToolStep("c_1", "Working", "in_progress", detail="Let me check"),
        ToolStep("c_1", "Working", "complete", detail="Let me check"),
    ]
    assert items[3:] == [TextDelta("Done."), StreamEnd(COMPLETED)]


def test_events_of_other_turns_change_nothing() -> None:
    other_end = {"type": "agent.session.turn.completed", "turn_id": "turn_9", "turn": {}}
    items, looked = read(
        [delta("not ours", turn="turn_9"), other_end, {"type": "agent.session.idle"}, END],
        COMPLETED,
    )
    assert items == [StreamEnd(COMPLETED)]
    assert looked == [TURN]


def test_required_actions_end_the_stream_only_when_the_turn_waits_for_the_bridge() -> None:
    waiting = RunState(RunStatus.REQUIRES_ACTION, watermark=TURN)
    items, _ = read([{"type": "agent.session.requires_action", "session": {}}], waiting)
    assert items == [StreamEnd(waiting)]
    # An approval the poll declined: the turn goes on, the stream too.
    states = iter([RunState(RunStatus.RUNNING), COMPLETED])

    async def look(turn_id: str) -> RunState:
        return next(states)

    async def scenario() -> list[StreamItem]:
        events = Events(
            [{"type": "agent.session.requires_action", "session": {}}, delta("on"), END]
        )
        stream = AgentRunStream(events, turn_id=TURN, look=look)  # type: ignore[arg-type]
        return [item async for item in stream]

    assert asyncio.run(scenario()) == [TextDelta("on"), StreamEnd(COMPLETED)]


def test_an_end_the_turn_record_does_not_show_yet_is_a_drop_not_an_end() -> None:
    import pytest

    from bot.backends.streams import StreamDropped

    with pytest.raises(StreamDropped):
        read([END], RunState(RunStatus.RUNNING))
