"""A streamed fake response: its server-sent events in the real API's order and shapes, sent
as the clock reaches them; what a poll shows is folded from the events sent so far."""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field

from tests.fakes.openai_outcome import SERVER_ERROR, Outcome, finish_response
from tests.fakes.openai_response_json import response_json
from tests.fakes.openai_shapes import ApiError, JsonDict, Streamed
from tests.fakes.openai_store import ACTIVE_RESPONSE, ResponseRec, Store, Timed
from tests.fakes.openai_stream_items import item_events

# Lifecycle events carry the whole response as it is when they are sent.
_LIFECYCLE = ("response.created", "response.queued", "response.in_progress")
_TERMINAL = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}
# A cancelled response ends its stream without a terminal event: the SDK's event union
# (openai/types/responses/response_stream_event.py) has no cancellation event.
_SILENT_END = ""


@dataclass
class Scheduled:
    """An event due `at` seconds after the response was created (no sequence number yet)."""

    at: float
    event: JsonDict


@dataclass
class StreamRec:
    """The events sent so far (`log[n]` has sequence_number n) and those still to come."""

    outcome: Outcome
    schedule: deque[Scheduled]
    error_after: int | None = None
    log: list[JsonDict] = field(default_factory=list)

    def finished(self, rec: ResponseRec) -> bool:
        return not self.schedule or rec.status not in ACTIVE_RESPONSE

    def due_in(self, rec: ResponseRec) -> float | None:
        """Seconds until the next event is due, or None when none will come."""
        if self.finished(rec):
            return None
        return max(0.0, self.schedule[0].at - rec.timing.elapsed())


def start_stream(store: Store, rec: ResponseRec, outcome: Outcome) -> Streamed:
    """Plan `rec`'s events from its outcome and the pace knobs; send `response.created`."""
    knobs = store.knobs
    first = knobs.stream_first_token
    first = rec.timing.latency * 0.5 if first is None else first
    spread = knobs.stream_spread
    spread = rec.timing.latency * 0.5 if spread is None else spread
    rec.timing = Timed(rec.timing.started, first + spread)
    options = rec.request.get("stream_options")
    obfuscate = not isinstance(options, dict) or options.get("include_obfuscation") is not False
    events = [Scheduled(0.0, {"type": "response.created"})]
    if rec.request.get("background"):
        events.append(Scheduled(0.0, {"type": "response.queued"}))
    events.append(Scheduled(first * 0.2, {"type": "response.in_progress"}))
    items = outcome.output if outcome.output is not None else outcome.leading
    leading = len(outcome.leading)
    windows = [(first * 0.2, first, leading), (first, first + spread, len(items) - leading)]
    index = 0
    for begin, end, count in windows:
        for slot in range(count):
            width = (end - begin) / count
            steps = item_events(items[index], index, obfuscate, knobs.stream_deltas)
            events += _spread(steps, begin + slot * width, begin + (slot + 1) * width)
            index += 1
    final = {"type": _TERMINAL.get(outcome.status, _SILENT_END)}
    events.append(Scheduled(first + spread, final))
    rec.stream = StreamRec(outcome, deque(events), knobs.stream_error_after)
    advance_stream(store, rec)
    return Streamed(rec.id, -1, "create")


def _spread(events: list[JsonDict], begin: float, end: float) -> list[Scheduled]:
    """An item's events over [begin, end]: its first delta at `begin` (with what opens the
    item), its last at `end` (with what closes it), the others evenly between, as the real
    API sends them (the `stream_first_token` knob is the first delta's time)."""
    deltas = [i for i, event in enumerate(events) if str(event.get("type")).endswith(".delta")]
    if not deltas:
        last = max(1, len(events) - 1)
        return [Scheduled(begin + (end - begin) * i / last, e) for i, e in enumerate(events)]
    first, final = deltas[0], deltas[-1]
    steps = max(1, final - first)

    def at(i: int) -> float:
        return begin + (end - begin) * min(max(i - first, 0), steps) / steps

    return [Scheduled(at(i), event) for i, event in enumerate(events)]


def resume_stream(rec: ResponseRec, store: Store, query: dict[str, str]) -> Streamed:
    """`GET /responses/{id}?stream=true&starting_after=N`: the events after N, then live."""
    if not rec.request.get("background") or rec.stream is None:
        # Only a background response's events are kept to stream again. The wording of the
        # real API's refusal is not documented; its status and body shape are the usual.
        raise ApiError(400, "Only background responses created with stream=true can be streamed.")
    faults = store.stream_faults
    if faults.refusals_left > 0:
        faults.refusals_left -= 1
        error = ApiError(faults.refusal_status, "This response can no longer be streamed.")
        if faults.refusal_body is not None:
            error.body = copy.deepcopy(faults.refusal_body)
        raise error
    raw = query.get("starting_after")
    try:
        after = -1 if raw is None else int(raw)
    except ValueError:
        raise ApiError(400, "Invalid 'starting_after': expected an integer.") from None
    return Streamed(rec.id, after, "resume")


def advance_stream(store: Store, rec: ResponseRec) -> None:
    """Send every event the clock has reached (call under the store's lock)."""
    stream = rec.stream
    assert stream is not None
    elapsed = rec.timing.elapsed()
    while stream.schedule and stream.schedule[0].at <= elapsed:
        if rec.status not in ACTIVE_RESPONSE:
            return
        event = stream.schedule.popleft().event
        if stream.error_after is not None and len(stream.log) >= stream.error_after:
            _fail(store, rec, stream)
            return
        _send(store, rec, stream, event)


def _send(store: Store, rec: ResponseRec, stream: StreamRec, event: JsonDict) -> None:
    kind = event["type"]
    if kind in _LIFECYCLE:
        # A background response is created queued (`response.created`, `response.queued`).
        queued = kind == "response.queued" or (
            kind == "response.created" and bool(rec.request.get("background"))
        )
        rec.status = "queued" if queued else "in_progress"
        body: JsonDict = {"response": copy.deepcopy(response_json(rec))}
    elif kind in (*_TERMINAL.values(), _SILENT_END):
        finish_response(store, rec, stream.outcome)
        if kind == _SILENT_END:
            return
        body = {"response": copy.deepcopy(response_json(rec))}
    else:
        fold(rec.output, event)
        body = {k: v for k, v in event.items() if k != "type"}
    stream.log.append({"type": kind, "sequence_number": len(stream.log), **body})


def _fail(store: Store, rec: ResponseRec, stream: StreamRec) -> None:
    """An `error` event (openai/types/responses/response_error_event.py: code, message,
    param, sequence_number) in place of the rest; the response fails with that error."""
    stream.schedule.clear()
    error = {"code": SERVER_ERROR["code"], "message": SERVER_ERROR["message"], "param": None}
    stream.log.append({"type": "error", "sequence_number": len(stream.log), **error})
    finish_response(store, rec, Outcome("failed", error=dict(SERVER_ERROR)))


def fold(output: list[JsonDict], event: JsonDict) -> None:
    """Apply one item event to the response's output, as a poll then shows it."""
    kind, index = str(event["type"]), event.get("output_index")
    if kind == "response.output_item.added":
        output.append(copy.deepcopy(event["item"]))
        return
    if not isinstance(index, int) or index >= len(output):
        return
    item = output[index]
    if kind == "response.output_item.done":
        output[index] = copy.deepcopy(event["item"])
    elif kind == "response.content_part.added":
        item["content"].append(copy.deepcopy(event["part"]))
    elif kind == "response.output_text.delta":
        item["content"][event["content_index"]]["text"] += event["delta"]
    elif kind == "response.output_text.annotation.added":
        part = item["content"][event["content_index"]]
        part["annotations"].append(copy.deepcopy(event["annotation"]))
    elif kind == "response.function_call_arguments.delta":
        item["arguments"] += event["delta"]
    elif kind == "response.reasoning_summary_part.added":
        item["summary"].append(copy.deepcopy(event["part"]))
    elif kind == "response.reasoning_summary_text.delta":
        item["summary"][event["summary_index"]]["text"] += event["delta"]
    elif kind == "response.code_interpreter_call_code.delta":
        item["code"] = (item.get("code") or "") + event["delta"]
    elif kind.startswith(("response.web_search_call.", "response.file_search_call.")) or (
        kind.startswith("response.code_interpreter_call.")
    ):
        item["status"] = kind.rsplit(".", 1)[1]
