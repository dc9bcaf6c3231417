"""OpenAI-side checks of `assistant-bridge doctor`: the key, each model, asst_ id and agent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import openai
from openai import AsyncOpenAI

from bot.assistants import Assistant
from bot.backends import build_client
from bot.backends.openai_errors import (
    AGENTS_PERMISSIONS,
    describe_error,
    lacks_agents_permissions,
    public_base_url,
)
from bot.config import Settings
from bot.doctor.checks import Finding

T = TypeVar("T")


async def _call(
    client: AsyncOpenAI, check: str, call: Callable[[], Awaitable[T]], *, missing: str = ""
) -> T | Finding:
    """The call's result, or a FAIL finding (`missing` as its detail on a 404, if given)."""
    try:
        return await call()
    except openai.OpenAIError as exc:
        if missing and isinstance(exc, openai.NotFoundError):
            return Finding("FAIL", check, missing)
        return Finding("FAIL", check, describe_error(exc, client))


class OpenAIChecks:
    """The OpenAI client of one doctor run (the bridge's own, one retry), and its checks."""

    def __init__(self, settings: Settings) -> None:
        self.client = build_client(settings).with_options(max_retries=1)

    async def close(self) -> None:
        await self.client.close()

    async def key(self) -> list[Finding]:
        """A cheap authenticated call (`models.list`)."""
        client = self.client
        result = await _call(client, "openai key", lambda: client.models.list())
        if isinstance(result, Finding):
            return [result]
        return [Finding("ok", "openai key", f"accepted by {public_base_url(client)}")]

    async def assistant(self, assistant: Assistant) -> list[Finding]:
        """The assistant's model exists (and is not being shut down), or its asst_ id exists."""
        check = f"assistant {assistant.name}"
        if assistant.is_agent:
            return [await _check_agent(self.client, check, assistant)]
        if assistant.kind == "assistants":
            return [await _check_assistant_id(self.client, check, assistant.assistant_id)]
        return [await _check_model(self.client, check, assistant.model)]


async def _check_model(client: AsyncOpenAI, check: str, model: str) -> Finding:
    missing = f"model {model} does not exist"
    result = await _call(client, check, lambda: client.models.retrieve(model), missing=missing)
    if isinstance(result, Finding):
        return result
    extra = result.model_extra or {}
    shutdown = getattr(result, "shutdown_date", None) or extra.get("shutdown_date")
    if shutdown:
        return Finding("warn", check, f"model {model} shuts down on {shutdown}")
    return Finding("ok", check, f"model {model}")


async def _check_assistant_id(client: AsyncOpenAI, check: str, assistant_id: str) -> Finding:
    missing = f"assistant {assistant_id} does not exist"
    result = await _call(
        client, check, lambda: client.beta.assistants.retrieve(assistant_id), missing=missing
    )
    if isinstance(result, Finding):
        return result
    return Finding("ok", check, f"{assistant_id} (model {result.model})")


async def _check_agent(client: AsyncOpenAI, check: str, assistant: Assistant) -> Finding:
    """The saved agent exists and the key may use the Agents API; the environment named."""
    defined = assistant.agent_definition is not None
    if not assistant.agent_id:
        return Finding(
            "warn", check, "agent not created yet: run assistant-bridge assistants sync (or serve)"
        )
    try:
        agent = await client.beta.agents.retrieve(assistant.agent_id)
    except openai.NotFoundError:
        fix = (
            "run assistant-bridge assistants sync to create it again"
            if defined
            else ("fix `agent` in the assistants file (or OPENAI_AGENT_ID)")
        )
        return Finding("FAIL", check, f"agent {assistant.agent_id} does not exist: {fix}")
    except openai.OpenAIError as exc:
        if lacks_agents_permissions(exc):
            status = getattr(exc, "status_code", "")
            return Finding("FAIL", check, f"{AGENTS_PERMISSIONS} (HTTP {status})")
        return Finding("FAIL", check, describe_error(exc, client))
    environment = assistant.session_environment
    size = environment.get("container_size")
    where = f"environment {environment['type']}" + (f" ({size})" if size else "")
    return Finding("ok", check, f"agent {agent.id} (model {agent.model}), {where}")
