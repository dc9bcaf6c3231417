"""Thread-safe knob properties of FakeOpenAI (latency, responder, final status, …)."""

from __future__ import annotations

from tests.fakes.openai_shapes import JsonDict
from tests.fakes.openai_store import Responder, Store


class KnobsMixin:
    """Every knob reads and writes the store's knobs under its lock; settable any time."""

    _store: Store

    @property
    def latency(self) -> float:
        """Seconds from creation until a response/run finishes (captured at creation)."""
        with self._store.lock:
            return self._store.knobs.latency

    @latency.setter
    def latency(self, value: float) -> None:
        with self._store.lock:
            self._store.knobs.latency = value

    @property
    def responder(self) -> Responder:
        """Produces the assistant's text from a ReplyContext (called once per turn)."""
        with self._store.lock:
            return self._store.knobs.responder

    @responder.setter
    def responder(self, value: Responder) -> None:
        with self._store.lock:
            self._store.knobs.responder = value

    @property
    def final_status(self) -> str | None:
        """None (completed) or failed/incomplete/cancelled/expired (captured at creation)."""
        with self._store.lock:
            return self._store.knobs.final_status

    @final_status.setter
    def final_status(self, value: str | None) -> None:
        with self._store.lock:
            self._store.knobs.final_status = value

    @property
    def function_calls_next(self) -> list[JsonDict]:
        """Calls [{name, arguments, call_id?}] the next created response/run will make."""
        with self._store.lock:
            return list(self._store.knobs.function_calls_next)

    @function_calls_next.setter
    def function_calls_next(self, value: list[JsonDict]) -> None:
        with self._store.lock:
            self._store.knobs.function_calls_next = list(value)

    @property
    def models(self) -> list[str]:
        """Model ids that exist (GET /v1/models; POST /v1/responses rejects others)."""
        with self._store.lock:
            return list(self._store.knobs.models)

    @models.setter
    def models(self, value: list[str]) -> None:
        with self._store.lock:
            self._store.knobs.models = list(value)

    @property
    def api_key(self) -> str | None:
        """If set, the only accepted Bearer key; otherwise any non-empty key passes."""
        with self._store.lock:
            return self._store.knobs.api_key

    @api_key.setter
    def api_key(self, value: str | None) -> None:
        with self._store.lock:
            self._store.knobs.api_key = value

    @property
    def context_limit(self) -> int | None:
        """Characters of input past which a create fails with `context_length_exceeded`
        (unless its compaction or truncation keeps it within: `openai_context.py`)."""
        with self._store.lock:
            return self._store.knobs.context_limit

    @context_limit.setter
    def context_limit(self, value: int | None) -> None:
        with self._store.lock:
            self._store.knobs.context_limit = value
