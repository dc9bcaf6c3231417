"""Thread-safe knobs and faults of FakeOpenAI's streamed responses, and what they recorded."""

from __future__ import annotations

import copy

from tests.fakes.openai_routes import advance_all
from tests.fakes.openai_shapes import JsonDict
from tests.fakes.openai_store import Store, StreamCall


class StreamKnobsMixin:
    """The pace knobs are read when a streamed response is created; faults by the next
    stream requests. Every one is settable any time, under the store's lock."""

    _store: Store

    @property
    def stream_first_token(self) -> float | None:
        """Seconds from creation to the answer's first delta (None: half of `latency`).
        Reasoning and hosted tool items stream before it, after `response.in_progress`."""
        with self._store.lock:
            return self._store.knobs.stream_first_token

    @stream_first_token.setter
    def stream_first_token(self, value: float | None) -> None:
        with self._store.lock:
            self._store.knobs.stream_first_token = value

    @property
    def stream_spread(self) -> float | None:
        """Seconds the answer's deltas are spread over, up to the terminal event (None:
        half of `latency`)."""
        with self._store.lock:
            return self._store.knobs.stream_spread

    @stream_spread.setter
    def stream_spread(self, value: float | None) -> None:
        with self._store.lock:
            self._store.knobs.stream_spread = value

    @property
    def stream_deltas(self) -> int | None:
        """Deltas an answer text is cut into (None: a few words each)."""
        with self._store.lock:
            return self._store.knobs.stream_deltas

    @stream_deltas.setter
    def stream_deltas(self, value: int | None) -> None:
        with self._store.lock:
            self._store.knobs.stream_deltas = value

    @property
    def stream_keepalive(self) -> float | None:
        """Seconds of silence after which a stream writes a `: keepalive` comment (None: never)."""
        with self._store.lock:
            return self._store.knobs.stream_keepalive

    @stream_keepalive.setter
    def stream_keepalive(self, value: float | None) -> None:
        with self._store.lock:
            self._store.knobs.stream_keepalive = value

    @property
    def stream_error_after(self) -> int | None:
        """The next streamed responses send an `error` event after this many events, and fail."""
        with self._store.lock:
            return self._store.knobs.stream_error_after

    @stream_error_after.setter
    def stream_error_after(self, value: int | None) -> None:
        with self._store.lock:
            self._store.knobs.stream_error_after = value

    @property
    def stream_ignored(self) -> bool:
        """True: creates answer as if `stream` were not asked for (a server or proxy that
        ignores it)."""
        with self._store.lock:
            return self._store.knobs.stream_ignored

    @stream_ignored.setter
    def stream_ignored(self, value: bool) -> None:
        with self._store.lock:
            self._store.knobs.stream_ignored = value

    @property
    def reasoning_summary_next(self) -> str | None:
        """The next created response starts with a reasoning item; its summary is this text
        when the request sets `reasoning.summary` (else empty, as the real API does)."""
        with self._store.lock:
            return self._store.knobs.reasoning_summary_next

    @reasoning_summary_next.setter
    def reasoning_summary_next(self, value: str | None) -> None:
        with self._store.lock:
            self._store.knobs.reasoning_summary_next = value

    # faults ----------------------------------------------------------------------------
    def drop_streams_after(self, events: int, times: int | None = 1) -> None:
        """Close the next `times` stream connections (None: every one) after each has sent
        `events` events; the response goes on in the background."""
        if events < 0 or (times is not None and times < 1):
            raise ValueError("events must be >= 0 and times >= 1 (or None)")
        with self._store.lock:
            faults = self._store.stream_faults
            faults.drop_after, faults.drops_left = events, times

    def refuse_resumes(
        self, times: int = 1, status: int = 400, body: JsonDict | None = None
    ) -> None:
        """Answer the next `times` resumes (`GET …?stream=true`) with an HTTP error."""
        with self._store.lock:
            faults = self._store.stream_faults
            faults.refusals_left, faults.refusal_status = times, status
            faults.refusal_body = copy.deepcopy(body)

    # inspection ------------------------------------------------------------------------
    @property
    def stream_calls(self) -> list[StreamCall]:
        """Every stream request (create and resume), oldest first, with the events it sent."""
        with self._store.lock:
            return copy.deepcopy(self._store.stream_calls)

    def stream_events(self, response_id: str) -> list[JsonDict]:
        """The events a streamed response has sent so far (index = sequence_number)."""
        with self._store.lock:
            advance_all(self._store)
            stream = self._store.responses[response_id].stream
            return copy.deepcopy(stream.log) if stream is not None else []
