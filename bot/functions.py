"""Function tools: teams' Python callables offered to the model, and the calls it asks for, run."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, PydanticUserError, TypeAdapter, ValidationError
from pydantic import create_model as create_pydantic_model
from pydantic_core import to_jsonable_python
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ConfigError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
# What OpenAI accepts as a function name (both APIs).
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_ARGS_HEADER = re.compile(r"^(\s*)(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")
_MAX_ERRORS_SHOWN = 3
_MAX_MESSAGE = 500


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for: `arguments` is the JSON text the API gives."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolOutput:
    """What goes back to the model for one call; `ok` is False for error outputs."""

    call_id: str
    output: str
    ok: bool


@dataclass(frozen=True)
class ToolContext:
    """Who asked and where: given to functions with a parameter annotated `ToolContext`."""

    user_id: str
    team_id: str
    channel_id: str
    thread_ts: str | None
    assistant: str
    slack: AsyncWebClient | None = field(default=None, repr=False, compare=False)


class BadArguments(ValueError):
    """The model's arguments are not JSON, not an object, or fail the schema."""


@dataclass(frozen=True, kw_only=True, eq=False)
class Function:
    """One registered callable, its schema, and how to call it. Compared by identity: the
    schema is a dict, so field-wise equality would make it unhashable."""

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

    async def call(self, arguments: str, context: ToolContext) -> str:
        """Validate `arguments`, run the callable (sync ones in a thread), render its result.

        Raises BadArguments for the model's mistakes; whatever the callable raises, as is.
        """
        kwargs = self._parse(arguments, context)
        if self.is_async:
            result = await self.target(**kwargs)
        else:
            result = await asyncio.to_thread(self.target, **kwargs)
        if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
            result = await result
        return render_result(result)

    def _parse(self, arguments: str, context: ToolContext) -> dict[str, Any]:
        """The keyword arguments to call with, the context among them."""
        text = arguments.strip() or "{}"  # some models send "" for a call without arguments
        with_context = {self.context_parameter: context} if self.context_parameter else {}
        if self.arguments_model is not None:
            try:
                model = self.arguments_model.model_validate_json(text)
            except ValidationError as exc:
                raise BadArguments(_short(exc)) from None
            # getattr, not model_dump: a parameter typed as a model or dataclass gets an instance.
            return {n: getattr(model, n) for n in type(model).model_fields} | with_context
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise BadArguments(f"not valid JSON ({exc})") from None
        if not isinstance(value, dict):
            raise BadArguments(f"expected a JSON object, got {type(value).__name__}")
        try:  # an explicit schema is the team's word; still, missing or unknown names fail here
            inspect.signature(self.target).bind(**(value | with_context))
        except TypeError as exc:
            raise BadArguments(str(exc)) from None
        return value | with_context


def render_result(value: Any) -> str:
    """A str goes back as is; anything else as JSON (None as `null`). Pydantic's encoder
    handles models, dataclasses, datetimes, enums and sets; what it can't encode, str()."""
    if isinstance(value, str):
        return value
    return json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=False)


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
    docstring = inspect.getdoc(target) or ""
    description = str(explicit.get("description") or _first_paragraph(docstring))
    model: type[BaseModel] | None = None
    if "parameters" in explicit:
        schema = explicit["parameters"]
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ConfigError(f'function {ref!r}: openai_schema parameters need "type": "object"')
    else:
        model = _arguments_model(ref, name, signature, hints, set(context))
        schema = _clean(model.model_json_schema(), _arg_descriptions(docstring))
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


def _arguments_model(
    ref: str,
    name: str,
    signature: inspect.Signature,
    hints: dict[str, Any],
    skip: set[str],
) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.name in skip or parameter.kind is parameter.VAR_KEYWORD:
            continue
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.VAR_POSITIONAL):
            raise ConfigError(
                f"function {ref!r}: parameter {parameter.name!r}: the model passes arguments "
                "by name, so positional-only and *args parameters cannot be offered"
            )
        if parameter.name.startswith("_"):
            raise ConfigError(
                f"function {ref!r}: parameter {parameter.name!r}: names starting with _ "
                "cannot be offered"
            )
        hint = hints.get(parameter.name, Any)
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hint, default)
    try:
        model: type[BaseModel] = create_pydantic_model(
            f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
        model.model_json_schema()
        return model
    except (PydanticUserError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"function {ref!r}: cannot build a JSON schema: {_culprit(fields) or exc}"
        ) from None


def _culprit(fields: dict[str, Any]) -> str | None:
    """Which parameter's type pydantic cannot turn into a JSON schema."""
    for parameter, (hint, _default) in fields.items():
        try:
            TypeAdapter(hint).json_schema()
        except (PydanticUserError, TypeError, ValueError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"parameter {parameter!r} ({hint!r}): {first_line}"
    return None


def _clean(schema: dict[str, Any], described: dict[str, str]) -> dict[str, Any]:
    """Drop pydantic's titles ("Arguments", "City"), noise the model pays tokens for; add the
    docstring's descriptions where `Field(description=…)` gave none."""
    schema.pop("title", None)
    for name, prop in schema.get("properties", {}).items():
        prop.pop("title", None)
        if name in described and "description" not in prop:
            prop["description"] = described[name]
    return schema


def _first_paragraph(docstring: str) -> str:
    paragraph = docstring.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def _arg_descriptions(docstring: str) -> dict[str, str]:
    """Parameter descriptions from a Google-style `Args:` section (`name (type): text`)."""
    found: dict[str, list[str]] = {}
    lines = docstring.splitlines()
    start = next((i for i, line in enumerate(lines) if _ARGS_HEADER.match(line)), None)
    if start is None:
        return {}
    header_indent = len(lines[start]) - len(lines[start].lstrip())
    entry_indent: int | None = None
    current: list[str] | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= header_indent:
            break
        entry_indent = indent if entry_indent is None else entry_indent
        match = _ARG_LINE.match(line.strip())
        if indent == entry_indent and match:
            current = found.setdefault(match.group(1).lstrip("*"), [])
            current.append(match.group(3).strip())
        elif indent > entry_indent and current is not None:
            current.append(line.strip())
    return {name: " ".join(p for p in parts if p) for name, parts in found.items()}


async def run_calls(
    functions: Mapping[str, Function],
    calls: Sequence[ToolCall],
    context: ToolContext,
    *,
    timeout: float,  # noqa: ASYNC109 (one per call: an outer asyncio.timeout can't say that)
) -> list[ToolOutput]:
    """Run every call at once, each under its own timeout; one output per call, in order.

    Never raises for a call's failure: the model gets `{"error": …}` and can carry on.
    A sync function that times out keeps its thread until it returns (threads can't be killed).
    """
    return list(await asyncio.gather(*(_run(functions, c, context, timeout) for c in calls)))


async def _run(
    functions: Mapping[str, Function], call: ToolCall, context: ToolContext, seconds: float
) -> ToolOutput:
    function = functions.get(call.name)
    if function is None:
        log.warning("the model asked for function %r, which is not offered", call.name)
        offered = ", ".join(sorted(functions)) or "none"
        return _error(call, f"function {call.name!r} is not available (available: {offered})")
    scope = asyncio.timeout(seconds)
    try:
        async with scope:
            return ToolOutput(call.call_id, await function.call(call.arguments, context), True)
    except BadArguments as exc:
        log.info("bad arguments for %s: %s", call.name, exc)
        return _error(call, f"bad arguments for {call.name}: {exc}")
    except TimeoutError as exc:
        if scope.expired():
            log.warning("function %s did not finish within %g s", call.name, seconds)
            return _error(call, f"{call.name} did not finish within {seconds:g} s")
        return _failed(call, exc)
    except Exception as exc:
        return _failed(call, exc)


def _failed(call: ToolCall, exc: Exception) -> ToolOutput:
    """The exception's type and message for the model; the traceback only for the logs."""
    log.warning("function %s failed", call.name, exc_info=exc)
    message = str(exc)[:_MAX_MESSAGE]
    return _error(call, f"{call.name} failed: {type(exc).__name__}: {message}")


def _error(call: ToolCall, message: str) -> ToolOutput:
    return ToolOutput(call.call_id, json.dumps({"error": message}, ensure_ascii=False), False)


def _short(exc: ValidationError) -> str:
    """pydantic's problems as `where: what`, without the input values it would quote."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = [
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
        for e in errors[:_MAX_ERRORS_SHOWN]
    ]
    more = len(errors) - _MAX_ERRORS_SHOWN
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


__all__ = [
    "BadArguments",
    "Function",
    "ToolCall",
    "ToolContext",
    "ToolOutput",
    "load_function",
    "load_functions",
    "run_calls",
    "tool",
]
