"""The backend interface: create a conversation, start a run on it, poll the run."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

import openai

from bot.assistants import Assistant
from bot.errors import BackendError

T = TypeVar("T")


class RunStatus(StrEnum):
    """Where a run is, in the words both APIs share (Assistants adds `expired`)."""

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class RunState:
    """A poll's result: the status, and once finished the assistant's text.

    `watermark` names the newest thing the run added to the conversation (the last output
    item, or the run itself): what a later recovery looks past.
    """

    status: RunStatus
    text: str = ""
    reason: str | None = None
    watermark: str | None = None
    # The run continues as a new one (Responses: a follow-up response with tool outputs).
    next_run_id: str | None = None


class Pending:
    """Recovery found the run's input in the conversation, but no output yet."""


PENDING = Pending()
Recovered = str | RunState | Pending | None


class Backend(Protocol):
    """What the scheduler needs from an OpenAI API, whichever it is."""

    kind: str

    async def create_conversation(self, *, key: str) -> str:
        """Create the persistent conversation (or thread); return its id."""
        ...

    async def start_run(
        self, *, conversation_id: str, assistant: Assistant, texts: list[str]
    ) -> str:
        """Add the user's messages and start the assistant on them; return the run's id."""
        ...

    async def poll_run(
        self, *, conversation_id: str, run_id: str, assistant: Assistant
    ) -> RunState:
        """Look at the run once (and move it along where it waits for the bridge)."""
        ...

    async def cancel_run(self, *, conversation_id: str, run_id: str) -> None:
        """Ask OpenAI to stop the run (it may finish anyway)."""
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
        code = _error_code(exc)
        message = f"{exc.status_code} {code or ''}".strip()
        if isinstance(exc, openai.BadRequestError | openai.ConflictError) and any(
            marker in (code or "") or marker in str(exc.message) for marker in _BUSY_MARKERS
        ):
            return BackendError(message, transient=True, code="busy")
        transient = exc.status_code in (408, 409, 429) or exc.status_code >= 500
        return BackendError(message, transient=transient, code=code or str(exc.status_code))
    if isinstance(exc, openai.APIConnectionError):
        return BackendError(type(exc).__name__, transient=True, code="connection")
    return BackendError(type(exc).__name__, transient=False, code="unknown")


def _error_code(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("code"):
            return str(error["code"])
    return getattr(exc, "code", None)


def unavailable(function: str) -> str:
    """The output given for a function call the bridge cannot run: an error the model reads."""
    return json.dumps({"error": f"function {function!r} is not available in this bridge"})


async def call(make: Callable[[], Awaitable[T]]) -> T:
    """Await an SDK call, turning its errors into BackendError."""
    try:
        return await make()
    except openai.OpenAIError as exc:
        raise classify(exc) from exc
