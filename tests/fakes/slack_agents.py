"""Fake Slack agents.sessions.setStatus / rename: agent sessions, recorded like statuses.

From the method reference (docs.slack.dev/reference/methods/agents.sessions.*): a session
is scoped to a thread (`thread_ts` required in regular channels and DMs:
thread_ts_required); setStatus creates it if needed, `status` is one of active,
processing, suspended, closed (invalid_status), `title` (at most 200 characters) is used
only when the session is created; rename takes a title of 1 to 200 characters and answers
session_not_found for a thread without a session.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.slack_store import JsonDict, SlackError, SlackStore

SESSION_STATUSES = frozenset({"active", "processing", "suspended", "closed"})
MAX_TITLE = 200


def set_session_status(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel, thread_ts = _session_key(store, params)
    status = params.get("status")
    if status not in SESSION_STATUSES:
        raise SlackError("invalid_status")
    title = params.get("title")
    if title is not None and len(str(title)) > MAX_TITLE:
        raise SlackError("invalid_arguments")
    created = (channel, thread_ts) not in store.sessions
    session = store.sessions.setdefault((channel, thread_ts), {"title": title})
    session["status"] = status
    store.statuses.append({"kind": "session_status", **params})
    answer: JsonDict = {"status": status}
    if created and title:
        answer["title"] = title
    return answer


def rename_session(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel, thread_ts = _session_key(store, params)
    title = str(params.get("title") or "")
    if not 1 <= len(title) <= MAX_TITLE:
        raise SlackError("invalid_name")
    session = store.sessions.get((channel, thread_ts))
    if session is None:
        raise SlackError("session_not_found")
    session["title"] = title
    store.statuses.append({"kind": "session_title", **params})
    return {}


def _session_key(store: SlackStore, params: dict[str, Any]) -> tuple[str, str]:
    channel = store.check_channel(params.get("channel_id"))
    thread_ts = params.get("thread_ts")
    if not thread_ts:
        raise SlackError("thread_ts_required")
    return channel, str(thread_ts)
