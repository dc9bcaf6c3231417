"""Functions the end-to-end tests register in an assistants file, as a team would.

`TOOL_LOG` (a file) gets one line per call of the functions that record themselves, so a
test can count executions across processes; `TOOL_FLAG` (a file) releases `wait_for_flag`.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bot.functions.registry import ToolContext


def add(a: int, b: int) -> int:
    """Add two whole numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def where_am_i(context: ToolContext) -> dict[str, str]:
    """Say who asked and in which Slack channel."""
    return {"user": context.user_id, "channel": context.channel_id}


def explode(reason: str) -> str:
    """Always fails (for testing error outputs)."""
    raise RuntimeError(f"boom: {reason}")


def count_call(tag: str) -> str:
    """Record that it was called, then answer."""
    _record(f"count_call {tag}")
    return f"counted {tag}"


def wait_for_flag(tag: str) -> str:
    """Record the call, then wait until the test releases it (at most 60 s)."""
    _record(f"wait_for_flag {tag}")
    flag = Path(os.environ["TOOL_FLAG"])
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"released {tag}"


def _record(line: str) -> None:
    with Path(os.environ["TOOL_LOG"]).open("a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {line}\n")


async def slow_count(tag: str, seconds: float) -> str:
    """Record the call, then take `seconds` to answer (a slow lookup)."""
    _record(f"slow_count {tag}")
    await asyncio.sleep(seconds)
    return f"slowly counted {tag}"
