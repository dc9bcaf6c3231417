"""The calls the model asks for, run: all of a round at once, each within its timeout, every
failure an error output the model reads."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from bot.functions.registry import Function, ToolContext

log = logging.getLogger("bot.functions")

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


class BadArguments(ValueError):
    """The model's arguments are not JSON, not an object, or fail the schema."""


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
            output = await call_function(function, call.arguments, context)
            return ToolOutput(call.call_id, output, True)
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


async def call_function(function: Function, arguments: str, context: ToolContext) -> str:
    """Validate `arguments`, run the callable (sync ones in a thread), render its result.

    Raises BadArguments for the model's mistakes; whatever the callable raises, as is.
    """
    kwargs = _keyword_arguments(function, arguments, context)
    if function.is_async:
        result = await function.target(**kwargs)
    else:
        # Their own threads: a sync function that hangs past its timeout keeps its
        # thread, and must not starve the default executor (aiohttp resolves DNS there).
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(_SYNC_CALLS, partial(function.target, **kwargs))
    if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
        result = await result
    return render_result(result)


def _keyword_arguments(function: Function, arguments: str, context: ToolContext) -> dict[str, Any]:
    """The keyword arguments to call with, the context among them."""
    text = arguments.strip() or "{}"  # some models send "" for a call without arguments
    with_context = {function.context_parameter: context} if function.context_parameter else {}
    if function.arguments_model is not None:
        try:
            model = function.arguments_model.model_validate_json(text)
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
        inspect.signature(function.target).bind(**(value | with_context))
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
    "MAX_OUTPUT_CHARS",
    "BadArguments",
    "ToolCall",
    "ToolOutput",
    "call_function",
    "render_result",
    "run_calls",
]
