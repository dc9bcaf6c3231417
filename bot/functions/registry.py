"""Function tools: teams' Python callables, loaded by reference and described to the model.

Running the calls the model asks for is `bot.functions.calls`.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ConfigError
from bot.functions.schema import arguments_model, clean_schema, read_docstring

F = TypeVar("F", bound=Callable[..., Any])
# What OpenAI accepts as a function name (both APIs).
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


@dataclass(frozen=True)
class ToolContext:
    """Who asked and where: given to functions with a parameter annotated `ToolContext`."""

    user_id: str
    team_id: str
    channel_id: str
    thread_ts: str | None
    assistant: str
    slack: AsyncWebClient | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, kw_only=True, eq=False)
class Function:
    """One registered callable and its schema (`bot.functions.calls` runs it). Compared by
    identity: the schema is a dict, so field-wise equality would make it unhashable."""

    name: str
    ref: str
    description: str
    parameters: dict[str, Any]
    target: Callable[..., Any] = field(repr=False)
    # None for an explicit schema: arguments then only have to be a JSON object.
    arguments_model: type[BaseModel] | None = field(default=None, repr=False)
    context_parameter: str | None = None
    is_async: bool = False

    def responses_tool(self) -> dict[str, Any]:
        """The Responses API `tools` entry. Not strict: strict mode would forbid defaults."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "strict": False,
        }

    def agents_tool(self) -> dict[str, Any]:
        """A saved agent's `tools` entry (PersistedAgentToolConfigParamFunction: no strict)."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }

    def assistants_tool(self) -> dict[str, Any]:
        """The Assistants API `tools` entry (the same, nested under `function`)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    parameters: dict[str, Any] | None = None,
) -> Callable[[F], F]:
    """Give a function an explicit name, description or JSON schema (`openai_schema`).

    Without `parameters`, the schema is still built from the signature.
    """

    def mark(function: F) -> F:
        schema: dict[str, Any] = {}
        if name is not None:
            schema["name"] = name
        if description is not None:
            schema["description"] = description
        if parameters is not None:
            schema["parameters"] = parameters
        setattr(function, "openai_schema", schema)  # noqa: B010 (mypy: F has no such attribute)
        return function

    return mark


def load_functions(refs: Iterable[str]) -> dict[str, Function]:
    """Each ref loaded, by the name the model calls it; two with one name is a ConfigError."""
    functions: dict[str, Function] = {}
    for ref in refs:
        function = load_function(ref)
        if (other := functions.get(function.name)) is not None and other.ref != ref:
            raise ConfigError(
                f"functions {other.ref!r} and {ref!r} are both called {function.name!r}"
            )
        functions[function.name] = function
    return functions


def load_function(ref: str) -> Function:
    """Import `package.module:function` and build its tool definition."""
    if not _REF.match(ref):
        raise ConfigError(f"function {ref!r}: expected the form 'package.module:function'")
    module_name, _, attribute = ref.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"function {ref!r}: cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ConfigError(f"function {ref!r}: {module_name!r} has no {attribute!r}") from None
    if not inspect.isroutine(target):
        raise ConfigError(f"function {ref!r}: not a function (it is {type(target).__name__})")
    return _build(ref, target)


def _build(ref: str, target: Callable[..., Any]) -> Function:
    explicit = getattr(target, "openai_schema", None)
    if explicit is not None and not isinstance(explicit, dict):
        raise ConfigError(f"function {ref!r}: openai_schema must be a dict")
    explicit = explicit or {}
    name = str(explicit.get("name") or getattr(target, "__name__", ""))
    if not _NAME.match(name):
        raise ConfigError(f"function {ref!r}: name {name!r} is not a valid function name")
    try:
        signature = inspect.signature(target)
        hints = get_type_hints(target, include_extras=True)
    except Exception as exc:
        raise ConfigError(
            f"function {ref!r}: cannot read its signature: {type(exc).__name__}: {exc}"
        ) from None
    context = [p for p, hint in hints.items() if hint is ToolContext and p in signature.parameters]
    docstring = read_docstring(ref, inspect.getdoc(target) or "")
    description = str(explicit.get("description") or docstring.description)
    model: type[BaseModel] | None = None
    if "parameters" in explicit:
        schema = explicit["parameters"]
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ConfigError(f'function {ref!r}: openai_schema parameters need "type": "object"')
    else:
        model = arguments_model(ref, name, signature, hints, set(context))
        schema = clean_schema(model.model_json_schema(), docstring.parameters)
    return Function(
        name=name,
        ref=ref,
        description=description,
        parameters=schema,
        target=target,
        arguments_model=model,
        context_parameter=context[0] if context else None,
        is_async=inspect.iscoroutinefunction(target),
    )


__all__ = ["Function", "ToolContext", "load_function", "load_functions", "tool"]
