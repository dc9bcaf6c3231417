"""Reading a fake agent session: its turns, the items of a turn or the session, artifacts."""

from __future__ import annotations

import copy
import re

from tests.fakes.openai_agent_json import turn_json
from tests.fakes.openai_agent_sessions import get_session
from tests.fakes.openai_agents_state import ArtifactRec, TurnRec
from tests.fakes.openai_shapes import ApiError, ApiRequest, Blob, JsonDict, Result, list_page
from tests.fakes.openai_store import Store


def get_turn(store: Store, session_id: str, turn_id: str) -> TurnRec:
    session = get_session(store, session_id)
    for turn in session.turns:
        if turn.id == turn_id:
            return turn
    raise ApiError(404, f"Turn with id '{turn_id}' not found.", code="not_found")


def retrieve_turn(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return turn_json(get_turn(store, match["sid"], match["tid"]))


def list_turns(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    session = get_session(store, match["sid"])
    return list_page([turn_json(t) for t in session.turns], req.query)


def list_turn_items(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    turn = get_turn(store, match["sid"], match["tid"])
    return list_page(copy.deepcopy(turn.items), req.query)


def list_session_items(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    session = get_session(store, match["sid"])
    items = [copy.deepcopy(item) for turn in session.turns for item in turn.items]
    return list_page(items, req.query)


def artifact_json(rec: ArtifactRec) -> JsonDict:
    return {
        "id": rec.id,
        "object": "agent.session.artifact",
        "created_at": rec.created_at,
        "environment_id": rec.environment_id,
        "path": rec.path,
        "session_id": rec.session_id,
        "size_bytes": len(rec.content),
        "turn_id": rec.turn_id,
    }


def _artifact(store: Store, match: re.Match[str]) -> ArtifactRec:
    get_session(store, match["sid"])
    rec = store.agents.artifacts.get(match["aid"])
    if rec is None or rec.session_id != match["sid"]:
        raise ApiError(404, f"Artifact with id '{match['aid']}' not found.", code="not_found")
    return rec


def list_artifacts(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    get_session(store, match["sid"])
    environment_id = req.query.get("environment_id")
    rows = [
        artifact_json(a)
        for a in store.agents.artifacts.values()
        if a.session_id == match["sid"]
        and (environment_id is None or a.environment_id == environment_id)
    ]
    return list_page(rows, req.query)


def retrieve_artifact(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return artifact_json(_artifact(store, match))


def artifact_content(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return Blob(_artifact(store, match).content, "application/octet-stream")


def delete_artifact(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    rec = _artifact(store, match)
    del store.agents.artifacts[rec.id]
    return {"id": rec.id, "object": "agent.session.artifact.deleted", "deleted": True}
