"""Agents API assistants in the assistants file: the environment table and the saved agent's
definition (what `assistants sync` creates or updates at OpenAI)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Set
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.functions.registry import Function

# Tools of a persisted agent (openai.types.beta.PersistedAgentToolParam) the bridge offers;
# functions come from `functions = [...]`. MCP needs a server table, automations a target
# the bridge has no use for, tool_search deferred functions: left out for now.
AGENT_TOOLS = ("web_search", "computer_use")
# Keys of Responses/Assistants assistants that mean nothing to an agent, and why.
NOT_FOR_AGENTS = {
    "id": "an agent has no `id` (asst_… is the Assistants API): remove it",
    "vector_store_ids": "an agent reads files in its `environment`, not from vector stores",
    "temperature": "`temperature` is not an Agents API setting",
}
# `context` is taken from any kind (CONTRACT), but an agent's session history is OpenAI's
# to keep and compact whatever it says (README: Agents API assistants).
# What a saved agent (`agent = "…"`) already is at OpenAI.
SAVED_AGENTS_OWN = ("model", "instructions", "tools", "reasoning")
TOOL_ELSEWHERE = {
    "code_interpreter": "code_interpreter is a Responses API tool: an agent runs code in its "
    'environment (add [assistants.NAME.environment] with type = "openai_hosted")',
    "file_search": "file_search is a Responses API tool: an agent reads files in its environment",
}


class KeyProblem(ValueError):
    """A problem with one key of an assistant's table (the error points at that key's line)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key


class NetworkSpec(BaseModel):
    """`network = { access = "…", allowed_domains = […] }` of a hosted environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    access: Literal["enabled", "disabled", "restricted"]
    allowed_domains: tuple[str, ...] = ()
    blocked_domains: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _restricted(self) -> NetworkSpec:
        if (self.allowed_domains or self.blocked_domains) and self.access != "restricted":
            raise ValueError('domain lists need access = "restricted"')
        if self.allowed_domains and self.blocked_domains:
            raise ValueError("give allowed_domains or blocked_domains, not both")
        if any("*" in domain for domain in self.blocked_domains):
            raise ValueError("blocked_domains takes no wildcards")
        return self


class PackagesSpec(BaseModel):
    """`packages = { python = […], npm = […], system = […] }` installed in the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    python: tuple[str, ...] = ()
    npm: tuple[str, ...] = ()
    system: tuple[str, ...] = ()


class EnvironmentSpec(BaseModel):
    """`environment = "none"`, or an `[assistants.NAME.environment]` table (EnvironmentParam)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["none", "openai_hosted"]
    container_size: Literal["small", "medium", "large"] | None = None
    network: NetworkSpec | None = None
    packages: PackagesSpec | None = None
    desktop: bool | None = None
    environment_id: str | None = Field(default=None, pattern=r"^\S+$")
    environment_template_id: str | None = Field(default=None, pattern=r"^\S+$")

    @model_validator(mode="before")
    @classmethod
    def _none_as_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value != "none":
                raise ValueError('must be "none", or a table with type = "openai_hosted"')
            return {"type": "none"}
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EnvironmentSpec:
        options = self.model_fields_set - {"type"}
        if self.type == "none" and options:
            raise ValueError(f'type = "none" takes no other keys ({", ".join(sorted(options))})')
        if self.environment_id is not None and options - {"environment_id"}:
            raise ValueError("environment_id names a prewarmed environment: give no other keys")
        return self

    def body(self) -> dict[str, Any]:
        """The `environment` of `sessions.create`."""
        body = self.model_dump(exclude_defaults=True, exclude={"desktop"})
        if self.desktop is not None:
            body["desktop"] = {"enabled": self.desktop}
        return body

    def as_json(self) -> str:
        return json.dumps(self.body(), sort_keys=True)


def check_agent_id(value: str | None) -> str | None:
    """`agent = "…"`: a saved agent's id, not blank, without whitespace."""
    if value is None:
        return None
    if not value.strip() or any(char.isspace() for char in value):
        raise ValueError("must be a saved agent's id (not blank, no whitespace)")
    if value.startswith("asst_"):
        raise ValueError('asst_… is an Assistants API id: write id = "…" instead')
    return value


def check_agent_keys(
    *,
    saved: bool,
    given: Set[str],
    tools: Iterable[str],
    environment: EnvironmentSpec | None,
) -> None:
    """Raise KeyProblem for a key an agent (`saved`: `agent = "…"`) cannot have."""
    if saved and "kind" in given:
        raise KeyProblem(
            "agent",
            'give either `agent` (a saved agent\'s id) or kind = "agent" (defined here), not both',
        )
    for key, reason in NOT_FOR_AGENTS.items():
        if key in given:
            raise KeyProblem(key, reason)
    if saved:
        for key in SAVED_AGENTS_OWN:
            if key in given:
                raise KeyProblem(
                    key,
                    f"`{key}` belongs to the saved agent `agent` names; to define the agent "
                    'here, write kind = "agent" instead of `agent`',
                )
        return
    if "model" not in given:
        raise KeyProblem("kind", 'kind = "agent" needs `model`')
    hosted = environment is not None and environment.type == "openai_hosted"
    for tool in tools:
        if tool in TOOL_ELSEWHERE:
            raise KeyProblem("tools", TOOL_ELSEWHERE[tool])
        if tool == "computer_use" and not hosted:
            raise KeyProblem(
                "tools",
                "computer_use needs an OpenAI-hosted environment: add "
                '[assistants.NAME.environment] with type = "openai_hosted"',
            )


@dataclass(frozen=True)
class AgentDefinition:
    """What the bridge saves at OpenAI for a `kind = "agent"` assistant (hashable)."""

    name: str
    model: str
    instructions: str
    reasoning: str | None
    # The persisted tools as JSON: hosted ones and the functions with their schemas.
    tools_json: str

    @property
    def tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = json.loads(self.tools_json)
        return tools

    def body(self) -> dict[str, Any]:
        """The fields of `agents.create` / `agents.update` (None clears on update)."""
        return {
            "name": self.name,
            "model": self.model,
            "instructions": self.instructions or None,
            "reasoning": {"effort": self.reasoning} if self.reasoning else None,
            "tools": self.tools,
        }

    @property
    def digest(self) -> str:
        """A hash of the definition: a changed one means the saved agent needs an update."""
        text = json.dumps(self.body(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def agent_definition(
    *,
    name: str,
    model: str,
    instructions: str,
    reasoning: str | None,
    tools: Iterable[str],
    functions: Iterable[Function],
) -> AgentDefinition:
    persisted = [{"type": tool} for tool in tools] + [f.agents_tool() for f in functions]
    return AgentDefinition(
        name=name,
        model=model,
        instructions=instructions,
        reasoning=reasoning,
        tools_json=json.dumps(persisted, sort_keys=True),
    )
