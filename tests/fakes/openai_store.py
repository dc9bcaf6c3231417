"""In-memory state of the fake OpenAI API and the knobs tests turn."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.openai_agents_state import AgentsState
from tests.fakes.openai_shapes import JsonDict

if TYPE_CHECKING:
    from tests.fakes.openai_stream import StreamRec

ACTIVE_RESPONSE = ("queued", "in_progress")
ACTIVE_RUN = ("queued", "in_progress", "requires_action", "cancelling")
DEFAULT_MODELS = (
    "gpt-5-mini",
    "gpt-5",
    "gpt-5-nano",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4o",
    "gpt-4o-mini",
)


@dataclass(frozen=True)
class ReplyContext:
    """What a responder sees of one turn (a response or a run)."""

    model: str
    instructions: str | None
    assistant_id: str | None
    conversation_or_thread_id: str | None
    user_texts: list[str]
    history: list[tuple[str, str]]
    tools: list[Any]
    tool_outputs: list[str]
    turn: int
    turn_id: str
    # Ids of the files the turn's input referenced (input_file/input_image/image_file parts,
    # message attachments, code-interpreter container file_ids).
    file_ids: list[str] = field(default_factory=list)


Responder = Callable[[ReplyContext], str]


# The bridge labels each message of a shared (channel) conversation with its author,
# "[Ana Lima] text": the echo leaves the label out, so a reply reads the same in a DM and a
# channel; tests of the labels assert on the request's input.
_AUTHOR_LABEL = re.compile(r"^\[[^\]\n]*\] ?")


def echo_responder(context: ReplyContext) -> str:
    """The default reply: the turn's user text (without author labels) and how many turns
    the memory holds."""
    texts = [_AUTHOR_LABEL.sub("", text) for text in context.user_texts]
    return f"echo: {chr(10).join(texts)} (turn {context.turn})"


@dataclass
class Timed:
    """Lifecycle timing of a response or run: status follows the wall clock."""

    started: float
    latency: float

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def phase(self) -> str:
        elapsed = self.elapsed()
        if elapsed >= self.latency:
            return "done"
        return "queued" if elapsed < self.latency * 0.3 else "in_progress"


@dataclass
class TurnPlan:
    """What one turn does besides answering, captured from the knobs when it is created."""

    later_rounds: list[list[JsonDict]] = field(default_factory=list)
    generated: list[JsonDict] = field(default_factory=list)
    citations: list[JsonDict] = field(default_factory=list)
    activity: list[str] = field(default_factory=list)
    # Hosted tool name -> the id of its output item / run-step tool call (stable across polls).
    hosted_ids: dict[str, str] = field(default_factory=dict)
    container_id: str | None = None
    # The reasoning summary the turn shows (None: no reasoning item), and the item's id.
    reasoning_summary: str | None = None
    reasoning_id: str = ""


@dataclass
class FileRec:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int


@dataclass
class ContainerFileRec:
    id: str
    container_id: str
    filename: str
    content: bytes
    created_at: int


@dataclass
class ConversationRec:
    id: str
    created_at: int
    metadata: dict[str, Any]
    items: list[JsonDict] = field(default_factory=list)


@dataclass
class ResponseRec:
    id: str
    created_at: float
    request: JsonDict
    input_items: list[JsonDict]
    conversation_id: str | None
    timing: Timed
    final_status: str
    planned_calls: list[JsonDict]
    status: str = "queued"
    output: list[JsonDict] = field(default_factory=list)
    usage: JsonDict | None = None
    error: JsonDict | None = None
    incomplete_details: JsonDict | None = None
    completed_at: float | None = None
    history: list[tuple[str, str]] = field(default_factory=list)
    plan: TurnPlan = field(default_factory=TurnPlan)
    file_ids: list[str] = field(default_factory=list)
    # Set for a response created with `stream: true`: its events, sent and to come.
    stream: StreamRec | None = None


@dataclass
class ThreadRec:
    id: str
    created_at: int
    metadata: dict[str, Any]
    messages: list[JsonDict] = field(default_factory=list)


@dataclass
class RunRec:
    id: str
    thread_id: str
    assistant_id: str
    created_at: int
    request: JsonDict
    model: str
    instructions: str
    tools: list[Any]
    timing: Timed
    final_status: str
    planned_calls: list[JsonDict]
    user_texts: list[str]
    history: list[tuple[str, str]]
    status: str = "queued"
    tool_outputs: list[str] = field(default_factory=list)
    required_action: JsonDict | None = None
    last_error: JsonDict | None = None
    incomplete_details: JsonDict | None = None
    usage: JsonDict | None = None
    started_at: int | None = None
    completed_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    plan: TurnPlan = field(default_factory=TurnPlan)
    file_ids: list[str] = field(default_factory=list)
    steps: list[JsonDict] = field(default_factory=list)


@dataclass
class StreamCall:
    """One stream request: a create or a resume, what it sent, and how it ended."""

    kind: str  # "create" | "resume"
    response_id: str
    starting_after: int | None
    sequence_numbers: list[int] = field(default_factory=list)
    # "open", "finished" (the response's events ran out), "dropped" (a fault), "gone" (client)
    end: str = "open"


@dataclass
class StreamFaults:
    """Stream faults still to come, used up by stream requests in order."""

    drop_after: int = 0  # events a stream connection sends before it is closed
    drops_left: int | None = 0  # connections still to drop (None: every one)
    refusals_left: int = 0  # resumes still to refuse
    refusal_status: int = 400
    refusal_body: JsonDict | None = None


@dataclass
class Knobs:
    """Behaviour tests can change at any time (read under the store lock)."""

    latency: float = 0.2
    responder: Responder = echo_responder
    final_status: str | None = None
    function_calls_next: list[JsonDict] = field(default_factory=list)
    function_call_rounds_next: list[list[JsonDict]] = field(default_factory=list)
    function_calls_forever: list[JsonDict] | None = None
    generated_files_next: list[JsonDict] = field(default_factory=list)
    citations_next: list[JsonDict] = field(default_factory=list)
    activity_next: list[str] = field(default_factory=list)
    max_file_bytes: int = 512 * 1024 * 1024
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    api_key: str | None = None
    # Extra fields of a model object by model id, e.g. {"gpt-4o": {"shutdown_date": "…"}}.
    model_extra: dict[str, JsonDict] = field(default_factory=dict)
    # Streamed responses (tests/fakes/openai_stream_knobs.py says what each one means).
    stream_first_token: float | None = None
    stream_spread: float | None = None
    stream_deltas: int | None = None
    stream_keepalive: float | None = None
    stream_error_after: int | None = None
    stream_ignored: bool = False
    reasoning_summary_next: str | None = None
    # Characters of input past which a create fails (`tests/fakes/openai_context.py`).
    context_limit: int | None = None


@dataclass
class Store:
    """Everything the fake remembers; mutate only while holding `lock`."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    knobs: Knobs = field(default_factory=Knobs)
    conversations: dict[str, ConversationRec] = field(default_factory=dict)
    responses: dict[str, ResponseRec] = field(default_factory=dict)
    assistants: dict[str, JsonDict] = field(default_factory=dict)
    threads: dict[str, ThreadRec] = field(default_factory=dict)
    runs: dict[str, RunRec] = field(default_factory=dict)
    files: dict[str, FileRec] = field(default_factory=dict)
    containers: set[str] = field(default_factory=set)
    container_files: dict[str, ContainerFileRec] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Every stream request (create and resume), oldest first, and the faults still to come.
    stream_calls: list[StreamCall] = field(default_factory=list)
    stream_faults: StreamFaults = field(default_factory=StreamFaults)
    # The Agents API (beta): tests/fakes/openai_agents*.py.
    agents: AgentsState = field(default_factory=AgentsState)

    def take_planned_calls(self) -> list[JsonDict]:
        calls, self.knobs.function_calls_next = self.knobs.function_calls_next, []
        return list(calls)

    def forever_calls(self) -> list[JsonDict] | None:
        """A fresh round of the `function_calls_forever` calls (new call ids), if set."""
        forever = self.knobs.function_calls_forever
        if not forever:
            return None
        return [{k: v for k, v in call.items() if k != "call_id"} for call in forever]

    def take_rounds(self) -> list[list[JsonDict]]:
        """The function-call rounds a new turn makes: [] answers at once."""
        forever = self.forever_calls()
        if forever is not None:
            return [forever]
        calls = self.take_planned_calls()
        if calls:
            return [calls]
        rounds, self.knobs.function_call_rounds_next = self.knobs.function_call_rounds_next, []
        return [list(r) for r in rounds if r]

    def take_plan(self, rounds: list[list[JsonDict]], *, answers_now: bool) -> TurnPlan:
        """Later rounds and the hosted-tool knobs (files and citations only if it answers now)."""
        knobs = self.knobs
        plan = TurnPlan(later_rounds=rounds[1:], activity=list(knobs.activity_next))
        knobs.activity_next = []
        if answers_now:
            plan.generated, knobs.generated_files_next = list(knobs.generated_files_next), []
            plan.citations, knobs.citations_next = list(knobs.citations_next), []
        return plan

    def planned_final_status(self) -> str:
        return self.knobs.final_status or "completed"

    def reply(self, context: ReplyContext) -> str | None:
        """The responder's text, or None (and a recorded error) if it raised."""
        try:
            return self.knobs.responder(context)
        except Exception as exc:  # a broken responder fails the turn, like a model error
            self.errors.append(f"responder raised {exc!r} for {context.turn_id}")
            return None


def now_int() -> int:
    return int(time.time())
