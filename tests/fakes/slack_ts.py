"""Slack message timestamps: unique, increasing "1710000000.000100"-style values."""

from __future__ import annotations

import itertools
import threading

# One process-wide counter shared by the fake Web API and the event builders, so a bot
# reply always sorts after the user message that caused it (as real Slack ts do).
_BASE_MICROS = 1_710_000_000_000_000
_STEP_MICROS = 100
_counter = itertools.count(1)
_lock = threading.Lock()


def next_ts() -> str:
    with _lock:
        micros = _BASE_MICROS + next(_counter) * _STEP_MICROS
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for a ts string (numeric, not lexicographic)."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)
