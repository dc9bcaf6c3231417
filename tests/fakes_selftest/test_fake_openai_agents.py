"""The fake OpenAI's Agents API (beta), driven through the real SDK with strict validation:
saved agents, sessions and their turns, input events, required actions, artifacts."""

from __future__ import annotations

import time
from typing import Any

import httpx2
import openai
import pytest
from openai.types.beta import AgentSession

from tests.fakes.openai_api import FakeOpenAI, ReplyContext

DEADLINE = 5.0
NONE: Any = {"type": "none"}


def sdk_for(oa: FakeOpenAI) -> openai.OpenAI:
    # Strict validation: a shape the SDK's models reject raises APIResponseValidationError.
    return openai.OpenAI(
        base_url=oa.url + "/v1", api_key="sk-test", max_retries=0, _strict_response_validation=True
    )


def settle(sdk: openai.OpenAI, session_id: str) -> AgentSession:
    """The session once its turn is no longer running (idle, requires_action or failed)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        session = sdk.beta.agents.sessions.retrieve(session_id)
        if session.status != "in_progress":
            return session
        assert time.monotonic() < deadline, "session still in progress"
        time.sleep(0.01)


def answer_of(sdk: openai.OpenAI, session_id: str, turn_id: str) -> str:
    items = sdk.beta.agents.sessions.turns.items.list(turn_id, session_id=session_id, order="asc")
    texts = [
        item.output_text
        for item in items
        if item.type == "message" and item.role == "assistant" and item.phase == "final_answer"
    ]
    assert len(texts) == 1, texts
    return texts[0]


def say(text: str) -> Any:
    message = {"role": "user", "content": [{"type": "input_text", "text": text}]}
    return {"type": "agent.session.input.message", "input": [message]}


def test_saved_agents_create_retrieve_update_list_delete(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    tool: Any = {"type": "function", "name": "lookup", "description": "d", "parameters": {}}
    agent = sdk.beta.agents.create(
        model="gpt-5-mini", name="helper", instructions="Be brief.", tools=[tool]
    )
    assert agent.id.startswith("agent_") and agent.object == "agent"
    assert agent.tools[0].type == "function" and agent.metadata == {}
    assert sdk.beta.agents.retrieve(agent.id) == agent
    time.sleep(0.01)
    updated = sdk.beta.agents.update(agent.id, name="helper 2", metadata={"team": "a"})
    assert (updated.name, updated.instructions, updated.metadata) == (
        "helper 2",
        "Be brief.",
        {"team": "a"},
    )
    assert updated.updated_at > agent.updated_at
    other = sdk.beta.agents.create(model="gpt-5")
    page = sdk.beta.agents.list(limit=1)
    assert [a.id for a in page.data] == [other.id] and page.has_more
    assert [a.id for a in sdk.beta.agents.list(order="asc")] == [agent.id, other.id]
    assert sdk.beta.agents.delete(other.id).deleted
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.beta.agents.retrieve(other.id)
    assert missing.value.code == "not_found"
    with pytest.raises(openai.BadRequestError):
        sdk.beta.agents.create(model="no-such-model")


def test_session_turn_answers_with_the_responder_and_lists(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    seen: list[ReplyContext] = []

    def responder(context: ReplyContext) -> str:
        seen.append(context)
        return f"hi {context.user_texts}"

    oa.responder = responder
    agent = oa.add_agent(instructions="Be kind.")
    session = sdk.beta.agents.sessions.create(
        environment=NONE, agent_id=agent["id"], input="hello", metadata={"channel": "C1"}
    )
    assert session.status == "in_progress" and session.agent.id == agent["id"]
    session = settle(sdk, session.id)
    assert session.status == "idle" and session.usage is not None
    turn = sdk.beta.agents.sessions.turns.list(session.id).data[0]
    assert turn.status == "completed" and turn.usage is not None and turn.completed_at
    assert answer_of(sdk, session.id, turn.id) == "hi ['hello']"
    assert seen[0].instructions == "Be kind." and seen[0].conversation_or_thread_id == session.id
    sdk.beta.agents.sessions.events.create(session.id, events=[say("again")])
    settle(sdk, session.id)
    assert seen[1].history == [("user", "hello"), ("assistant", "hi ['hello']")]
    items = sdk.beta.agents.sessions.items.list(session.id, order="asc")
    assert [i.type for i in items] == ["message"] * 4
    other = sdk.beta.agents.sessions.create(environment=NONE, agent={"model": "gpt-5"}, input="x")
    found = sdk.beta.agents.sessions.list(metadata={"channel": "C1"})
    assert [s.id for s in found] == [session.id]
    assert [s.id for s in sdk.beta.agents.sessions.list(agent_id=other.agent.id)] == [other.id]
    assert [s["id"] for s in oa.agent_sessions()] == [session.id, other.id]
    assert len(oa.agent_turns(session.id)) == 2


def test_session_create_checks_environment_input_and_agent(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    with pytest.raises(openai.BadRequestError, match="input"):
        sdk.beta.agents.sessions.create(environment=NONE, agent={"model": "gpt-5-mini"})
    bad: Any = {"type": "moon"}
    with pytest.raises(openai.BadRequestError, match=r"environment\.type"):
        sdk.beta.agents.sessions.create(environment=bad, agent={"model": "gpt-5-mini"}, input="x")
    with pytest.raises(openai.NotFoundError):
        sdk.beta.agents.sessions.create(environment=NONE, agent_id="agent_nope", input="x")
    hosted: Any = {"type": "openai_hosted", "container_size": "small"}
    agent = oa.add_agent(tools=[{"type": "web_search"}])
    tool: Any = {"type": "function", "name": "f", "description": "d", "parameters": {}}
    session = sdk.beta.agents.sessions.create(
        environment=hosted, agent_id=agent["id"], agent={"tools": [tool]}
    )
    assert session.status == "idle" and session.environment.type == "openai_hosted"
    assert [t.type for t in session.agent.tools] == ["function"]


def test_idempotency_key_replay_starts_no_second_turn(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    agent = oa.add_agent()
    session = sdk.beta.agents.sessions.create(environment=NONE, agent_id=agent["id"], input="a")
    settle(sdk, session.id)
    for _ in range(2):
        sdk.beta.agents.sessions.events.create(session.id, events=[say("b")], idempotency_key="k1")
    settle(sdk, session.id)
    assert len(oa.agent_turns(session.id)) == 2
    posts = oa.agent_event_posts()
    assert [(p.idempotency_key, p.replay) for p in posts] == [("k1", False), ("k1", True)]


def test_function_calls_through_required_actions_and_tool_results(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    oa.responder = lambda context: "got " + ",".join(context.tool_outputs)
    oa.function_call_rounds_next = [[{"name": "lookup", "arguments": '{"q": 1}'}]]
    agent = oa.add_agent()
    session = sdk.beta.agents.sessions.create(environment=NONE, agent_id=agent["id"], input="go")
    session = settle(sdk, session.id)
    assert session.status == "requires_action"
    (action,) = session.required_actions
    assert action.type == "function_call" and action.name == "lookup"
    assert action.arguments == {"q": 1}
    turn = sdk.beta.agents.sessions.turns.retrieve(action.turn_id, session_id=session.id)
    assert turn.status == "waiting"
    wrong: Any = {"type": "agent.session.input.tool_result", "call_id": "call_x"}
    with pytest.raises(openai.BadRequestError):
        sdk.beta.agents.sessions.events.create(
            session.id, events=[wrong | {"turn_id": turn.id, "success": True}]
        )
    result: Any = {
        "type": "agent.session.input.tool_result",
        "call_id": action.call_id,
        "turn_id": action.turn_id,
        "success": True,
        "output": "42",
    }
    sdk.beta.agents.sessions.events.create(session.id, events=[result])
    assert settle(sdk, session.id).status == "idle"
    assert answer_of(sdk, session.id, turn.id) == "got 42"
    items = sdk.beta.agents.sessions.turns.items.list(turn.id, session_id=session.id, order="asc")
    assert [i.type for i in items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]


def test_a_message_during_a_turn_steers_it(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    oa.latency = 0.8
    agent = oa.add_agent()
    session = sdk.beta.agents.sessions.create(environment=NONE, agent_id=agent["id"], input="one")
    sdk.beta.agents.sessions.events.create(session.id, events=[say("two")])
    settle(sdk, session.id)
    (turn,) = oa.agent_turns(session.id)
    assert turn["steered"] == ["two"]
    assert answer_of(sdk, session.id, turn["id"]) == "echo: one\ntwo (turn 1)"
    assert oa.agent_event_posts()[0].steered_turn_id == turn["id"]


def test_cancel_failed_turn_and_denied_approval(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    oa.latency = 5.0  # the cancel surely comes first
    agent = oa.add_agent()
    session = sdk.beta.agents.sessions.create(environment=NONE, agent_id=agent["id"], input="a")
    cancel: Any = {"type": "agent.session.input.cancel"}
    sdk.beta.agents.sessions.events.create(session.id, events=[cancel])
    assert sdk.beta.agents.sessions.retrieve(session.id).status == "idle"
    sdk.beta.agents.sessions.events.create(session.id, events=[cancel])  # nothing to cancel
    oa.latency = 0.05
    oa.agent_turn_error_next = {"code": "rate_limit_exceeded", "message": "Slow down."}
    sdk.beta.agents.sessions.events.create(session.id, events=[say("b")])
    settle(sdk, session.id)
    oa.agent_approvals_next = [{"server_label": "docs", "name": "search", "arguments": {}}]
    sdk.beta.agents.sessions.events.create(session.id, events=[say("c")])
    waiting = settle(sdk, session.id)
    (action,) = waiting.required_actions
    assert action.type == "mcp_approval_request" and action.request.server_label == "docs"
    deny: Any = {
        "type": "agent.session.input.mcp_approval_request_result",
        "request_id": action.request_id,
        "response": {"type": "mcp_tool_call", "decision": "deny"},
    }
    sdk.beta.agents.sessions.events.create(session.id, events=[deny])
    settle(sdk, session.id)
    turns = sdk.beta.agents.sessions.turns.list(session.id, order="asc").data
    assert [t.status for t in turns] == ["cancelled", "failed", "completed"]
    assert turns[1].error is not None and turns[1].error.code == "rate_limit_exceeded"
    assert "could not use docs/search" in answer_of(sdk, session.id, turns[2].id)


def test_artifacts_are_listed_and_downloaded(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    oa.agent_artifacts_next = [{"path": "/workspace/outputs/report.csv", "content": b"a,b\n1,2\n"}]
    agent = oa.add_agent()
    hosted: Any = {"type": "openai_hosted"}
    session = sdk.beta.agents.sessions.create(environment=hosted, agent_id=agent["id"], input="x")
    settle(sdk, session.id)
    (artifact,) = sdk.beta.agents.sessions.artifacts.list(session.id)
    assert artifact.path == "/workspace/outputs/report.csv" and artifact.size_bytes == 8
    assert artifact.environment_id == session.environment.id  # type: ignore[union-attr]
    again = sdk.beta.agents.sessions.artifacts.retrieve(artifact.id, session_id=session.id)
    assert again == artifact
    content = sdk.beta.agents.sessions.artifacts.content(artifact.id, session_id=session.id)
    assert content.content == b"a,b\n1,2\n"


def test_the_beta_header_and_key_scopes_are_required(oa: FakeOpenAI) -> None:
    response = httpx2.get(oa.url + "/v1/agents", headers={"Authorization": "Bearer sk-test"})
    assert response.status_code == 400
    assert "OpenAI-Beta" in response.json()["error"]["message"]
    sdk = sdk_for(oa)
    oa.agents_denied_status = 401
    with pytest.raises(openai.AuthenticationError, match=r"Missing scopes: api\.agents\.read"):
        sdk.beta.agents.list()
    oa.agents_denied_status = 403
    with pytest.raises(openai.PermissionDeniedError, match=r"api\.agents\.write"):
        sdk.beta.agents.create(model="gpt-5-mini")
