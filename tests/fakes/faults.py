"""Scripted failures (HTTP errors, dropped connections) that the fakes consume in order."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """Answer the next `times` matching requests with `status`/`body`, or drop them."""

    method: str
    pattern: re.Pattern[str]
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    drop: bool = False
    # Process the request as usual first, then drop the answer or hold it `delay` seconds:
    # the call took effect, but the client does not learn so (in time).
    after: bool = False
    delay: float = 0.0

    def matches(self, method: str, target: str) -> bool:
        return self.method in ("*", method.upper()) and self.pattern.search(target) is not None


class FaultBook:
    """Thread-safe list of pending faults; the first match wins and is used up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        if fault.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, target):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
