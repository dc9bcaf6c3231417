"""The assistants file's schema: each `[assistants.NAME]` table and the whole file, validated."""

from __future__ import annotations

import string
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.agent_spec import EnvironmentSpec, KeyProblem, check_agent_id, check_agent_keys

# Hosted tools: the Responses API's three; computer_use is an Agents API tool.
HostedTool = Literal["code_interpreter", "file_search", "web_search", "computer_use"]
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
# Efforts only the Agents API takes (the Responses/Assistants assistants keep their four).
AGENT_EFFORTS = ("none", "xhigh", "max")
# How a long conversation is kept within the model's context (`bot.backends.context`).
ContextMode = Literal["compact", "truncate", "off"]
# assistant.threads.setSuggestedPrompts sets "up to four suggested prompts" (method reference).
MAX_PROMPTS = 4
# What `turn_instructions = "…"` may name (filled in by bot.slack.turn_instructions).
TURN_PLACEHOLDERS = ("user_name", "user_title", "local_time", "timezone", "where")


class SuggestedPrompt(BaseModel):
    """One of the suggested prompts Slack's agent view offers: a title and the message sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    message: str = Field(min_length=1)

    @field_validator("title", "message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


# When an assistant names no prompts (the manifest's `agent_view.suggested_prompts`).
DEFAULT_PROMPTS = (
    SuggestedPrompt(title="What can you do?", message="What can you help me with?"),
    SuggestedPrompt(
        title="Draft a message", message="Help me draft a short, friendly message to my team."
    ),
)


class AssistantSpec(BaseModel):
    """One `[assistants.NAME]` table: a Responses assistant (`model`), an `asst_…` id, or an
    Agents API agent (`agent = "…"` saved, or `kind = "agent"` defined here)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, pattern=r"^asst_[A-Za-z0-9_-]+$")
    kind: Literal["agent"] | None = None
    agent: str | None = None
    model: str | None = Field(default=None, min_length=1)
    instructions: str = ""
    # Declared before `tools`: the check of `tools` reads it.
    vector_store_ids: tuple[str, ...] = ()
    tools: tuple[HostedTool, ...] = ()
    temperature: float | None = Field(default=None, ge=0, le=2)
    reasoning: Effort | None = None
    context: ContextMode = "compact"
    description: str = ""
    functions: tuple[str, ...] = ()
    prompts: tuple[SuggestedPrompt, ...] = ()
    # Per-turn instructions: unset, the default template; "", none.
    turn_instructions: str | None = None
    # An agent's session environment; unset: none (no sandbox).
    environment: EnvironmentSpec | None = None

    @property
    def is_agent(self) -> bool:
        return self.agent is not None or self.kind == "agent"

    @field_validator("agent")
    @classmethod
    def _agent_id(cls, value: str | None) -> str | None:
        return check_agent_id(value)

    @field_validator("turn_instructions")
    @classmethod
    def _known_placeholders(cls, template: str | None) -> str | None:
        if template:
            check_turn_template(template)
        return template

    @field_validator("prompts")
    @classmethod
    def _few_prompts(cls, prompts: tuple[SuggestedPrompt, ...]) -> tuple[SuggestedPrompt, ...]:
        if len(prompts) > MAX_PROMPTS:
            raise ValueError(
                f"Slack shows at most {MAX_PROMPTS} suggested prompts, not {len(prompts)}"
            )
        return prompts

    @field_validator("tools")
    @classmethod
    def _searchable(cls, tools: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # The Responses API refuses file_search without vector stores (every turn would get
        # a 400); an `id` assistant may search the stores it has on the server instead.
        responses = info.data.get("model") is not None and info.data.get("id") is None
        responses = responses and info.data.get("kind") is None
        stores = info.data.get("vector_store_ids")  # None: refused itself, reported already
        if responses and "file_search" in tools and stores == ():
            raise ValueError("file_search needs `vector_store_ids = [...]`: the stores it searches")
        return tools

    @model_validator(mode="after")
    def _one_kind(self) -> AssistantSpec:
        given = self.model_fields_set
        if self.is_agent:
            check_agent_keys(
                saved=self.agent is not None,
                given=given,
                tools=self.tools,
                environment=self.environment,
            )
            return self
        if "environment" in given:
            raise KeyProblem("environment", 'only an agent (kind = "agent") has an environment')
        if "computer_use" in self.tools:
            raise KeyProblem("tools", 'computer_use is an Agents API tool (kind = "agent")')
        if self.reasoning in AGENT_EFFORTS:
            raise KeyProblem(
                "reasoning", f"{self.reasoning!r} is for agents: give minimal, low, medium or high"
            )
        if (self.id is None) == (self.model is None):
            raise ValueError(
                "give either `model` (Responses API) or `id` (asst_…), not both (an Agents API "
                'agent: `agent = "…"` or kind = "agent")'
            )
        if self.id is not None and "web_search" in self.tools:
            raise ValueError("web_search is a Responses API tool; an `id` assistant cannot use it")
        return self


def check_turn_template(template: str) -> None:
    """Raise ValueError naming a placeholder `str.format` could not fill (or bad braces)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"not a valid template ({exc}; write {{{{ and }}}} for braces)") from None
    known = ", ".join(f"{{{name}}}" for name in TURN_PLACEHOLDERS)
    for _, name, _, _ in parsed:
        if name is not None and name not in TURN_PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}} (known: {known})")


class AssistantsFile(BaseModel):
    """The whole file: `default` and the `[assistants.*]` tables."""

    model_config = ConfigDict(extra="forbid")

    # Optional with one assistant: that one is the default.
    default: str | None = None
    assistants: dict[str, AssistantSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_exists(self) -> AssistantsFile:
        names = ", ".join(sorted(self.assistants))
        if self.default is None and len(self.assistants) > 1:
            raise ValueError(
                f'several assistants and no default: add default = "NAME" (one of: {names})'
            )
        if self.default is not None and self.default not in self.assistants:
            raise ValueError(f"default = {self.default!r} names no assistant (there are: {names})")
        return self

    @property
    def default_name(self) -> str:
        return self.default or next(iter(self.assistants))
