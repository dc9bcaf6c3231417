"""The assistants the bridge offers: the assistants file (TOML) or the environment's one."""

from __future__ import annotations

import json
import re
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config import Settings
from bot.errors import ConfigError
from bot.functions.registry import Function, load_functions

DEFAULT_NAME = "default"
DEFAULT_FILE = "assistants.toml"
# An Agents API session without a sandbox (model and tools only): the default, and free.
NO_ENVIRONMENT = '{"type": "none"}'
HostedTool = Literal["code_interpreter", "file_search", "web_search"]
# How a long conversation is kept within the model's context (`bot.backends.context`).
ContextMode = Literal["compact", "truncate", "off"]
# `/assistant use NAME` splits its text on whitespace, and Slack sends &, < and > escaped
# (&amp; &lt; &gt;): a name with any of them could never be chosen.
_TYPABLE_NAME = re.compile(r"[^\s&<>]+")
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
    """One `[assistants.NAME]` table: a Responses assistant (`model`) or an `asst_…` id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, pattern=r"^asst_[A-Za-z0-9_-]+$")
    model: str | None = Field(default=None, min_length=1)
    instructions: str = ""
    # Declared before `tools`: the check of `tools` reads it.
    vector_store_ids: tuple[str, ...] = ()
    tools: tuple[HostedTool, ...] = ()
    temperature: float | None = Field(default=None, ge=0, le=2)
    reasoning: Literal["minimal", "low", "medium", "high"] | None = None
    context: ContextMode = "compact"
    description: str = ""
    functions: tuple[str, ...] = ()
    prompts: tuple[SuggestedPrompt, ...] = ()
    # Per-turn instructions: unset, the default template; "", none.
    turn_instructions: str | None = None

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
        stores = info.data.get("vector_store_ids")  # None: refused itself, reported already
        if responses and "file_search" in tools and stores == ():
            raise ValueError("file_search needs `vector_store_ids = [...]`: the stores it searches")
        return tools

    @model_validator(mode="after")
    def _one_kind(self) -> AssistantSpec:
        if (self.id is None) == (self.model is None):
            raise ValueError("give either `model` (Responses API) or `id` (asst_…), not both")
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


@dataclass(frozen=True)
class Assistant:
    """One configured assistant, as the rest of the bridge sees it."""

    name: str
    model: str = ""
    instructions: str = ""
    assistant_id: str = ""
    tools: tuple[str, ...] = ()
    description: str = ""
    temperature: float | None = None
    reasoning: str | None = None
    functions: tuple[str, ...] = ()
    vector_store_ids: tuple[str, ...] = ()
    # The `functions`, imported: what the model may call.
    callables: tuple[Function, ...] = field(default=(), compare=False)
    # Suggested prompts in Slack's agent view; none: DEFAULT_PROMPTS.
    prompts: tuple[SuggestedPrompt, ...] = ()
    context: ContextMode = "compact"
    # Per-turn instructions (who asks, when and where): None, the default template; "", none.
    turn_instructions: str | None = None
    # An OpenAI saved agent (Agents API): its id (`agent = "…"`, OPENAI_AGENT_ID, or recorded
    # by `assistants sync` for a `kind = "agent"` definition), and the session environment
    # (the `environment` body of `sessions.create`; `{"type": "none"}` unless it asks for one).
    agent_id: str = ""
    is_agent: bool = False
    environment_json: str = NO_ENVIRONMENT

    @property
    def suggested_prompts(self) -> tuple[SuggestedPrompt, ...]:
        return self.prompts or DEFAULT_PROMPTS

    @property
    def kind(self) -> str:
        """`agents` for a saved agent (sessions and turns), `assistants` for an `asst_…` id
        (threads and runs), else `responses`."""
        if self.is_agent or self.agent_id:
            return "agents"
        return "assistants" if self.assistant_id else "responses"

    @property
    def session_environment(self) -> dict[str, object]:
        """The `environment` a new Agents API session of this assistant is created with."""
        environment: dict[str, object] = json.loads(self.environment_json)
        return environment


@dataclass(frozen=True)
class Assistants:
    """The configured assistants by name, and the default one."""

    by_name: dict[str, Assistant]
    default_name: str
    source: str = field(default="environment")

    @property
    def default(self) -> Assistant:
        return self.by_name[self.default_name]

    def get(self, name: str | None) -> Assistant | None:
        return self.by_name.get(name) if name else None

    @property
    def names(self) -> list[str]:
        return sorted(self.by_name)


def load_assistants(settings: Settings, *, cwd: Path | None = None) -> Assistants:
    """ASSISTANTS_FILE, else `assistants.toml` if present, else the environment's assistant."""
    path = Path(settings.assistants_file) if settings.assistants_file else None
    if path is None and (candidate := (cwd or Path.cwd()) / DEFAULT_FILE).is_file():
        path = candidate
    if path is None:
        return assistants_from_settings(settings)
    if not path.is_file():
        raise ConfigError(f"ASSISTANTS_FILE {path}: no such file")
    return parse_assistants_file(path)


def parse_assistants_file(path: Path) -> Assistants:
    text = _read_text(path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        spec = AssistantsFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, text, exc)) from None
    for name in spec.assistants:
        if not _TYPABLE_NAME.fullmatch(name):
            raise ConfigError(
                f"{path}:{_line_of(text, ['assistants', name])}: assistants.{name!r}: not a "
                "name `/assistant use NAME` can take (one word, without &, < or >)"
            )
    by_name = {
        name: _assistant(name, one, _callables(path, text, name, one))
        for name, one in spec.assistants.items()
    }
    return Assistants(by_name=by_name, default_name=spec.default_name, source=str(path))


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not valid UTF-8 (line {line}: {exc.reason})") from None


def _callables(path: Path, text: str, name: str, spec: AssistantSpec) -> tuple[Function, ...]:
    """Import the assistant's functions now, so a wrong name stops `serve` with its line."""
    try:
        return tuple(load_functions(spec.functions).values())
    except ConfigError as exc:
        line = _line_of(text, ["assistants", name, "functions"])
        raise ConfigError(f"{path}:{line}: assistants.{name}.functions: {exc}") from None


def _assistant(name: str, spec: AssistantSpec, callables: tuple[Function, ...]) -> Assistant:
    return Assistant(
        name=name,
        model=spec.model or "",
        instructions=spec.instructions,
        assistant_id=spec.id or "",
        tools=spec.tools,
        description=spec.description,
        temperature=spec.temperature,
        reasoning=spec.reasoning,
        functions=spec.functions,
        vector_store_ids=spec.vector_store_ids,
        callables=callables,
        prompts=spec.prompts,
        context=spec.context,
        turn_instructions=spec.turn_instructions,
    )


def _describe(path: Path, text: str, exc: ValidationError) -> str:
    """`file:line: where: reason` for each problem pydantic found."""
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        reason = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            reason = f"unknown key {loc[-1]!r}"
        elif error["type"] == "missing":
            reason = f"missing {loc[-1]!r}"
        where = ".".join(loc) or "file"
        problems.append(f"{path}:{_line_of(text, loc)}: {where}: {reason}")
    return "; ".join(problems)


def _line_of(text: str, loc: list[str]) -> int:
    """The line a location points at: its key inside its table, else the table, else 1."""
    lines = text.splitlines()
    table = loc[1] if len(loc) >= 2 and loc[0] == "assistants" else None
    key = _key_of(loc, table)
    start, found = 0, 1
    if table is not None:
        for number, line in enumerate(lines):
            if _table_name(line) == table:
                start, found = number, number + 1
                break
    if key:
        for number in range(start, len(lines)):
            stripped = lines[number].strip()
            if number > start and table is not None and stripped.startswith("["):
                break
            if stripped.split("=", 1)[0].strip() == key:
                return number + 1
    return found


def _key_of(loc: list[str], table: str | None) -> str:
    """The key a location names: inside its table ("" for the table itself), or top-level."""
    if table is None:
        return loc[0] if loc else "default"
    return loc[2] if len(loc) >= 3 else ""


_TABLE = re.compile(r"""\[\s*assistants\s*\.\s*(?:"([^"]*)"|'([^']*)'|([\w-]+))\s*\]""")


def _table_name(line: str) -> str | None:
    """NAME of an `[assistants.NAME]` header line (bare, "quoted" or 'literal')."""
    match = _TABLE.match(line.strip())
    if match is None:
        return None
    return next(part for part in match.groups() if part is not None)


def assistants_from_settings(settings: Settings) -> Assistants:
    """The single assistant the environment defines, named `default`."""
    if settings.openai_assistant_id:
        only = Assistant(
            name=DEFAULT_NAME,
            assistant_id=settings.openai_assistant_id,
            description="Assistants API assistant",
        )
    else:
        only = Assistant(
            name=DEFAULT_NAME,
            model=settings.openai_model,
            instructions=settings.assistant_instructions,
            description=f"{settings.openai_model} assistant",
        )
    return Assistants(by_name={DEFAULT_NAME: only}, default_name=DEFAULT_NAME)


__all__ = [
    "Assistant",
    "Assistants",
    "SuggestedPrompt",
    "load_assistants",
    "parse_assistants_file",
]
