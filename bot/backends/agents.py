"""Agents API backend (beta): a saved agent, one durable session per conversation, a turn
per bridge turn — sent as input events under an idempotency key, polled or streamed.

The seed's flow word for word: the session is the thread, a turn is the run (`queued`,
`in_progress`, `waiting`, then `completed` / `failed` / `cancelled`), function calls are
the session's `required_actions`, answered with `tool_result` events on the same turn.

- A session is created together with its first input (the API requires input for an
  environment of type `none`), so a conversation's id is first a placeholder
  (`NEW_SESSION` + a token, recorded); the create carries the token as session metadata,
  and a lost answer is found again by `sessions.list(metadata=…)`. The session id the
  create returns is handed to the turn machine through `settled_conversation`.
- Every input event carries an `Idempotency-Key` derived from the session and the bridge's
  turn (and the tool round's call ids): a send that is retried, or repeated by a process
  that took the turn over, starts no second turn and submits no result twice.
- The bridge sends a message only to an idle session: messages that come during a turn
  wait for the next one (README: "Messages during a running turn"), so no steer races
  the end of a turn.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import posixpath
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from openai import AsyncOpenAI, omit

from bot.assistants import Assistant
from bot.backends.agent_state import (
    FINAL,
    Approval,
    activity_of,
    artifact_files,
    finished_state,
    pending_for,
)
from bot.backends.agent_stream import AgentRunStream
from bot.backends.agents_http import AgentsReads, path
from bot.backends.base import (
    NO_BRIEF,
    PENDING,
    Attachment,
    Recovered,
    RunState,
    RunStatus,
    TurnBrief,
    UserMessage,
    abandoned,
    call,
)
from bot.backends.citations import GeneratedFile
from bot.backends.downloads import read_capped
from bot.backends.sse import EventSource
from bot.errors import BackendError
from bot.functions.calls import ToolCall, ToolOutput

if TYPE_CHECKING:
    from bot.file_rules import FileKind, Purpose

JsonDict = dict[str, Any]
V = TypeVar("V")
log = logging.getLogger(__name__)

# Attached files go here in a hosted environment (the agent is told the paths).
INPUTS_DIR = "/workspace/inputs"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# A conversation whose session is not created yet: the placeholder recorded as its id.
NEW_SESSION = "agent-session-new:"
# The session metadata key the create carries the placeholder's token in.
TOKEN_KEY = "assistant_bridge_conversation"
# The input's turn is listed shortly after the 202 ("acceptance, not durable completion"):
# looked for this many times, these seconds apart, before the start is tried again later.
_FIND_TURN_DELAYS = (0.05, 0.2, 0.5, 1.0)
_CREATE_SECONDS = 20.0
# A running turn's activity is read from this many of its newest items.
_RECENT_ITEMS = 10
# Per-process look-ups (turn → session, session → model, …) keep this many entries.
_REMEMBERED = 4096
DENIED_NOTICE = (
    "_The agent asked for approval to use {what}. Approvals from Slack are not supported "
    "yet, so it was declined._"
)


def is_new_session(conversation_id: str) -> bool:
    return conversation_id.startswith(NEW_SESSION)


def input_path(attachment: Attachment) -> str:
    """Where an attached file is put in the agent's environment."""
    name = _UNSAFE.sub("_", posixpath.basename(attachment.name)).strip("._") or "file"
    return f"{INPUTS_DIR}/{name}"


def environment_files(messages: Sequence[UserMessage]) -> list[JsonDict]:
    """The attached files as a hosted environment's `files` (Files API ids, with paths)."""
    return [
        {"type": "file_id", "file_id": a.openai_id, "path": input_path(a)}
        for message in messages
        for a in message.attachments
    ]


def input_messages(messages: Sequence[UserMessage], brief: TurnBrief) -> list[JsonDict]:
    """The user messages of an `agent.session.input.message` event. Per-turn instructions
    (who asks, where, when) lead the first message: an input event has no instructions of
    its own. Files reach an agent through its environment, never as message content: the
    message says where they are."""
    built: list[JsonDict] = []
    for number, message in enumerate(messages):
        content: list[JsonDict] = []
        if number == 0 and brief.instructions:
            content.append({"type": "input_text", "text": f"[{brief.instructions}]"})
        text = message.text
        if message.attachments:
            paths = ", ".join(input_path(a) for a in message.attachments)
            text = f"{text}\n\n(Attached files, in your environment: {paths})".strip()
        content.append({"type": "input_text", "text": text or "(no text)"})
        built.append({"role": "user", "type": "message", "content": content})
    return built


def tool_results(turn_id: str, outputs: Sequence[ToolOutput]) -> list[JsonDict]:
    """`agent.session.input.tool_result` events: an error output as `success: false`."""
    events: list[JsonDict] = []
    for out in outputs:
        event: JsonDict = {
            "type": "agent.session.input.tool_result",
            "turn_id": turn_id,
            "call_id": out.call_id,
            "success": out.ok,
        }
        if out.ok:
            event["output"] = out.output
        else:
            event["error"] = out.output
        events.append(event)
    return events


def denial(approval: Approval) -> JsonDict:
    """The input event that declines an approval request (approvals in Slack come later)."""
    if approval.kind == "mcp":
        return {
            "type": "agent.session.input.mcp_approval_request_result",
            "request_id": approval.request_id,
            "response": {"type": "mcp_tool_call", "decision": "deny"},
        }
    if approval.request_type == "browser_authentication":
        response: JsonDict = {"type": "browser_authentication", "action": "cancel"}
    else:
        response = {"type": "browser_origin_access", "decision": "deny"}
    return {
        "type": "agent.session.input.computer_use_approval_request_result",
        "request_id": approval.request_id,
        "response": response,
    }


def round_key(turn_id: str, call_ids: Sequence[str]) -> str:
    """One tool round's key: the turn and its calls (a round is its set of call ids)."""
    digest = hashlib.sha256("\n".join(sorted(call_ids)).encode()).hexdigest()[:24]
    return f"{turn_id}:tools:{digest}"


class Remembered(OrderedDict[str, V]):
    """A dict that forgets its oldest entries past `_REMEMBERED` (a process lives long)."""

    def __setitem__(self, key: str, value: V) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > _REMEMBERED:
            self.popitem(last=False)


class AgentsBackend:
    """Sessions, input events and turns of `client.beta.agents`."""

    kind = "agents"

    def __init__(
        self,
        client: AsyncOpenAI,
        http: aiohttp.ClientSession | None = None,
        *,
        stream_idle: float = 30.0,
    ) -> None:
        self._client = client
        # Sends are never retried by the SDK (a repeat is the machine's, after a look); a
        # short timeout keeps a send inside the turn's lease.
        self._send_client = client.with_options(max_retries=0, timeout=_CREATE_SECONDS)
        self._agents = client.beta.agents
        self._reads = AgentsReads(client, http, stream_idle=stream_idle)
        # New-session placeholder → the session the create (or a recovery) found: handed
        # to the machine right after the call (`settled_conversation`).
        self._settled: Remembered[str] = Remembered()
        # A streamed turn → its session, for a resume (which is given the turn's id only).
        self._session_of: Remembered[str] = Remembered()
        # Session → its agent's model (usage rows name a model).
        self._models: Remembered[str] = Remembered()
        # Session → whether it has a hosted environment (only those publish artifacts).
        self._hosted: Remembered[bool] = Remembered()
        # Turns whose approval requests this process declined: their answers say so.
        self._denied: Remembered[list[str]] = Remembered()
        # Saved agents' tools, looked up once (functions are added to a session's tools).
        self._agent_tools: dict[str, list[JsonDict]] = {}

    # The conversation -------------------------------------------------------------------
    async def create_conversation(self, *, key: str, assistant: Assistant) -> str:
        # Nothing is created yet: a session needs its first input.
        return f"{NEW_SESSION}{uuid.uuid4().hex}"

    def settled_conversation(self, conversation_id: str) -> str | None:
        """The session a placeholder became (once, right after the call that learned it)."""
        return self._settled.pop(conversation_id, None)

    # Starting ---------------------------------------------------------------------------
    async def start_run(
        self,
        *,
        conversation_id: str,
        assistant: Assistant,
        messages: list[UserMessage],
        brief: TurnBrief = NO_BRIEF,
    ) -> str:
        if is_new_session(conversation_id):
            session_id = await self._create_session(conversation_id, assistant, messages, brief)
            return await self._find_turn(session_id, after=None)
        self._hosted[conversation_id] = self.reads_files(assistant)
        await self._send_message(conversation_id, messages, brief)
        return await self._find_turn(conversation_id, after=brief.after)

    async def start_run_streamed(
        self,
        *,
        conversation_id: str,
        assistant: Assistant,
        messages: list[UserMessage],
        brief: TurnBrief = NO_BRIEF,
    ) -> AgentRunStream | str:
        """`start_run` with the session's stream opened first (it replays nothing): the
        stream, or the turn's id to poll when no stream could be opened."""
        if not self._reads.streams:
            return await self.start_run(
                conversation_id=conversation_id, assistant=assistant, messages=messages, brief=brief
            )
        if is_new_session(conversation_id):
            session_id = await self._create_session(conversation_id, assistant, messages, brief)
            turn_id = await self._find_turn(session_id, after=None)
            return await self._stream_or_id(session_id, turn_id)
        self._hosted[conversation_id] = self.reads_files(assistant)
        source = await self._reads.open_stream(conversation_id)
        if source is None:
            return await self.start_run(
                conversation_id=conversation_id, assistant=assistant, messages=messages, brief=brief
            )
        try:
            await self._send_message(conversation_id, messages, brief)
            turn_id = await self._find_turn(conversation_id, after=brief.after)
        except BaseException:
            source.close()
            raise
        return self._stream(source, conversation_id, turn_id)

    async def _create_session(
        self, placeholder: str, assistant: Assistant, messages: list[UserMessage], brief: TurnBrief
    ) -> str:
        token = placeholder.removeprefix(NEW_SESSION)
        overrides = await self._overrides(assistant)
        # Plain JSON in the wire form the SDK's TypedDicts describe.
        environment = assistant.session_environment
        if files := environment_files(messages):
            environment["files"] = files
        params: Any = {
            "agent_id": assistant.agent_id,
            "environment": environment,
            "input": input_messages(messages, brief),
            "metadata": {TOKEN_KEY: token},
        }
        if overrides:
            params["agent"] = overrides
        session = await call(lambda: self._send_client.beta.agents.sessions.create(**params))
        session_id = str(session.id)
        self._hosted[session_id] = self.reads_files(assistant)
        self._settled[placeholder] = session_id
        self._models[session_id] = str(session.agent.model)
        log.info("created agent session %s for a new conversation", session_id)
        return session_id

    async def _overrides(self, assistant: Assistant) -> JsonDict:
        """The session's agent settings over the saved agent's: the bridge's functions, when
        the saved agent does not already have them as tools."""
        if not assistant.callables:
            return {}
        tools = await self._saved_tools(assistant.agent_id)
        names = {t.get("name") for t in tools if t.get("type") == "function"}
        missing = [f for f in assistant.callables if f.name not in names]
        if not missing:
            return {}
        return {"tools": [*tools, *(f.agents_tool() for f in missing)]}

    async def _saved_tools(self, agent_id: str) -> list[JsonDict]:
        if agent_id not in self._agent_tools:
            agent = await call(lambda: self._agents.retrieve(agent_id))
            self._agent_tools[agent_id] = [
                tool.model_dump(mode="json", exclude_none=True) for tool in agent.tools
            ]
        return self._agent_tools[agent_id]

    async def _send_message(
        self, session_id: str, messages: list[UserMessage], brief: TurnBrief
    ) -> None:
        files = environment_files(messages)
        if files:
            # Into the session's environment before the message that names them (a file
            # at the same path is replaced: placing it again is harmless).
            environment_id = await self._environment_id(session_id)
            for file in files:
                await call(
                    lambda f=file: self._agents.environments.files.create(  # type: ignore[misc]
                        environment_id, file_id=f["file_id"], path=f["path"], type="file_id"
                    )
                )
        event = {
            "type": "agent.session.input.message",
            "input": input_messages(messages, brief),
        }
        key = f"{session_id}:{brief.request_key}:input" if brief.request_key else None
        await self._send(session_id, [event], key)

    async def _environment_id(self, session_id: str) -> str:
        session = await self._reads.get(path("sessions", session_id))
        environment_id = _dict(session.get("environment")).get("id")
        if not environment_id:
            raise BackendError("the session has no environment for files", transient=False)
        return str(environment_id)

    async def _send(self, session_id: str, events: list[JsonDict], key: str | None) -> None:
        await call(
            lambda: self._send_client.beta.agents.sessions.events.create(
                session_id,
                events=events,  # type: ignore[arg-type]
                idempotency_key=key if key else omit,
            )
        )

    async def _find_turn(self, session_id: str, *, after: str | None) -> str:
        """The turn the input just started: the session's newest, if it is not `after`."""
        for delay in (0.0, *_FIND_TURN_DELAYS):
            if delay:
                await asyncio.sleep(delay)
            newest = await self._newest_turn(session_id)
            if newest is not None and newest != after:
                return newest
        # Sent (202) but not listed yet: the start is tried again later, after a look
        # (`recover_run`), and a repeat of the send is harmless under its key.
        raise BackendError("input accepted; its turn is not listed yet", transient=True)

    async def _newest_turn(self, session_id: str) -> str | None:
        listed = await self._reads.page(
            path("sessions", session_id, "turns"), {"order": "desc", "limit": "10"}
        )
        # The bridge's turns are the root ones; a subagent's turns are listed beside them.
        turns = [t for t in listed if t.get("subagent_id") is None and t.get("id")]
        return str(turns[0]["id"]) if turns else None

    # Functions --------------------------------------------------------------------------
    async def submit_tool_outputs(
        self,
        *,
        conversation_id: str,
        run_id: str,
        assistant: Assistant,
        outputs: list[ToolOutput],
        brief: TurnBrief = NO_BRIEF,
    ) -> str:
        key = f"{conversation_id}:{round_key(run_id, [o.call_id for o in outputs])}"
        await self._send(conversation_id, tool_results(run_id, outputs), key)
        return run_id  # the same turn goes on

    async def submit_tool_outputs_streamed(
        self,
        *,
        conversation_id: str,
        run_id: str,
        assistant: Assistant,
        outputs: list[ToolOutput],
        brief: TurnBrief = NO_BRIEF,
    ) -> AgentRunStream | str:
        source = await self._reads.open_stream(conversation_id)
        try:
            await self.submit_tool_outputs(
                conversation_id=conversation_id,
                run_id=run_id,
                assistant=assistant,
                outputs=outputs,
                brief=brief,
            )
        except BaseException:
            if source is not None:
                source.close()
            raise
        return run_id if source is None else self._stream(source, conversation_id, run_id)

    async def abandon_tool_calls(
        self, *, conversation_id: str, run_id: str, calls: tuple[ToolCall, ...]
    ) -> str | None:
        # The turn waits for these calls: answer each as an error, then end the turn.
        outputs = [ToolOutput(c.call_id, abandoned(c), ok=False) for c in calls]
        key = f"{conversation_id}:{round_key(run_id, [c.call_id for c in calls])}:abandon"
        await self._send(conversation_id, tool_results(run_id, outputs), key)
        await self.cancel_run(conversation_id=conversation_id, run_id=run_id)
        return run_id

    # Looking at a turn ------------------------------------------------------------------
    async def poll_run(
        self, *, conversation_id: str, run_id: str, assistant: Assistant
    ) -> RunState:
        if conversation_id not in self._hosted:  # a session keeps its assistant's environment
            self._hosted[conversation_id] = self.reads_files(assistant)
        return await self._look(conversation_id, run_id)

    async def _look(self, session_id: str, turn_id: str) -> RunState:
        turn = await self._reads.get(path("sessions", session_id, "turns", turn_id))
        kind = str(turn.get("status") or "")
        status = FINAL.get(kind)
        if status is not None:
            return await self._finished(session_id, turn, status)
        if kind == "waiting":
            return await self._waiting(session_id, turn_id)
        if kind == "queued":
            return RunState(RunStatus.RUNNING)
        # What it does now: its newest items only (one page, however long the turn).
        recent = await self._reads.page(
            path("sessions", session_id, "turns", turn_id, "items"),
            {"order": "desc", "limit": str(_RECENT_ITEMS)},
        )
        return RunState(RunStatus.RUNNING, activity=activity_of(recent[::-1]))

    async def _waiting(self, session_id: str, turn_id: str) -> RunState:
        """A waiting turn: its function calls, or approvals declined (it then goes on)."""
        session = await self._reads.get(path("sessions", session_id))
        self._models[session_id] = str(_dict(session.get("agent")).get("model") or "")
        pending = pending_for(session, turn_id)
        if pending.calls:
            return RunState(RunStatus.REQUIRES_ACTION, tool_calls=pending.calls, watermark=turn_id)
        if pending.approvals:
            await self._deny(session_id, turn_id, pending.approvals)
            return RunState(RunStatus.RUNNING, activity="declining an approval request")
        if pending.environment:
            # The environment dropped and only its owner can reconnect it: end the turn.
            log.warning("session %s: its environment needs reconnecting; cancelling", session_id)
            await self.cancel_run(conversation_id=session_id, run_id=turn_id)
            return RunState(RunStatus.FAILED, reason="environment_connection", watermark=turn_id)
        return RunState(RunStatus.RUNNING)

    async def _deny(self, session_id: str, turn_id: str, approvals: Sequence[Approval]) -> None:
        for approval in approvals:
            key = f"{session_id}:{turn_id}:deny:{approval.request_id}"
            await self._send(session_id, [denial(approval)], key)
            log.info("session %s: declined an approval request of turn %s", session_id, turn_id)
            self._denied[turn_id] = [*self._denied.get(turn_id, []), approval.what]

    async def _finished(self, session_id: str, turn: JsonDict, status: RunStatus) -> RunState:
        turn_id = str(turn["id"])
        # Only a hosted environment publishes artifacts (unknown: looked for); the reads
        # go out together, each a round trip the answer waits for.
        hosted = self._hosted.get(session_id, True) and status is RunStatus.COMPLETED
        items, files, model = await asyncio.gather(
            self._items(session_id, turn_id),
            self._artifacts(session_id, turn_id) if hosted else _no_files(),
            self._model(session_id),
        )
        state = finished_state(turn, status, items, files, model=model)
        denied = self._denied.pop(turn_id, [])
        if denied and state.status is RunStatus.COMPLETED:
            notice = DENIED_NOTICE.format(what=", ".join(sorted(set(denied))))
            text = f"{state.text}\n\n{notice}" if state.text else notice
            state = RunState(
                state.status,
                text=text,
                watermark=state.watermark,
                files=state.files,
                usage=state.usage,
            )
        return state

    async def _items(self, session_id: str, turn_id: str) -> list[JsonDict]:
        where = path("sessions", session_id, "turns", turn_id, "items")
        return await self._reads.every(where, {"order": "asc", "limit": "100"})

    async def _artifacts(self, session_id: str, turn_id: str) -> tuple[GeneratedFile, ...]:
        # The turn just ended: its artifacts are the session's newest.
        where = path("sessions", session_id, "artifacts")
        newest = await self._reads.page(where, {"order": "desc", "limit": "100"})
        return artifact_files(newest, turn_id)

    async def _model(self, session_id: str) -> str:
        if session_id not in self._models:
            session = await self._reads.get(path("sessions", session_id))
            self._models[session_id] = str(_dict(session.get("agent")).get("model") or "")
        return self._models[session_id]

    async def cancel_run(self, *, conversation_id: str, run_id: str) -> None:
        if is_new_session(conversation_id):
            return  # no session yet: nothing runs
        cancel = {"type": "agent.session.input.cancel"}
        await self._send(conversation_id, [cancel], f"{conversation_id}:{run_id}:cancel")

    async def recover_run(self, *, conversation_id: str, watermark: str | None) -> Recovered:
        # After a failed or lost send: the session's newest turn, if it is not the previous
        # turn's, is this one. Found nothing: the send goes again, under the same key.
        session_id = conversation_id
        if is_new_session(conversation_id):
            found = await self._session_by_token(conversation_id)
            if found is None:
                return None
            self._settled[conversation_id] = session_id = found
            watermark = None
        newest = await self._newest_turn(session_id)
        if newest is None:
            return PENDING if session_id != conversation_id else None
        if newest == watermark:
            return None
        state = await self._look(session_id, newest)
        return newest if state.status is RunStatus.RUNNING else state

    async def _session_by_token(self, placeholder: str) -> str | None:
        token = placeholder.removeprefix(NEW_SESSION)
        page = await call(lambda: self._agents.sessions.list(metadata={TOKEN_KEY: token}, limit=1))
        return page.data[0].id if page.data else None

    # Streams ----------------------------------------------------------------------------
    async def resume_stream(self, run_id: str, *, after: int) -> AgentRunStream:
        """The session's stream again (it replays nothing), and one look at the turn: an end
        that came meanwhile is yielded at once."""
        session_id = self._session_of.get(run_id)
        if session_id is None or not self._reads.streams:
            raise BackendError("no session known for the turn", transient=False, code="no_stream")
        source = await self._reads.open_stream(session_id)
        if source is None:
            raise BackendError("the session's stream did not open", transient=True)
        try:
            state = await self._look(session_id, run_id)
        except BaseException:
            source.close()
            raise
        ended = None if state.status is RunStatus.RUNNING else state
        return AgentRunStream(source, turn_id=run_id, look=self._looker(session_id), ended=ended)

    async def _stream_or_id(self, session_id: str, turn_id: str) -> AgentRunStream | str:
        source = await self._reads.open_stream(session_id)
        return turn_id if source is None else self._stream(source, session_id, turn_id)

    def _stream(self, source: EventSource, session_id: str, turn_id: str) -> AgentRunStream:
        self._session_of[turn_id] = session_id
        return AgentRunStream(source, turn_id=turn_id, look=self._looker(session_id))

    def _looker(self, session_id: str) -> Callable[[str], Awaitable[RunState]]:
        async def look(turn_id: str) -> RunState:
            return await self._look(session_id, turn_id)

        return look

    # Files ------------------------------------------------------------------------------
    def reads_files(self, assistant: Assistant) -> bool:
        # Only a hosted environment has a filesystem; `none` reads no files at all.
        return assistant.session_environment.get("type") == "openai_hosted"

    def file_purpose(self, kind: FileKind) -> Purpose:
        return "user_data"

    async def download_file(self, file: GeneratedFile, *, max_bytes: int) -> bytes:
        if not file.session_id:
            raise BackendError("an artifact without its session", transient=False)
        stream = self._agents.sessions.artifacts.with_streaming_response.content(
            file.file_id, session_id=file.session_id
        )
        return await read_capped(stream, max_bytes=max_bytes, what=file.filename)


async def _no_files() -> tuple[GeneratedFile, ...]:
    return ()


def _dict(value: object) -> JsonDict:
    return value if isinstance(value, dict) else {}
