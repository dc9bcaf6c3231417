"""In-memory state of the fake Agents API (beta): saved agents, sessions, turns, artifacts."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fakes.openai_shapes import JsonDict


@dataclass
class TurnRec:
    """One turn of a session. Its clock restarts (`segment_start`) whenever it resumes after
    a wait; a segment lasts `latency` and ends in calls, an approval request or the answer."""

    id: str
    session_id: str
    agent_id: str
    created_at: int
    latency: float
    segment_start: float
    rounds: list[list[JsonDict]]
    approvals: list[JsonDict]
    artifacts: list[JsonDict]
    final_status: str
    error: JsonDict | None
    user_texts: list[str]
    history: list[tuple[str, str]]
    items: list[JsonDict] = field(default_factory=list)
    status: str = "queued"
    first_segment: bool = True
    started_at: int | None = None
    completed_at: int | None = None
    usage: JsonDict | None = None
    # Function calls (by call_id) and approval requests (by request_id) still unanswered.
    pending_calls: dict[str, JsonDict] = field(default_factory=dict)
    pending_approvals: dict[str, JsonDict] = field(default_factory=dict)
    tool_outputs: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    steered: list[str] = field(default_factory=list)
    # The answer once fixed: its message item id, text, and the deltas still to send.
    answer_id: str | None = None
    answer_text: str = ""
    # A message came while the answer streamed: one more answer follows to cover it.
    late_steer: bool = False
    chunks: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class SessionRec:
    id: str
    created_at: int
    request: JsonDict
    agent: JsonDict
    environment: JsonDict
    metadata: dict[str, str]
    last_active_at: int
    turns: list[TurnRec] = field(default_factory=list)
    # Every event the session has emitted, oldest first (streams serve those after they join).
    events: list[JsonDict] = field(default_factory=list)
    # Idempotency keys of accepted input-event posts.
    keys: set[str] = field(default_factory=set)
    include_obfuscation: bool = True

    def active_turn(self) -> TurnRec | None:
        for turn in self.turns:
            if turn.status in ("queued", "in_progress", "waiting"):
                return turn
        return None


@dataclass
class ArtifactRec:
    id: str
    session_id: str
    turn_id: str
    environment_id: str
    path: str
    content: bytes
    created_at: int


@dataclass
class EnvFileRec:
    """A file in a session's environment: staged at session create or through
    POST /v1/agents/environments/{id}/files. `file_id` is set when it came from the Files API
    (its bytes copied then); `kind` is "file_id" or "inline"."""

    id: str
    environment_id: str
    path: str
    kind: str
    content: bytes
    file_id: str | None = None


@dataclass(frozen=True)
class EventPost:
    """One POST …/events as the fake took it: its key, events, whether it was a replay of a
    key already seen (then nothing happened), and the messages that steered a turn."""

    session_id: str
    idempotency_key: str | None
    events: list[JsonDict]
    replay: bool
    steered_turn_id: str | None = None


@dataclass
class AgentStreamCall:
    """One GET …/events connection: the event types it sent and how it ended."""

    session_id: str
    types: list[str] = field(default_factory=list)
    # "open", "dropped" (a fault), "errored" (the error fault closed it), "gone" (client)
    end: str = "open"


@dataclass
class AgentKnobs:
    approvals_next: list[JsonDict] = field(default_factory=list)
    artifacts_next: list[JsonDict] = field(default_factory=list)
    turn_error_next: JsonDict | None = None
    denied_status: int | None = None
    first_token: float | None = None
    deltas: int | None = None
    keepalive: float | None = None
    drop_after: int = 0
    drops_left: int = 0
    error_after: int = 0
    errors_left: int = 0


@dataclass
class AgentsState:
    """Everything the Agents API part of the fake remembers (under the store's lock)."""

    knobs: AgentKnobs = field(default_factory=AgentKnobs)
    agents: dict[str, JsonDict] = field(default_factory=dict)
    sessions: dict[str, SessionRec] = field(default_factory=dict)
    artifacts: dict[str, ArtifactRec] = field(default_factory=dict)
    # Environment id -> path -> its live file (a file at the same path replaces it).
    environment_files: dict[str, dict[str, EnvFileRec]] = field(default_factory=dict)
    posts: list[EventPost] = field(default_factory=list)
    stream_calls: list[AgentStreamCall] = field(default_factory=list)
