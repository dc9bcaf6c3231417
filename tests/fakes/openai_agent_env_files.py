"""Files in a fake agent session's environment: staged at session create
(`environment.files`) or through the environment Files API (create, list), and the
environment's retrieve (types/beta/agents/environment_info.py)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from tests.fakes.openai_agents_state import EnvFileRec
from tests.fakes.openai_shapes import ApiError, ApiRequest, JsonDict, Result, missing, new_id
from tests.fakes.openai_store import Store

_KINDS = ("file_id", "inline")
_RESERVED = (".codex", ".managed-agents")


def _bad(param: str, message: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, f"Invalid '{param}': {message}", param=param, code=code)


def check_destination(value: Any, param: str) -> str:
    """An absolute POSIX file path under /workspace, as the SDK's `_destination` demands:
    no empty, `.` or `..` components, no NUL or backslash, not a reserved path."""
    if not isinstance(value, str) or not value:
        raise missing(param)
    components = value.split("/")[1:]
    if not value.startswith("/workspace/") or "\x00" in value or "\\" in value:
        raise _bad(param, "must be an absolute file path under /workspace.")
    if any(component in ("", ".", "..") for component in components):
        raise _bad(param, "cannot contain empty, '.' or '..' components.")
    top = components[1]
    if top in _RESERVED or top.startswith(".managed-agents-") or value == "/workspace/outputs":
        raise _bad(param, "is a reserved environment path.")
    return value


def staged_file(store: Store, raw: Any, param: str, environment_id: str) -> EnvFileRec:
    """One `{type: file_id, file_id, path}` or `{type: inline, data, path}` as its record
    (the Files API file's bytes copied now); `param` prefixes the error params."""
    prefix = f"{param}." if param else ""
    if not isinstance(raw, dict):
        raise _bad(param or "body", "expected an object.")
    kind = raw.get("type")
    if kind is None:
        raise missing(f"{prefix}type")
    if kind not in _KINDS:
        raise ApiError(
            400,
            f"Invalid value for '{prefix}type': '{kind}'. Supported values are: "
            "'file_id' and 'inline'.",
            param=f"{prefix}type",
            code="invalid_value",
        )
    path = check_destination(raw.get("path"), f"{prefix}path")
    if kind == "file_id":
        file_id = raw.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise missing(f"{prefix}file_id")
        upload = store.files.get(file_id)
        if upload is None:
            raise ApiError(400, f"No such File object: {file_id}", param=f"{prefix}file_id")
        return EnvFileRec(new_id("envfile"), environment_id, path, kind, upload.content, file_id)
    data = raw.get("data")
    if not isinstance(data, str):
        raise missing(f"{prefix}data")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"{prefix}data", "expected standard base64.") from None
    return EnvFileRec(new_id("envfile"), environment_id, path, kind, content)


def hosted_files(store: Store, raw: Any, environment_id: str) -> list[EnvFileRec]:
    """The records of a hosted session's `environment.files` (validated, not yet stored)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad("environment.files", "expected an array.", "invalid_type")
    files: list[EnvFileRec] = []
    for index, item in enumerate(raw):
        param = f"environment.files[{index}]"
        rec = staged_file(store, item, param, environment_id)
        if any(f.path == rec.path for f in files):
            raise _bad(f"{param}.path", f"duplicate path '{rec.path}'.")
        files.append(rec)
    return files


def hosted_file_json(rec: EnvFileRec) -> JsonDict:
    """types/beta/hosted_environment_file.py: the file without its contents."""
    row: JsonDict = {"id": rec.id, "path": rec.path, "size_bytes": len(rec.content)}
    if rec.file_id is not None:
        row["file_id"] = rec.file_id
    return {**row, "type": rec.kind}


def environment_file_json(rec: EnvFileRec) -> JsonDict:
    """types/beta/agents/environments/environment_file.py."""
    return {
        "environment_id": rec.environment_id,
        "object": "agent.environment.file",
        "path": rec.path,
        "size_bytes": len(rec.content),
    }


def get_environment(store: Store, environment_id: str) -> JsonDict:
    """The `environment` of the session that made it (hosted or self-hosted), else 404."""
    for session in store.agents.sessions.values():
        if session.environment.get("id") == environment_id:
            return session.environment
    raise ApiError(404, f"Environment with id '{environment_id}' not found.", code="not_found")


def environment_files(store: Store, environment_id: str) -> list[EnvFileRec]:
    """Its live files, by path components ascending."""
    files = store.agents.environment_files.get(environment_id, {})
    return sorted(files.values(), key=lambda f: f.path.split("/"))


def stage(store: Store, rec: EnvFileRec) -> None:
    """Put the file in its environment, replacing a file at the same path."""
    store.agents.environment_files.setdefault(rec.environment_id, {})[rec.path] = rec


def create_environment_file(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    environment_id = get_environment(store, match["eid"])["id"]
    rec = staged_file(store, req.body(), "", environment_id)
    stage(store, rec)
    return environment_file_json(rec)


def _directory(value: str | None) -> str | None:
    if value is None or value == "/workspace":
        return value
    return check_destination(value, "path")


def list_environment_files(store: Store, req: ApiRequest, match: re.Match[str]) -> Result:
    """A token page (`limit`, `order` by path components, desc by default, `page`, and
    `path`: only files below that workspace directory)."""
    environment_id = get_environment(store, match["eid"])["id"]
    order = req.query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, f"Invalid value for 'order': '{order}'.", param="order")
    try:
        limit = int(req.query.get("limit", "20"))
    except ValueError:
        raise ApiError(400, "Invalid value for 'limit'.", param="limit") from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "Invalid 'limit': must be between 1 and 100.", param="limit")
    directory = _directory(req.query.get("path"))
    rows = [
        f
        for f in environment_files(store, environment_id)
        if directory is None or f.path.startswith(directory + "/")
    ]
    if order == "desc":
        rows.reverse()
    start = _page_start(req.query.get("page"))
    page = rows[start : start + limit]
    more = start + limit < len(rows)
    return {
        "object": "list",
        "data": [environment_file_json(f) for f in page],
        "has_more": more,
        "next": f"efpage_{start + limit}" if more else None,
    }


def _page_start(token: str | None) -> int:
    if token is None:
        return 0
    number = token.removeprefix("efpage_")
    if number == token or not number.isdigit():
        raise ApiError(400, f"Invalid 'page': '{token}'.", param="page")
    return int(number)


def retrieve_environment(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    environment = get_environment(store, match["eid"])
    return {
        "id": environment["id"],
        "object": "agent.environment",
        "type": environment["type"],
        "status": "ready",
        "files": [hosted_file_json(f) for f in environment_files(store, environment["id"])],
        "plugins": [],
        "skills": [],
    }
