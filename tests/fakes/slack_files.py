"""Fake Slack files: external uploads (get URL, upload bytes, complete) and private downloads."""

from __future__ import annotations

import copy
import itertools
import time
from typing import Any
from urllib.parse import quote

from tests.fakes.slack_messages import bot_message
from tests.fakes.slack_store import (
    BOT_USER_ID,
    TEAM_ID,
    FileRec,
    JsonDict,
    SlackError,
    SlackStore,
    Upload,
)
from tests.fakes.slack_ts import next_ts

_file_numbers = itertools.count(1)
FILETYPES = {
    "txt": "text",
    "md": "markdown",
    "py": "python",
    "jpg": "jpg",
    "jpeg": "jpg",
    "png": "png",
    "gif": "gif",
    "pdf": "pdf",
    "csv": "csv",
    "json": "json",
    "html": "html",
    "zip": "zip",
}


def new_file_id() -> str:
    return f"F{next(_file_numbers):010X}"


def file_object(
    store: SlackStore,
    file_id: str,
    name: str,
    *,
    size: int,
    mimetype: str,
    title: str | None = None,
    user: str = BOT_USER_ID,
) -> JsonDict:
    """A Slack file object whose url_private points at this fake's /files-pri/ endpoint."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    filetype = FILETYPES.get(extension, extension or "binary")
    now = int(time.time())
    private = f"{store.base_url}/files-pri/{TEAM_ID}-{file_id}"
    return {
        "id": file_id,
        "created": now,
        "timestamp": now,
        "name": name,
        "title": title or name,
        "mimetype": mimetype,
        "filetype": filetype,
        "pretty_type": filetype.capitalize(),
        "user": user,
        "user_team": TEAM_ID,
        "editable": False,
        "size": size,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": False,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": f"{private}/{quote(name)}",
        "url_private_download": f"{private}/download/{quote(name)}",
        "permalink": f"https://test.slack.com/files/{user}/{file_id}/{quote(name)}",
        "comments_count": 0,
        "shares": {},
        "channels": [],
        "groups": [],
        "ims": [],
        "has_rich_preview": False,
        "file_access": "visible",
    }


def add_file(store: SlackStore, file_id: str, name: str, content: bytes, mimetype: str) -> JsonDict:
    file = file_object(store, file_id, name, size=len(content), mimetype=mimetype, user="U0USER")
    store.files[file_id] = FileRec(file, content, uploaded=True, completed=True)
    return copy.deepcopy(file)


def get_upload_url(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    filename, length = params.get("filename"), params.get("length")
    if not filename or length is None or not str(length).isdigit():
        raise SlackError("invalid_arguments")
    file_id = new_file_id()
    file = file_object(
        store, file_id, str(filename), size=int(length), mimetype="application/octet-stream"
    )
    store.files[file_id] = FileRec(file)
    return {"upload_url": f"{store.base_url}/upload/{file_id}", "file_id": file_id}


def receive_upload(store: SlackStore, file_id: str, content: bytes) -> bool:
    rec = store.files.get(file_id)
    if rec is None or rec.completed:
        return False
    rec.content, rec.uploaded = content, True
    rec.file["size"] = len(content)
    return True


def complete_upload(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    entries = params.get("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments")
    channel = params.get("channel_id") or None
    if channel is None and params.get("channels"):
        channel = str(params["channels"]).split(",")[0]
    if channel is not None:
        store.check_channel(channel)
    thread_ts = params.get("thread_ts") or None
    done: list[JsonDict] = []
    for entry in entries:
        rec = store.files.get(str(entry.get("id"))) if isinstance(entry, dict) else None
        if rec is None or not rec.uploaded:
            raise SlackError("file_not_found")
        rec.completed = True
        rec.file["title"] = entry.get("title") or rec.file["name"]
        if channel:
            rec.file["channels" if channel.startswith("C") else "ims"].append(channel)
        store.uploads.append(
            Upload(
                rec.file["id"],
                rec.file["name"],
                rec.content,
                channel,
                thread_ts,
                rec.file["title"],
                params.get("initial_comment"),
            )
        )
        done.append(rec.file)
    if channel:
        store.messages[channel].append(
            bot_message(
                str(params.get("initial_comment") or ""),
                next_ts(),
                files=copy.deepcopy(done),
                upload=True,
                thread_ts=thread_ts,
            )
        )
    return {"files": [{"id": f["id"], "title": f["title"]} for f in done]}


def files_info(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    rec = store.files.get(str(params.get("file")))
    if rec is None or not rec.completed:
        raise SlackError("file_not_found")
    return {
        "file": copy.deepcopy(rec.file),
        "comments": [],
        "response_metadata": {"next_cursor": ""},
    }


def private_file(store: SlackStore, segment: str) -> FileRec | None:
    """The file behind /files-pri/<team>-<file id>/…"""
    file_id = segment.split("-", 1)[-1]
    rec = store.files.get(file_id)
    return rec if rec is not None and rec.completed else None
