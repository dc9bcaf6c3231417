"""The fake OpenAI route table, the models endpoints, and the clock tick."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.fakes import openai_agent_env_files as env_files
from tests.fakes import openai_agent_inputs as agent_inputs
from tests.fakes import openai_agent_reads as agent_reads
from tests.fakes import openai_agent_sessions as sessions
from tests.fakes import openai_agents as agents
from tests.fakes import openai_conversations as conv
from tests.fakes import openai_files as files
from tests.fakes import openai_responses as resp
from tests.fakes import openai_runs as runs
from tests.fakes import openai_steps as steps
from tests.fakes import openai_threads as threads
from tests.fakes.openai_agent_turns import advance_session
from tests.fakes.openai_shapes import ApiError, ApiRequest, Result
from tests.fakes.openai_store import Store

Handler = Callable[[Store, ApiRequest, re.Match[str]], Result]

MODEL_CREATED = 1_700_000_000


def list_models(store: Store, _: ApiRequest, __: re.Match[str]) -> Result:
    return {"object": "list", "data": [_model(store, name) for name in store.knobs.models]}


def retrieve_model(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    if match["id"] not in store.knobs.models:
        raise ApiError(
            404, f"The model '{match['id']}' does not exist", param="model", code="model_not_found"
        )
    return _model(store, match["id"])


def _model(store: Store, name: str) -> dict[str, object]:
    base = {"id": name, "object": "model", "created": MODEL_CREATED, "owned_by": "system"}
    return {**base, **store.knobs.model_extra.get(name, {})}


_ID = r"(?P<id>[^/]+)"
_THREAD = r"/v1/threads/(?P<tid>[^/]+)"
_RUN = _THREAD + r"/runs/(?P<rid>[^/]+)"
_CONTAINER_FILE = r"/v1/containers/(?P<cid>[^/]+)/files/(?P<fid>[^/]+)"
_SESSION = r"/v1/agents/sessions/(?P<sid>[^/]+)"
_TURN = _SESSION + r"/turns/(?P<tid>[^/]+)"
_ARTIFACT = _SESSION + r"/artifacts/(?P<aid>[^/]+)"
_ENVIRONMENT = r"/v1/agents/environments/(?P<eid>[^/]+)"

_TABLE: list[tuple[str, str, Handler]] = [
    ("GET", r"/v1/models", list_models),
    ("GET", rf"/v1/models/{_ID}", retrieve_model),
    ("POST", r"/v1/conversations", conv.create_conversation),
    ("GET", rf"/v1/conversations/{_ID}", conv.retrieve_conversation),
    ("POST", rf"/v1/conversations/{_ID}", conv.update_conversation),
    ("DELETE", rf"/v1/conversations/{_ID}", conv.delete_conversation),
    ("GET", rf"/v1/conversations/{_ID}/items", conv.list_items),
    ("POST", rf"/v1/conversations/{_ID}/items", conv.create_items),
    ("GET", rf"/v1/conversations/{_ID}/items/(?P<item>[^/]+)", conv.retrieve_item),
    ("DELETE", rf"/v1/conversations/{_ID}/items/(?P<item>[^/]+)", conv.delete_item),
    ("POST", r"/v1/responses", resp.create_response),
    ("GET", rf"/v1/responses/{_ID}", resp.retrieve_response),
    ("POST", rf"/v1/responses/{_ID}/cancel", resp.cancel_response),
    ("GET", r"/v1/assistants", threads.list_assistants),
    ("GET", rf"/v1/assistants/{_ID}", threads.retrieve_assistant),
    ("POST", r"/v1/threads", threads.create_thread),
    ("GET", _THREAD, threads.retrieve_thread),
    ("POST", _THREAD, threads.update_thread),
    ("DELETE", _THREAD, threads.delete_thread),
    ("POST", _THREAD + "/messages", threads.create_message),
    ("GET", _THREAD + "/messages", threads.list_messages),
    ("GET", _THREAD + "/messages/(?P<mid>[^/]+)", threads.retrieve_message),
    ("POST", _THREAD + "/runs", runs.create_run),
    ("GET", _THREAD + "/runs", runs.list_runs),
    ("GET", _RUN, runs.retrieve_run),
    ("POST", _RUN + "/cancel", runs.cancel_run),
    ("POST", _RUN + "/submit_tool_outputs", runs.submit_tool_outputs),
    ("GET", _RUN + "/steps", steps.list_steps),
    ("POST", r"/v1/files", files.create_file),
    ("GET", rf"/v1/files/{_ID}", files.retrieve_file),
    ("DELETE", rf"/v1/files/{_ID}", files.delete_file),
    ("GET", rf"/v1/files/{_ID}/content", files.file_content),
    ("GET", _CONTAINER_FILE, files.retrieve_container_file),
    ("GET", _CONTAINER_FILE + "/content", files.container_file_content),
    # Agents API (beta): sessions and environments first, as `/v1/agents/{id}` would match
    # `/v1/agents/sessions`.
    ("POST", r"/v1/agents/sessions", sessions.create_session),
    ("GET", r"/v1/agents/sessions", sessions.list_sessions),
    ("GET", _SESSION, sessions.retrieve_session),
    ("POST", _SESSION + "/events", agent_inputs.post_events),
    ("GET", _SESSION + "/events", agent_inputs.stream_events),
    ("GET", _SESSION + "/turns", agent_reads.list_turns),
    ("GET", _TURN, agent_reads.retrieve_turn),
    ("GET", _TURN + "/items", agent_reads.list_turn_items),
    ("GET", _SESSION + "/items", agent_reads.list_session_items),
    ("GET", _SESSION + "/artifacts", agent_reads.list_artifacts),
    ("GET", _ARTIFACT, agent_reads.retrieve_artifact),
    ("DELETE", _ARTIFACT, agent_reads.delete_artifact),
    ("GET", _ARTIFACT + "/content", agent_reads.artifact_content),
    ("GET", _ENVIRONMENT, env_files.retrieve_environment),
    ("POST", _ENVIRONMENT + "/files", env_files.create_environment_file),
    ("GET", _ENVIRONMENT + "/files", env_files.list_environment_files),
    ("POST", r"/v1/agents", agents.create_agent),
    ("GET", r"/v1/agents", agents.list_agents),
    ("GET", rf"/v1/agents/{_ID}", agents.retrieve_agent),
    ("POST", rf"/v1/agents/{_ID}", agents.update_agent),
    ("DELETE", rf"/v1/agents/{_ID}", agents.delete_agent),
]

ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(pattern), handler) for method, pattern, handler in _TABLE
]


def route(method: str, path: str) -> tuple[Handler, re.Match[str]] | None:
    for route_method, pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match is not None and route_method == method:
            return handler, match
    return None


def advance_all(store: Store) -> None:
    """Let every unfinished response and run catch up with the clock (call under the lock)."""
    pending = [r for r in store.responses.values() if r.status in ("queued", "in_progress")]
    for rec in sorted(pending, key=lambda r: r.timing.started + r.timing.latency):
        resp.advance_response(store, rec)
    for run in list(store.runs.values()):
        runs.advance_run(store, run)
    for session in list(store.agents.sessions.values()):
        advance_session(store, session)
