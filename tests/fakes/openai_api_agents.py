"""Thread-safe knobs, faults and accessors of FakeOpenAI's Agents API (beta)."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.openai_agent_env_files import environment_files
from tests.fakes.openai_agent_json import session_json, turn_json
from tests.fakes.openai_agent_reads import artifact_json
from tests.fakes.openai_agents import agent_settings
from tests.fakes.openai_agents_state import AgentStreamCall, EventPost
from tests.fakes.openai_routes import advance_all
from tests.fakes.openai_shapes import JsonDict, new_id
from tests.fakes.openai_store import Store, now_int


class AgentKnobsMixin:
    """Each `*_next` knob is used up by the next turn that starts; the others hold until
    changed. A turn's function calls come from `function_calls_next` /
    `function_call_rounds_next`, its end from `final_status`, its pace from `latency`."""

    _store: Store

    @property
    def agent_approvals_next(self) -> list[JsonDict]:
        """Approvals the next turn asks for, one after the other (after its function-call
        rounds): {server_label, name, arguments, message?} for an MCP tool call, or
        {type: "computer_use", origin, reason?} for a browser origin."""
        with self._store.lock:
            return copy.deepcopy(self._store.agents.knobs.approvals_next)

    @agent_approvals_next.setter
    def agent_approvals_next(self, value: list[JsonDict]) -> None:
        with self._store.lock:
            self._store.agents.knobs.approvals_next = copy.deepcopy(value)

    @property
    def agent_artifacts_next(self) -> list[JsonDict]:
        """Files [{path, content: bytes}] the next turn publishes when it completes."""
        with self._store.lock:
            return copy.deepcopy(self._store.agents.knobs.artifacts_next)

    @agent_artifacts_next.setter
    def agent_artifacts_next(self, value: list[JsonDict]) -> None:
        for wanted in value:
            if not isinstance(wanted.get("path"), str) or not isinstance(
                wanted.get("content"), bytes
            ):
                raise ValueError("artifacts need a str 'path' and bytes 'content'")
        with self._store.lock:
            self._store.agents.knobs.artifacts_next = copy.deepcopy(value)

    @property
    def agent_turn_error_next(self) -> JsonDict | None:
        """The next turn fails with this error {code, message} (types/beta/session_turn_error)."""
        with self._store.lock:
            return copy.deepcopy(self._store.agents.knobs.turn_error_next)

    @agent_turn_error_next.setter
    def agent_turn_error_next(self, value: JsonDict | None) -> None:
        with self._store.lock:
            self._store.agents.knobs.turn_error_next = copy.deepcopy(value)

    @property
    def agents_denied_status(self) -> int | None:
        """401 or 403: every Agents API request is refused as for a key without the
        `api.agents.read`/`api.agents.write` scope (None: allowed)."""
        with self._store.lock:
            return self._store.agents.knobs.denied_status

    @agents_denied_status.setter
    def agents_denied_status(self, value: int | None) -> None:
        with self._store.lock:
            self._store.agents.knobs.denied_status = value

    @property
    def agent_first_token(self) -> float | None:
        """Seconds from a turn's last start (or resume) to its answer's first delta (None:
        half of `latency`); the deltas then spread until `latency`."""
        with self._store.lock:
            return self._store.agents.knobs.first_token

    @agent_first_token.setter
    def agent_first_token(self, value: float | None) -> None:
        with self._store.lock:
            self._store.agents.knobs.first_token = value

    @property
    def agent_deltas(self) -> int | None:
        """Deltas an answer is cut into, at most one a word (None: 3)."""
        with self._store.lock:
            return self._store.agents.knobs.deltas

    @agent_deltas.setter
    def agent_deltas(self, value: int | None) -> None:
        with self._store.lock:
            self._store.agents.knobs.deltas = value

    @property
    def agent_stream_keepalive(self) -> float | None:
        """Seconds of silence after which an event stream writes `: keepalive` (None: never)."""
        with self._store.lock:
            return self._store.agents.knobs.keepalive

    @agent_stream_keepalive.setter
    def agent_stream_keepalive(self, value: float | None) -> None:
        with self._store.lock:
            self._store.agents.knobs.keepalive = value

    # faults ----------------------------------------------------------------------------
    def drop_agent_streams_after(self, events: int, times: int = 1) -> None:
        """Close the next `times` event-stream connections after `events` events each."""
        with self._store.lock:
            knobs = self._store.agents.knobs
            knobs.drop_after, knobs.drops_left = events, times

    def error_agent_streams_after(self, events: int, times: int = 1) -> None:
        """The next `times` event streams send an `error` event after `events` events, then
        end (the session goes on; a new stream sees what follows)."""
        with self._store.lock:
            knobs = self._store.agents.knobs
            knobs.error_after, knobs.errors_left = events, times

    # set-up and inspection --------------------------------------------------------------
    def add_agent(self, model: str = "gpt-5-mini", **fields: Any) -> JsonDict:
        """A saved agent, as if created with POST /v1/agents."""
        with self._store.lock:
            now = now_int()
            agent_id = new_id("agent")
            agent = {"id": agent_id, "object": "agent", "created_at": now, "updated_at": now}
            agent |= agent_settings(self._store, fields, {"model": model})
            self._store.agents.agents[agent_id] = agent
            return copy.deepcopy(agent)

    def agents(self) -> list[JsonDict]:
        with self._store.lock:
            return copy.deepcopy(list(self._store.agents.agents.values()))

    def agent_sessions(self) -> list[JsonDict]:
        """Every session as GET would show it now, oldest first (with `request`: its body)."""
        with self._store.lock:
            advance_all(self._store)
            return [
                {**session_json(s), "request": copy.deepcopy(s.request)}
                for s in self._store.agents.sessions.values()
            ]

    def agent_turns(self, session_id: str) -> list[JsonDict]:
        """The session's turns, oldest first, each with `items` and `steered` (the texts of
        messages that came while it was active) besides the API's fields."""
        with self._store.lock:
            advance_all(self._store)
            turns = self._store.agents.sessions[session_id].turns
            return [
                {**turn_json(t), "items": copy.deepcopy(t.items), "steered": list(t.steered)}
                for t in turns
            ]

    def agent_session_events(self, session_id: str) -> list[JsonDict]:
        """Every event the session emitted so far (what a stream from its start would see)."""
        with self._store.lock:
            advance_all(self._store)
            return copy.deepcopy(self._store.agents.sessions[session_id].events)

    def agent_event_posts(self) -> list[EventPost]:
        """Every accepted POST …/events, oldest first: key, events, replay, steered turn."""
        with self._store.lock:
            return list(self._store.agents.posts)

    def agent_artifacts(self) -> list[JsonDict]:
        """Published artifacts (API shape) with their `content` bytes."""
        with self._store.lock:
            return [
                {**artifact_json(a), "content": a.content}
                for a in self._store.agents.artifacts.values()
            ]

    def agent_environment_files(self, environment_id: str) -> list[JsonDict]:
        """The live files of a session's environment (its `environment.id`), by path: each
        {path, type: "file_id" | "inline", file_id (None when inline), size_bytes, content}.
        Files given at session create and those posted later (the latest at a path) alike;
        an environment no session made raises KeyError."""
        with self._store.lock:
            known = {s.environment.get("id") for s in self._store.agents.sessions.values()}
            if environment_id not in known:
                raise KeyError(environment_id)
            return [
                {
                    "path": f.path,
                    "type": f.kind,
                    "file_id": f.file_id,
                    "size_bytes": len(f.content),
                    "content": f.content,
                }
                for f in environment_files(self._store, environment_id)
            ]

    @property
    def agent_stream_calls(self) -> list[AgentStreamCall]:
        """Every event-stream connection, oldest first: what it sent and how it ended."""
        with self._store.lock:
            return copy.deepcopy(self._store.agents.stream_calls)
