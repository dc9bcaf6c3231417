"""The assistants the bridge offers: the assistants file (TOML) or the environment's one."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from bot.agent_spec import AgentDefinition, KeyProblem, agent_definition
from bot.assistant_spec import (
    DEFAULT_PROMPTS,
    AssistantsFile,
    AssistantSpec,
    ContextMode,
    SuggestedPrompt,
)
from bot.config import Settings
from bot.errors import ConfigError
from bot.functions.registry import Function, load_functions
from bot.toml_lines import line_of

DEFAULT_NAME = "default"
DEFAULT_FILE = "assistants.toml"
# An Agents API session without a sandbox (model and tools only): the default, and free.
NO_ENVIRONMENT = '{"type": "none"}'
# `/assistant use NAME` splits its text on whitespace, and Slack sends &, < and > escaped
# (&amp; &lt; &gt;): a name with any of them could never be chosen.
_TYPABLE_NAME = re.compile(r"[^\s&<>]+")


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
    # A `kind = "agent"` assistant's saved agent as the file defines it (`assistants sync`).
    agent_definition: AgentDefinition | None = None

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
                f"{path}:{line_of(text, ['assistants', name])}: assistants.{name!r}: not a "
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
        line = line_of(text, ["assistants", name, "functions"])
        raise ConfigError(f"{path}:{line}: assistants.{name}.functions: {exc}") from None


def _assistant(name: str, spec: AssistantSpec, callables: tuple[Function, ...]) -> Assistant:
    definition = None
    if spec.kind == "agent":
        definition = agent_definition(
            name=name,
            model=spec.model or "",
            instructions=spec.instructions,
            reasoning=spec.reasoning,
            tools=spec.tools,
            functions=callables,
        )
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
        agent_id=spec.agent or "",
        is_agent=spec.is_agent,
        environment_json=spec.environment.as_json() if spec.environment else NO_ENVIRONMENT,
        agent_definition=definition,
    )


def _describe(path: Path, text: str, exc: ValidationError) -> str:
    """`file:line: where: reason` for each problem pydantic found."""
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        reason = error["msg"].removeprefix("Value error, ")
        problem = error.get("ctx", {}).get("error")
        if isinstance(problem, KeyProblem):
            loc.append(problem.key)
        if error["type"] == "extra_forbidden":
            reason = f"unknown key {loc[-1]!r}"
        elif error["type"] == "missing":
            reason = f"missing {loc[-1]!r}"
        where = ".".join(loc) or "file"
        problems.append(f"{path}:{line_of(text, loc)}: {where}: {reason}")
    return "; ".join(problems)


def assistants_from_settings(settings: Settings) -> Assistants:
    """The single assistant the environment defines, named `default`."""
    if settings.openai_agent_id:
        only = Assistant(
            name=DEFAULT_NAME,
            agent_id=settings.openai_agent_id,
            is_agent=True,
            description="Agents API agent",
        )
    elif settings.openai_assistant_id:
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
    "DEFAULT_PROMPTS",
    "Assistant",
    "Assistants",
    "SuggestedPrompt",
    "load_assistants",
    "parse_assistants_file",
]
