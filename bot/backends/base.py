"""The backend interface: create a conversation, start a run on it, poll the run."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeVar

import openai

from bot.assistants import Assistant
from bot.backends.citations import GeneratedFile
from bot.errors import BackendError
from bot.functions.calls import ToolCall, ToolOutput

if TYPE_CHECKING:
    from bot.file_rules import FileKind, Purpose

T = TypeVar("T")


class RunStatus(StrEnum):
    """Where a run is, in the words both APIs share (Assistants adds `expired`)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    INCOMPLETE = "incomplete"
    # The run waits for the outputs of function calls (Responses: completed with
    # `function_call` items; Assistants: `requires_action`).
    REQUIRES_ACTION = "requires_action"


@dataclass(frozen=True)
class Usage:
    """What one OpenAI response or run used, as the API reports it (its `usage`)."""

    model: str
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    tool_calls: int = 0


@dataclass(frozen=True)
class RunState:
    """A poll's result: the status, and once finished the assistant's answer.

    `watermark` names the newest thing the run added to the conversation (the last output
    item, or the run itself): what a later recovery looks past. `tool_calls`: what a run in
    REQUIRES_ACTION asks for. `activity`: what a running run is doing ("running code"),
    when the API says. `files`: files the answer made, to upload next to its text.
    `usage`: what the finished response or run used, when the API reports it.
    """

    status: RunStatus
    text: str = ""
    reason: str | None = None
    watermark: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    activity: str | None = None
    files: tuple[GeneratedFile, ...] = ()
    usage: Usage | None = None


@dataclass(frozen=True)
class TurnBrief:
    """What a run gets besides its messages.

    `instructions`: per-turn instructions, added after the assistant's own (Responses:
    appended to `instructions`; Assistants: `additional_instructions`). `cache_key`: the
    Responses `prompt_cache_key`, one per conversation. `safety_id`: the Responses
    `safety_identifier`, a stable hash of team and user (never the raw ids).
    `force_truncation`: a retry after `context_length_exceeded` (`truncation: "auto"`).
    `request_key`: the same for every attempt at this turn's create (the Agents API's
    `Idempotency-Key`: a retried or taken-over send starts no second turn). `after`: the
    conversation's watermark, what the run's own output comes after (Agents API: the
    previous turn, so the new one is told apart from it).
    """

    instructions: str | None = None
    cache_key: str | None = None
    safety_id: str | None = None
    force_truncation: bool = False
    request_key: str | None = None
    after: str | None = None


NO_BRIEF = TurnBrief()


@dataclass(frozen=True)
class Attachment:
    """A file the user attached, uploaded to OpenAI: `openai_id` and what kind it is."""

    openai_id: str
    name: str
    kind: FileKind


@dataclass(frozen=True)
class UserMessage:
    """One queued Slack message as the run's input: its text and its files."""

    text: str
    attachments: tuple[Attachment, ...] = ()


class Pending:
    """Recovery found the run's input in the conversation, but no output yet."""


PENDING = Pending()
Recovered = str | RunState | Pending | None


class Backend(Protocol):
    """What the scheduler needs from an OpenAI API, whichever it is."""

    kind: str

    async def create_conversation(self, *, key: str, assistant: Assistant) -> str:
        """Create the persistent conversation (or thread); return its id."""
        ...

    async def start_run(
        self,
        *,
        conversation_id: str,
        assistant: Assistant,
        messages: list[UserMessage],
        brief: TurnBrief = NO_BRIEF,
    ) -> str:
        """Add the user's messages and start the assistant on them; return the run's id."""
        ...

    async def submit_tool_outputs(
        self,
        *,
        conversation_id: str,
        run_id: str,
        assistant: Assistant,
        outputs: list[ToolOutput],
        brief: TurnBrief = NO_BRIEF,
    ) -> str:
        """Send function outputs; return the id of the run to poll next (not idempotent)."""
        ...

    async def abandon_tool_calls(
        self, *, conversation_id: str, run_id: str, calls: tuple[ToolCall, ...]
    ) -> str | None:
        """Close calls that will not be run (tool-round cap) so the conversation can go on.

        Returns the new watermark, if the conversation got new items.
        """
        ...

    def file_purpose(self, kind: FileKind) -> Purpose:
        """The `purpose` an uploaded attachment of this kind needs on this API."""
        ...

    def reads_files(self, assistant: Assistant) -> bool:
        """Whether the assistant can read files users attach (else they are not moved)."""
        ...

    async def download_file(self, file: GeneratedFile, *, max_bytes: int) -> bytes:
        """The bytes of a file the assistant made; FileTooLarge past `max_bytes`."""
        ...

    async def poll_run(
        self, *, conversation_id: str, run_id: str, assistant: Assistant
    ) -> RunState:
        """Look at the run once (and move it along where it waits for the bridge)."""
        ...

    async def cancel_run(self, *, conversation_id: str, run_id: str) -> None:
        """Ask OpenAI to stop the run (it may finish anyway)."""
        ...

    def settled_conversation(self, conversation_id: str) -> str | None:
        """The real id of a conversation that was created by the last start (or found by the
        last recovery) under a placeholder id; None when it kept its id (the usual case)."""
        ...

    async def recover_run(self, *, conversation_id: str, watermark: str | None) -> Recovered:
        """After a crash during `start_run`: did the run get created?

        Returns the run's id to poll, its final state, PENDING (created, id unknown, not
        finished), or None (not created: start it again).
        """
        ...


# 400s that mean "busy, try again once the current run ends", not "wrong request".
_BUSY_MARKERS = ("conversation_locked", "while a run", "already has an active run")


def classify(exc: openai.OpenAIError) -> BackendError:
    """Map an SDK error to a BackendError saying whether a later try can succeed."""
    if isinstance(exc, openai.APIStatusError):
        return classify_status(exc.status_code, exc.body, str(exc.message))
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(type(exc).__name__, transient=True, code="connection")
    return BackendError(type(exc).__name__, transient=False, code="unknown")


def classify_status(status: int, body: object, message: str = "") -> BackendError:
    """An HTTP error answer of OpenAI (status, decoded JSON body) as a BackendError."""
    code = _error_code(body)
    text = f"{status} {code or ''}".strip()
    if status in (400, 409) and any(
        marker in (code or "") or marker in message for marker in _BUSY_MARKERS
    ):
        return BackendError(text, transient=True, code="busy")
    transient = status in (408, 409, 429) or status >= 500
    return BackendError(text, transient=transient, code=code or str(status))


def _error_code(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("code"):
            return str(error["code"])
    return None


def abandoned(call: ToolCall) -> str:
    """The output of a call the bridge stopped before running (too many tool rounds)."""
    return json.dumps(
        {"error": f"{call.name} was not run: this turn reached its limit of tool calls"}
    )


# What the hosted tools are doing, in the words the user sees while a run works.
ACTIVITY = {
    "code_interpreter": "running code",
    "file_search": "searching files",
    "web_search": "searching the web",
}


async def call(make: Callable[[], Awaitable[T]]) -> T:
    """Await an SDK call, turning its errors into BackendError."""
    try:
        return await make()
    except openai.OpenAIError as exc:
        raise classify(exc) from exc
