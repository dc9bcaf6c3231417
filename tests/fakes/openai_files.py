"""Fake Files API and container files: upload, retrieve, download, delete; file-id checks."""

from __future__ import annotations

import mimetypes
import re
import secrets
from collections.abc import Iterable
from typing import Any

from tests.fakes.openai_shapes import (
    ApiError,
    ApiRequest,
    Blob,
    FormFile,
    JsonDict,
    Result,
    missing,
    new_id,
)
from tests.fakes.openai_store import ContainerFileRec, FileRec, Store, now_int

# https://platform.openai.com/docs/api-reference/files/create (purpose)
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
# Content parts that point at an uploaded file (Responses input, Assistants message content).
_FILE_PARTS = {"input_file": None, "input_image": None, "image_file": "image_file"}


def is_image(filename: str) -> bool:
    return filename.lower().endswith(IMAGE_SUFFIXES)


def content_type_of(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def file_json(rec: FileRec) -> JsonDict:
    return {
        "id": rec.id,
        "object": "file",
        "bytes": len(rec.content),
        "created_at": rec.created_at,
        "filename": rec.filename,
        "purpose": rec.purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


def container_file_json(rec: ContainerFileRec) -> JsonDict:
    return {
        "id": rec.id,
        "object": "container.file",
        "container_id": rec.container_id,
        "bytes": len(rec.content),
        "created_at": rec.created_at,
        "path": f"/mnt/data/{rec.filename}",
        "source": "assistant",
    }


def register_file(
    store: Store, filename: str, content: bytes, purpose: str, file_id: str | None = None
) -> FileRec:
    file_id = file_id or f"file-{secrets.token_hex(12)}"
    rec = FileRec(file_id, filename, purpose, content, now_int())
    store.files[rec.id] = rec
    return rec


def add_container_file(
    store: Store, container_id: str, filename: str, content: bytes
) -> ContainerFileRec:
    rec = ContainerFileRec(new_id("cfile"), container_id, filename, content, now_int())
    store.containers.add(container_id)
    store.container_files[rec.id] = rec
    return rec


def get_file(store: Store, file_id: str) -> FileRec:
    rec = store.files.get(file_id)
    if rec is None:
        raise ApiError(404, f"No such File object: {file_id}", param="id")
    return rec


def check_file_ids(store: Store, file_ids: Iterable[str], param: str) -> None:
    for file_id in file_ids:
        if file_id not in store.files:
            raise ApiError(400, f"No such File object: {file_id}", param=param)


def file_ids_in_parts(content: Any) -> list[str]:
    """File ids of input_file/input_image/image_file parts in a message `content`."""
    ids: list[str] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict) or part.get("type") not in _FILE_PARTS:
            continue
        nested = _FILE_PARTS[str(part["type"])]
        holder = part.get(nested) if nested else part
        if isinstance(holder, dict) and isinstance(holder.get("file_id"), str):
            ids.append(holder["file_id"])
    return ids


def file_ids_in_tools(tools: Any) -> list[str]:
    """File ids of code-interpreter tools with `container: {type: auto, file_ids: [...]}`."""
    ids: list[str] = []
    for tool in tools if isinstance(tools, list) else []:
        container = tool.get("container") if isinstance(tool, dict) else None
        if isinstance(container, dict):
            ids.extend(str(file_id) for file_id in container.get("file_ids") or [])
    return ids


def create_file(store: Store, req: ApiRequest, _: re.Match[str]) -> Result:
    form = req.form or {}
    upload = form.get("file")
    if not isinstance(upload, FormFile):
        raise missing("file")
    purpose = form.get("purpose")
    if not isinstance(purpose, str) or not purpose:
        raise missing("purpose")
    if purpose not in PURPOSES:
        raise ApiError(
            400,
            f"Invalid value for 'purpose': '{purpose}'. Supported values are: "
            + ", ".join(f"'{p}'" for p in PURPOSES)
            + ".",
            param="purpose",
            code="invalid_value",
        )
    limit = store.knobs.max_file_bytes
    if len(upload.content) > limit:
        raise ApiError(
            400,
            f"File is too large. The maximum file size is {limit} bytes, "
            f"got {len(upload.content)} bytes.",
            param="file",
            code="file_too_large",
        )
    return file_json(register_file(store, upload.filename, upload.content, purpose))


def retrieve_file(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return file_json(get_file(store, match["id"]))


def file_content(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    rec = get_file(store, match["id"])
    return Blob(rec.content, content_type_of(rec.filename))


def delete_file(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    rec = get_file(store, match["id"])
    del store.files[rec.id]
    return {"id": rec.id, "object": "file", "deleted": True}


def _container_file(store: Store, match: re.Match[str]) -> ContainerFileRec:
    if match["cid"] not in store.containers:
        raise ApiError(404, f"Container with id '{match['cid']}' not found.")
    rec = store.container_files.get(match["fid"])
    if rec is None or rec.container_id != match["cid"]:
        raise ApiError(404, f"File with id '{match['fid']}' not found in container.")
    return rec


def retrieve_container_file(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    return container_file_json(_container_file(store, match))


def container_file_content(store: Store, _: ApiRequest, match: re.Match[str]) -> Result:
    rec = _container_file(store, match)
    return Blob(rec.content, content_type_of(rec.filename))
