"""What a fake agent turn works with besides its text: the approvals it asks for, the
artifacts it publishes, and what its responder is told."""

from __future__ import annotations

from tests.fakes.openai_agents_state import ArtifactRec, SessionRec, TurnRec
from tests.fakes.openai_shapes import JsonDict, new_id
from tests.fakes.openai_store import ReplyContext, Store, now_int


def approval_action(turn: TurnRec, request_id: str, wanted: JsonDict) -> JsonDict:
    """The required action of a planned approval: an MCP call, or a computer-use origin."""
    base = {"request_id": request_id, "turn_id": turn.id}
    if wanted.get("type") == "computer_use":
        request = {
            "type": "browser_origin_access",
            "origin": str(wanted.get("origin", "https://example.com")),
            "reason": wanted.get("reason"),
        }
        return {"type": "computer_use_approval_request", **base, "request": request}
    name, label = str(wanted.get("name", "tool")), str(wanted.get("server_label", "mcp"))
    request = {
        "type": "mcp_tool_call",
        "server_label": label,
        "name": name,
        "arguments": wanted.get("arguments", {}),
        "message": str(wanted.get("message") or f"Allow {label} to run {name}?"),
    }
    return {"type": "mcp_approval_request", **base, "request": request}


def publish_artifact(store: Store, session: SessionRec, turn: TurnRec, wanted: JsonDict) -> None:
    environment_id = str(session.environment.get("id") or session.id.replace("sess", "env"))
    rec = ArtifactRec(
        id=new_id("artifact"),
        session_id=session.id,
        turn_id=turn.id,
        environment_id=environment_id,
        path=str(wanted["path"]),
        content=bytes(wanted["content"]),
        created_at=now_int(),
    )
    store.agents.artifacts[rec.id] = rec


def reply_context(store: Store, session: SessionRec, turn: TurnRec) -> ReplyContext:
    agent = session.agent
    done = sum(1 for t in session.turns if t.status == "completed")
    return ReplyContext(
        model=str(agent["model"]),
        instructions=agent.get("instructions"),
        assistant_id=str(agent["id"]),
        conversation_or_thread_id=session.id,
        user_texts=list(turn.user_texts),
        history=list(turn.history),
        tools=list(agent.get("tools") or []),
        tool_outputs=list(turn.tool_outputs),
        turn=done + 1,
        turn_id=turn.id,
    )
