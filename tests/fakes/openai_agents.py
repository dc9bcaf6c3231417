"""Fake Agents API (beta): its gate (the `OpenAI-Beta` header, key scopes) and saved agents."""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.openai_shapes import ApiError, ApiRequest, JsonDict, Result, list_page, new_id
from tests.fakes.openai_store import Store, now_int

AGENTS_BETA = "agents=v1"
# The settable fields of a saved agent (POST /v1/agents and its updates).
AGENT_FIELDS = (
    "model",
    "name",
    "instructions",
    "metadata",
    "tools",
    "reasoning",
    "text",
    "service_tier",
    "multi_agent",
    "compaction",
    "experimental",
)
_MISSING_BETA = (
    "You must provide the 'OpenAI-Beta' header to access the Agents API. Please try again by "
    "setting the header 'OpenAI-Beta: agents=v1'."
)
# The real API's answer to a restricted key without the needed scope.
_MISSING_SCOPE = (
    "You have insufficient permissions for this operation. Missing scopes: {scope}. Check that "
    "you have the correct role in your organization (Reader, Writer, Owner) and project "
    "(Member, Owner), and if you're using a restricted API key, that it has the necessary "
    "scopes."
)


def is_agents_path(path: str) -> bool:
    return path == "/v1/agents" or path.startswith("/v1/agents/")


def check_gate(store: Store, method: str, headers: dict[str, str]) -> None:
    """Refuse an Agents API request without the beta header, or for a key without scopes."""
    betas = [b.strip() for b in headers.get("openai-beta", "").split(",")]
    if AGENTS_BETA not in betas:
        raise ApiError(400, _MISSING_BETA, code="invalid_beta")
    status = store.agents.knobs.denied_status
    if status is not None:
        scope = "api.agents.read" if method == "GET" else "api.agents.write"
        raise ApiError(status, _MISSING_SCOPE.format(scope=scope))


def check_metadata(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ApiError(
            400, "Invalid 'metadata': expected string keys and values.", param="metadata"
        )
    if len(value) > 16:
        raise ApiError(400, "Invalid 'metadata': at most 16 key-value pairs.", param="metadata")
    for key, text in value.items():
        if not 1 <= len(key) <= 64 or len(text) > 512:
            raise ApiError(
                400,
                "Invalid 'metadata': keys up to 64, values up to 512 characters.",
                param="metadata",
            )
    return dict(value)


def resolved_tool(tool: Any) -> JsonDict:
    """A tool as the API echoes it back, with the defaults it fills in."""
    if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
        raise ApiError(400, "Invalid 'tools': each tool needs a 'type'.", param="tools")
    defaults: dict[str, JsonDict] = {
        "function": {"defer_loading": False, "description": "", "parameters": {}},
        "mcp": {
            "allowed_tools": None,
            "connection_origin": "service",
            "credential_id": None,
            "request_metadata": {},
            "required": False,
        },
        "web_search": {
            "allowed_domains": None,
            "context_size": "medium",
            "location": None,
            "mode": "live",
        },
        "computer_use": {"include_screenshots": False},
        "programmatic_tool_calling": {"enabled": True},
    }
    return {**defaults.get(tool["type"], {}), **tool}


def agent_settings(store: Store, body: JsonDict, base: JsonDict) -> JsonDict:
    """`base` with the settable fields `body` gives replaced (nulls reset to defaults)."""
    model = body.get("model", base.get("model"))
    if not isinstance(model, str) or not model:
        raise ApiError(
            400,
            "Missing required parameter: 'model'.",
            param="model",
            code="missing_required_parameter",
        )
    if model not in store.knobs.models:
        raise ApiError(
            400,
            f"The requested model '{model}' does not exist.",
            param="model",
            code="model_not_found",
        )
    given = {k: body[k] for k in AGENT_FIELDS if k in body}
    merged = {**base, **given}
    tools = merged.get("tools")
    return {
        "model": model,
        "name": merged.get("name"),
        "instructions": merged.get("instructions"),
        "metadata": check_metadata(merged.get("metadata")),
        "tools": [resolved_tool(t) for t in tools] if isinstance(tools, list) else [],
        "reasoning": merged.get("reasoning") or {"effort": None, "summary": None},
        "text": merged.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "service_tier": merged.get("service_tier") or "auto",
        "multi_agent": merged.get("multi_agent")
        or {"enabled": False, "max_concurrent_subagents": None},
        "compaction": merged.get("compaction") or {"async": False},
        "experimental": {"time_awareness": False, **(merged.get("experimental") or {})},
    }


def get_agent(store: Store, agent_id: str, param: str | None = None) -> JsonDict:
    agent = store.agents.agents.get(agent_id)
    if agent is None:
        raise ApiError(404, f"Agent with id '{agent_id}' not found.", param=param, code="not_found")
    return agent


def create_agent(store: Store, req: ApiRequest, _: re.Match[str]) -> Result:
    now = now_int()
    agent = {
        "id": new_id("agent"),
        "object": "agent",
        "created_at": now,
        "updated_at": now,
        **agent_settings(store, req.body(), {}),
    }
    store.agents.agents[agent["id"]] = agent
    return agent


def retrieve_agent(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return get_agent(store, match["id"])


def update_agent(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    agent = get_agent(store, match["id"])
    agent.update(agent_settings(store, req.body(), agent))
    agent["updated_at"] = max(now_int(), int(agent["updated_at"]) + 1)
    return agent


def list_agents(store: Store, req: ApiRequest, _: re.Match[str]) -> Result:
    return list_page(list(store.agents.agents.values()), req.query)


def delete_agent(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    get_agent(store, match["id"])
    del store.agents.agents[match["id"]]
    return {"id": match["id"], "object": "agent.deleted", "deleted": True}
