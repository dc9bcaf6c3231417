"""Fake Agents API sessions: create (with the first turn and a hosted environment's files),
retrieve, list; their input."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.openai_agent_env_files import hosted_file_json, hosted_files, stage
from tests.fakes.openai_agent_json import session_json
from tests.fakes.openai_agent_turns import advance_session, start_turn
from tests.fakes.openai_agents import agent_settings, check_metadata, get_agent
from tests.fakes.openai_agents_state import EnvFileRec, SessionRec
from tests.fakes.openai_shapes import (
    ApiError,
    ApiRequest,
    JsonDict,
    Result,
    SessionStream,
    list_page,
    missing,
    new_id,
)
from tests.fakes.openai_store import Store, now_int

_SESSION_AGENT_FIELDS = (
    "id",
    "instructions",
    "model",
    "multi_agent",
    "name",
    "reasoning",
    "service_tier",
    "text",
    "tools",
    "compaction",
    "experimental",
)


def input_messages(raw: Any, param: str) -> list[JsonDict]:
    """User messages from an `input` (a string is one message); each has input content."""
    if isinstance(raw, str):
        raw = [{"role": "user", "content": [{"type": "input_text", "text": raw}]}]
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, f"Invalid '{param}': expected a string or messages.", param=param)
    messages = []
    for message in raw:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(message, dict) or message.get("role") != "user":
            raise ApiError(400, f"Invalid '{param}': messages must have role 'user'.", param=param)
        if message.get("type", "message") != "message" or not isinstance(content, list):
            raise ApiError(400, f"Invalid '{param}': content must be a list.", param=param)
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in ("input_text", "input_image"):
                raise ApiError(400, f"Invalid '{param}': unknown content '{kind}'.", param=param)
        messages.append({"type": "message", "role": "user", "content": content})
    return messages


def _environment(raw: Any) -> JsonDict:
    if not isinstance(raw, dict) or "type" not in raw:
        raise missing("environment")
    kind = raw["type"]
    if kind == "none":
        return {"type": "none"}
    if kind == "openai_hosted":
        network = raw.get("network") or {"access": "disabled"}
        packages = raw.get("packages") or {}
        return {
            "type": "openai_hosted",
            "id": new_id("env"),
            "capability_directories": list(raw.get("capability_directories") or []),
            "files": [],
            "network": {
                "access": network.get("access", "disabled"),
                "allowed_domains": list(network.get("allowed_domains") or []),
            },
            "packages": {k: list(packages.get(k) or []) for k in ("npm", "python", "system")},
            "plugins": [],
            "skills": [],
            "container_size": raw.get("container_size", "medium"),
            "desktop": {"enabled": bool((raw.get("desktop") or {}).get("enabled"))},
        }
    if kind == "self_hosted":
        env_id = new_id("env")
        return {
            "type": "self_hosted",
            "id": env_id,
            "capability_directories": list(raw.get("capability_directories") or []),
            "remote_url": f"wss://agents.invalid/environments/{env_id}",
            "workspace_directory": str(raw.get("workspace_directory") or "/workspace"),
        }
    raise ApiError(
        400,
        f"Invalid value for 'environment.type': '{kind}'. Supported values are: 'none', "
        "'openai_hosted' and 'self_hosted'.",
        param="environment.type",
        code="invalid_value",
    )


def _session_agent(store: Store, body: JsonDict) -> JsonDict:
    overrides = body.get("agent") or {}
    if not isinstance(overrides, dict):
        raise ApiError(400, "Invalid 'agent': expected an object.", param="agent")
    agent_id = body.get("agent_id")
    if agent_id is not None:
        saved = get_agent(store, str(agent_id), "agent_id")
        settings = agent_settings(store, overrides, saved)
        settings["id"] = saved["id"]
    else:
        settings = agent_settings(store, overrides, {})
        settings["id"] = new_id("agent")
    return {k: settings.get(k) for k in _SESSION_AGENT_FIELDS}


def create_session(store: Store, req: ApiRequest, _: re.Match[str]) -> Result:
    body = req.body()
    environment = _environment(body.get("environment"))
    files: list[EnvFileRec] = []
    if environment["type"] == "openai_hosted":
        files = hosted_files(store, body["environment"].get("files"), environment["id"])
        environment["files"] = [hosted_file_json(f) for f in files]
    agent = _session_agent(store, body)
    raw_input = body.get("input")
    if raw_input is None and (environment["type"] == "none" or body.get("stream") is True):
        raise ApiError(
            400,
            "Missing required parameter: 'input'. Input is required when 'environment.type' "
            "is 'none' or when streaming.",
            param="input",
            code="missing_required_parameter",
        )
    messages = input_messages(raw_input, "input") if raw_input is not None else []
    options = body.get("stream_options")
    now = now_int()
    session = SessionRec(
        id=new_id("sess"),
        created_at=now,
        request=body,
        agent=agent,
        environment=environment,
        metadata=check_metadata(body.get("metadata")),
        last_active_at=now,
        include_obfuscation=not (
            isinstance(options, dict) and options.get("include_obfuscation") is False
        ),
    )
    store.agents.sessions[session.id] = session
    for rec in files:
        stage(store, rec)
    session.events.append(
        {
            "type": "agent.session.created",
            "event_id": new_id("evt"),
            "session": session_json(session),
        }
    )
    if messages:
        start_turn(store, session, messages)
    if body.get("stream") is True:
        return SessionStream(session.id, 0)
    return session_json(session)


def get_session(store: Store, session_id: str) -> SessionRec:
    session = store.agents.sessions.get(session_id)
    if session is None:
        raise ApiError(404, f"Session with id '{session_id}' not found.", code="not_found")
    advance_session(store, session)
    return session


def retrieve_session(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return session_json(get_session(store, match["sid"]))


def list_sessions(store: Store, req: ApiRequest, _: re.Match[str]) -> Result:
    wanted = {
        key[len("metadata[") : -1]: value
        for key, value in req.query.items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    agent_id = req.query.get("agent_id")
    rows = [
        session_json(s)
        for s in store.agents.sessions.values()
        if (agent_id is None or s.agent["id"] == agent_id)
        and all(s.metadata.get(k) == v for k, v in wanted.items())
    ]
    return list_page(rows, req.query)
