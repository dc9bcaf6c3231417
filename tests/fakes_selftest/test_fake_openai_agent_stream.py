"""The fake Agents API's live session events through the real SDK: only what happens after
subscribing, the turn advancing by itself, SSE framing, the stream faults, and the generic
faults on the input route."""

from __future__ import annotations

import time
from typing import Any

import httpx2
import openai
import pytest
from openai.types.beta import AgentSessionEvent

from tests.fakes.openai_api import FakeOpenAI
from tests.fakes_selftest.test_fake_openai_agents import NONE, answer_of, say, sdk_for, settle


def until_idle(stream: openai.Stream[AgentSessionEvent]) -> list[AgentSessionEvent]:
    """Events up to the `agent.session.idle` after a turn ended."""
    events: list[AgentSessionEvent] = []
    ended = False
    for event in stream:
        events.append(event)
        ended = ended or event.type in ("agent.session.turn.completed", "agent.session.turn.failed")
        if ended and event.type == "agent.session.idle":
            break
    return events


def idle_session(oa: FakeOpenAI, sdk: openai.OpenAI) -> str:
    agent = oa.add_agent()
    session = sdk.beta.agents.sessions.create(environment=NONE, agent_id=agent["id"], input="a")
    return settle(sdk, session.id).id


def test_stream_serves_the_events_after_subscribing(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    oa.latency, oa.agent_deltas = 0.3, 3
    oa.responder = lambda context: "one two three four five six"
    session_id = idle_session(oa, sdk)
    with sdk.beta.agents.sessions.events.stream(session_id) as stream:
        sdk.beta.agents.sessions.events.create(session_id, events=[say("b")])
        events = until_idle(stream)
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "agent.session.turn.created",
        "agent.session.turn.item.added",
        "agent.session.turn.in_progress",
        "agent.session.in_progress",
    ]
    assert kinds[-5:] == [
        "agent.session.turn.output_text.done",
        "agent.session.turn.content_part.done",
        "agent.session.turn.item.done",
        "agent.session.turn.completed",
        "agent.session.idle",
    ]
    deltas = [e for e in events if e.type == "agent.session.turn.output_text.delta"]
    assert len(deltas) == 3 and "".join(d.delta for d in deltas) == "one two three four five six"
    turn_ids = {
        getattr(e, "turn_id", None) for e in events if e.type.startswith("agent.session.turn.")
    }
    assert len(turn_ids) == 1  # nothing of the first turn is replayed
    assert len({e.event_id for e in events}) == len(events)
    oa.wait_for(lambda: [c.end for c in oa.agent_stream_calls] == ["gone"])
    assert oa.agent_stream_calls[0].types == kinds


def test_sdk_stream_helper_handles_function_calls_to_the_final_result(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    oa.responder = lambda context: "sum " + ",".join(context.tool_outputs)
    session_id = idle_session(oa, sdk)
    oa.function_calls_next = [{"name": "add", "arguments": {"a": 1, "b": 2}}]
    handlers: Any = {"add": lambda arguments: str(arguments["a"] + arguments["b"])}
    with sdk.beta.agents.sessions.stream(session_id, input="x", tool_handlers=handlers) as stream:
        result = stream.get_final_result()
    assert result.output_text == "sum 3"


def test_create_with_stream_true_serves_the_first_turn(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    agent = oa.add_agent()
    with sdk.beta.agents.sessions.create(
        environment=NONE, agent_id=agent["id"], input="hi", stream=True
    ) as stream:
        events = until_idle(stream)
    assert events[0].type == "agent.session.created"
    assert events[-2].type == "agent.session.turn.completed"


def test_frames_carry_event_and_data_lines_and_keepalives(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    session_id = idle_session(oa, sdk)
    oa.latency, oa.agent_stream_keepalive = 0.4, 0.05
    headers = {"Authorization": "Bearer sk-test", "OpenAI-Beta": "agents=v1"}
    url = f"{oa.url}/v1/agents/sessions/{session_id}/events"
    lines: list[str] = []
    with httpx2.stream("GET", url, headers=headers, timeout=5) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        sdk.beta.agents.sessions.events.create(session_id, events=[say("b")])
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith("data:") and '"agent.session.idle"' in line:
                break
    assert ": keepalive" in lines
    assert lines[0] == "event: agent.session.turn.created" and lines[1].startswith("data: {")


def test_dropped_and_errored_streams_leave_the_turn_going(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    session_id = idle_session(oa, sdk)
    oa.latency = 0.3
    oa.drop_agent_streams_after(2)
    with sdk.beta.agents.sessions.events.stream(session_id) as stream:
        sdk.beta.agents.sessions.events.create(session_id, events=[say("b")])
        with pytest.raises(openai.APIConnectionError):
            until_idle(stream)
    assert settle(sdk, session_id).status == "idle"
    oa.error_agent_streams_after(1)
    with sdk.beta.agents.sessions.events.stream(session_id) as stream:
        sdk.beta.agents.sessions.events.create(session_id, events=[say("c")])
        kinds = [e.type for e in stream]
    assert kinds == ["agent.session.turn.created", "error"]
    assert [(c.end, len(c.types)) for c in oa.agent_stream_calls] == [
        ("dropped", 2),
        ("errored", 2),
    ]
    turns = oa.agent_turns(settle(sdk, session_id).id)
    assert [t["status"] for t in turns] == ["completed"] * 3


def test_a_lost_answer_to_input_still_starts_the_turn(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    session_id = idle_session(oa, sdk)
    oa.lose_answer_next("POST", r"/agents/sessions/[^/]+/events")
    with pytest.raises(openai.APIConnectionError):
        sdk.beta.agents.sessions.events.create(session_id, events=[say("b")], idempotency_key="k")
    # The retry under the same key is a replay: still two turns, not three.
    sdk.beta.agents.sessions.events.create(session_id, events=[say("b")], idempotency_key="k")
    settle(sdk, session_id)
    turns = oa.agent_turns(session_id)
    assert len(turns) == 2 and answer_of(sdk, session_id, turns[1]["id"]) == "echo: b (turn 2)"
    assert [p.replay for p in oa.agent_event_posts()] == [False, True]
    oa.fail_next("GET", r"/agents/sessions/[^/]+$", 503)
    with pytest.raises(openai.InternalServerError):
        sdk.beta.agents.sessions.retrieve(session_id)
    start = time.monotonic()
    oa.hold_answer_next("GET", r"/agents/sessions/[^/]+/turns$", 0.2)
    sdk.beta.agents.sessions.turns.list(session_id)
    assert time.monotonic() - start >= 0.2
