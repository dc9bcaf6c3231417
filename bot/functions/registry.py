"""Function tools: teams' Python callables offered to the model, and the calls it asks for, run."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar, get_type_hints

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ConfigError
from bot.functions.schema import arg_descriptions, arguments_model, clean_schema, first_paragraph

log = logging.getLogger("bot.functions")

F = TypeVar("F", bound=Callable[..., Any])
# What OpenAI accepts as a function name (both APIs).
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_MAX_ERRORS_SHOWN = 3
# A function's output beyond this is cut (about 25k tokens).
MAX_OUTPUT_CHARS = 100_000
_SYNC_CALLS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="function")
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
            # Their own threads: a sync function that hangs past its timeout keeps its
            # thread, and must not starve the default executor (aiohttp resolves DNS there).
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(_SYNC_CALLS, partial(self.target, **kwargs))
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
    handles models, dataclasses, datetimes, enums and sets; what it can't encode, str().
    Longer than MAX_OUTPUT_CHARS is cut, with a note the model reads: a huge output would
    make the request carrying it fail, and the model could not read it all anyway."""
    text = (
        value
        if isinstance(value, str)
        else json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=False)
    )
    if len(text) > MAX_OUTPUT_CHARS:
        cut = len(text) - MAX_OUTPUT_CHARS
        return f"{text[:MAX_OUTPUT_CHARS]}\n[output cut: {cut:,} more characters]"
    return text


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
    description = str(explicit.get("description") or first_paragraph(docstring))
    model: type[BaseModel] | None = None
    if "parameters" in explicit:
        schema = explicit["parameters"]
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ConfigError(f'function {ref!r}: openai_schema parameters need "type": "object"')
    else:
        model = arguments_model(ref, name, signature, hints, set(context))
        schema = clean_schema(model.model_json_schema(), arg_descriptions(docstring))
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
