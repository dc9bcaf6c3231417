"""How long to wait before trying a failed call again: capped exponential back-off."""

from __future__ import annotations

import random


def backoff(attempt: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Capped exponential back-off with full jitter."""
    return random.uniform(base / 2, min(cap, base * 2 ** max(0, attempt)))
