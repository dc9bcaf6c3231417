"""Slack message timestamps: unique, increasing, and (as Slack's) the wall-clock time."""

from __future__ import annotations

import threading
import time

# One process-wide clock shared by the fake Web API and the event builders, so a bot
# reply always sorts after the user message that caused it (as real Slack ts do), and
# `oldest`/`latest` filters by time work as they do at Slack.
_lock = threading.Lock()
_last_micros = 0


def next_ts() -> str:
    global _last_micros
    with _lock:
        _last_micros = max(_last_micros + 1, int(time.time() * 1_000_000))
        micros = _last_micros
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def ts_key(ts: str) -> tuple[int, int]:
    """Sort key for a ts string (numeric, not lexicographic)."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)
