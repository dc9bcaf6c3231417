"""The assistants the bridge offers: their definitions and which one is the default."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.config import Settings
from bot.errors import ConfigError

DEFAULT_NAME = "default"


@dataclass(frozen=True)
class Assistant:
    """One configured assistant: a Responses API definition or an Assistants API id."""

    name: str
    model: str = ""
    instructions: str = ""
    assistant_id: str = ""
    tools: tuple[str, ...] = ()
    description: str = ""

    @property
    def kind(self) -> str:
        """`assistants` for an `asst_…` id (threads and runs), else `responses`."""
        return "assistants" if self.assistant_id else "responses"


@dataclass(frozen=True)
class Assistants:
    """The configured assistants by name, and the default one."""

    by_name: dict[str, Assistant]
    default_name: str
    source: str = field(default="environment")

    @property
    def default(self) -> Assistant:
        return self.by_name[self.default_name]

    def get(self, name: str) -> Assistant | None:
        return self.by_name.get(name)


def assistants_from_settings(settings: Settings) -> Assistants:
    """The single assistant the environment defines, named `default`."""
    if settings.openai_assistant_id:
        only = Assistant(
            name=DEFAULT_NAME,
            assistant_id=settings.openai_assistant_id,
            description="Assistants API assistant",
        )
    else:
        if not settings.openai_model:
            raise ConfigError("OPENAI_MODEL is empty")
        only = Assistant(
            name=DEFAULT_NAME,
            model=settings.openai_model,
            instructions=settings.assistant_instructions,
            description=f"{settings.openai_model} assistant",
        )
    return Assistants(by_name={DEFAULT_NAME: only}, default_name=DEFAULT_NAME)
