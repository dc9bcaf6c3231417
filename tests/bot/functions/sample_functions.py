"""Functions a team might register: the test suite loads them by reference,
`tests.bot.functions.sample_functions:…`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from bot.functions.registry import ToolContext, tool

# Fresh for each test (see `reset`): an Event belongs to the event loop that first waits on it.
first_started = asyncio.Event()
second_started = asyncio.Event()
never = asyncio.Event()
NOT_A_FUNCTION = 42


def reset() -> None:
    global first_started, second_started, never
    first_started, second_started, never = asyncio.Event(), asyncio.Event(), asyncio.Event()


async def get_weather(city: str, unit: Literal["c", "f"] = "c", days: int = 1) -> dict[str, Any]:
    """Get the weather forecast for a city.

    Looks the city up in a made-up table.

    Args:
        city: The city's name, e.g. "Berlin".
        unit (str): Temperature unit: "c" for Celsius,
            "f" for Fahrenheit.
        days: How many days ahead.

    Returns:
        The forecast.
    """
    return {"city": city, "unit": unit, "days": days, "temperature": 21 if unit == "c" else 70}


async def whoami_here(context: ToolContext, greeting: str = "hi") -> str:
    """Say who asked, and where."""
    return f"{greeting} {context.user_id} in {context.channel_id} ({context.assistant})"


def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError("cannot do that")


async def wait_forever() -> str:
    """Never finishes."""
    await never.wait()
    return "unreachable"


async def first() -> str:
    """Starts, then waits until `second` has started."""
    first_started.set()
    await second_started.wait()
    return "first done"


async def second() -> str:
    """Starts, then waits until `first` has started."""
    second_started.set()
    await first_started.wait()
    return "second done"


def thread_name(context: ToolContext) -> dict[str, str]:
    """A sync function: the bridge runs it in a worker thread."""
    return {"thread": threading.current_thread().name, "user": context.user_id}


@dataclass
class Point:
    x: int
    y: int


def distance(a: Point, b: Annotated[Point, Field(description="The other point.")]) -> float:
    """Euclidean distance between two points."""
    return float(((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5)


def returns_none() -> None:
    """Returns nothing."""


def returns_set() -> set[str]:
    """Returns something json.dumps alone cannot encode."""
    return {"ü"}


def raises_timeout_itself() -> str:
    """Raises TimeoutError of its own (a slow upstream), well within the bridge's timeout."""
    raise TimeoutError("upstream was slow")


@tool(
    name="lookup_order",
    description="Look an order up by its number.",
    parameters={
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    },
)
async def explicit_order(order_id: str, context: ToolContext) -> dict[str, str]:
    return {"order_id": order_id, "asked_by": context.user_id}


@tool(name="get_weather")
def other_weather() -> str:
    """A second function the model would call `get_weather`."""
    return "sunny"


def by_attribute(**kwargs: Any) -> dict[str, Any]:
    """Whatever it was given."""
    return kwargs


by_attribute.openai_schema = {  # type: ignore[attr-defined]
    "parameters": {"type": "object", "properties": {"q": {"type": "integer"}}},
}


@tool(name="renamed")
def renamed_only(count: int = 2) -> int:
    """Doubles a number."""
    return count * 2


def callable_parameter(callback: Any, then: Callable[[int], int]) -> None:
    """Has a parameter whose type has no JSON schema."""


def positional(x: int, /) -> int:
    """Positional-only."""
    return x


def unresolved(x: Missing) -> int:  # type: ignore[name-defined]  # noqa: F821
    """Its annotation names nothing."""
    return 0


class Tool:
    def __call__(self) -> None:
        """A callable object, not a function."""


an_object = Tool()
