"""Fake Slack chat.startStream / appendStream / stopStream: streamed messages and their state.

Facts from the method reference (docs.slack.dev/reference/methods/chat.*Stream, their
errors tables): startStream needs `thread_ts` ("streamed messages should always be replies
to a user request") and, outside DMs, `recipient_user_id` + `recipient_team_id`
(missing_recipient_user_id / missing_recipient_team_id); `markdown_text` is at most 12,000
characters; a stream takes its content in the shape it started with (markdown_text or
chunks: streaming_mode_mismatch), never both in one call
(cannot_provide_both_markdown_text_and_chunks); append and stop on a message that is no
longer streaming answer message_not_in_streaming_state, or stopped_by_user after the Stop
button; chat.update of a message still streaming answers streaming_state_conflict. Chunks:
markdown_text {text}, task_update {id, title, status pending|in_progress|complete|error,
details, output, sources [{type: url, url, text}]}, plan_update {title}, blocks {blocks}.
A streamed task update shows as a `task_card` block (slack_sdk's TaskCardBlock).
Measured by others, not documented: msg_too_long for a markdown text over the limit.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from tests.fakes.slack_blocks import MAX_TEXT, validate_blocks, validate_metadata
from tests.fakes.slack_messages import bot_message, update_message
from tests.fakes.slack_store import BOT_USER_ID, JsonDict, SlackError, SlackStore, StreamRec
from tests.fakes.slack_ts import next_ts

MAX_MARKDOWN = 12_000
TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})
CHUNK_TYPES = frozenset({"markdown_text", "task_update", "plan_update", "blocks"})


def start_stream(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    channel = _channel(store, params)
    thread_ts = params.get("thread_ts") or None
    if not thread_ts and channel.startswith("D"):
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] missing required field: thread_ts"]},
        )
    if not channel.startswith("D"):
        # "Required when streaming to channels" (recipient_user_id, recipient_team_id).
        for name in ("recipient_user_id", "recipient_team_id"):
            if not params.get(name):
                raise SlackError(f"missing_{name}")
    mode, chunks = _content(params, None)
    now = time.monotonic()
    message = bot_message("", next_ts(), thread_ts=thread_ts, blocks=[])
    if thread_ts:
        parent = store.find_message(channel, str(thread_ts))
        message["parent_user_id"] = parent.get("user") if parent else None
    rec = StreamRec(
        channel=channel,
        ts=message["ts"],
        thread_ts=thread_ts,
        recipient_user_id=params.get("recipient_user_id"),
        recipient_team_id=params.get("recipient_team_id"),
        started_at=now,
        last_append_at=now,
        mode=mode,
    )
    rec.timeline.append((now, 0))
    _apply(rec, message, chunks, now)
    store.messages[channel].append(message)
    store.streams[(channel, rec.ts)] = rec
    return {"channel": channel, "ts": rec.ts}


def append_stream(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    rec, message = _live(store, params)
    mode, chunks = _content(params, rec.mode)
    if not chunks:
        raise SlackError("markdown_text_or_chunks_required")
    rec.mode = rec.mode or mode
    now = time.monotonic()
    rec.last_append_at = now
    _apply(rec, message, chunks, now)
    return {"channel": rec.channel, "ts": rec.ts}


def stop_stream(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    rec, message = _live(store, params)
    _, chunks = _content(params, rec.mode)
    blocks = validate_blocks(params.get("blocks"))
    metadata = validate_metadata(params.get("metadata"))
    now = time.monotonic()
    _apply(rec, message, chunks, now)
    if blocks:
        # "Rendered at the bottom of the finalized message", after the chunks' content.
        rec.final_blocks = copy.deepcopy(blocks)
        message["blocks"] = [*message.get("blocks", []), *blocks]
    if metadata:
        message["metadata"] = metadata
    rec.state, rec.ended_by = "stopped", "app"
    return {"channel": rec.channel, "ts": rec.ts, "message": copy.deepcopy(message)}


def update_stream_message(store: SlackStore, params: dict[str, Any]) -> JsonDict:
    """chat.update, which Slack refuses for a message that is still streaming."""
    catch_up(store)
    rec = store.streams.get((str(params.get("channel")), str(params.get("ts"))))
    if rec is not None and rec.state == "streaming":
        raise SlackError("streaming_state_conflict")
    return update_message(store, params)


def catch_up(store: SlackStore) -> None:
    """End the streams whose time is up (stream_idle_expiry, stream_lifetime)."""
    now = time.monotonic()
    idle, lifetime = store.stream_idle_expiry, store.stream_lifetime
    for rec in store.streams.values():
        if rec.state != "streaming":
            continue
        if (idle is not None and now - rec.last_append_at >= idle) or (
            lifetime is not None and now - rec.started_at >= lifetime
        ):
            end(rec, by="expiry")


def end(rec: StreamRec, *, by: str) -> None:
    """End a stream as Slack does on its own (expiry) or for the user (Stop button)."""
    rec.state = "expired" if by == "expiry" else "stopped"
    rec.ended_by = by


def stop_by_user(store: SlackStore, channel: str, thread_ts: str) -> list[str]:
    """The Stop button: Slack stops the app's live streams in the thread; their ts."""
    catch_up(store)
    stopped = []
    for rec in store.streams.values():
        if rec.channel == channel and rec.thread_ts == thread_ts and rec.state == "streaming":
            end(rec, by="user")
            stopped.append(rec.ts)
    return stopped


def visible_text(message: JsonDict) -> str:
    """The markdown a message shows, however it was written: its markdown blocks (a posted
    or updated reply, a stream's text), else its plain `text`."""
    blocks = message.get("blocks") or []
    markdown = [str(b.get("text", "")) for b in blocks if b.get("type") == "markdown"]
    return "".join(markdown) if markdown else str(message.get("text") or "")


def _channel(store: SlackStore, params: dict[str, Any]) -> str:
    channel = store.check_channel(params.get("channel"))
    refusal = store.stream_refusals.get(channel) or store.stream_refusals.get("*")
    if refusal:
        raise SlackError(refusal)
    return channel


def _live(store: SlackStore, params: dict[str, Any]) -> tuple[StreamRec, JsonDict]:
    """The stream a call names, if it still takes content."""
    channel = _channel(store, params)
    catch_up(store)
    message = store.find_message(channel, str(params.get("ts")))
    if message is None:
        raise SlackError("message_not_found")
    if message.get("user") != BOT_USER_ID:
        raise SlackError("message_not_owned_by_app")
    rec = store.streams.get((channel, message["ts"]))
    if rec is None or rec.state != "streaming":
        user_stopped = rec is not None and rec.ended_by == "user"
        raise SlackError("stopped_by_user" if user_stopped else "message_not_in_streaming_state")
    return rec, message


def _content(params: dict[str, Any], mode: str | None) -> tuple[str | None, list[JsonDict]]:
    """The call's content as chunks, and the shape it came in; checked as Slack checks it."""
    text, chunks = params.get("markdown_text"), params.get("chunks")
    if text and chunks:
        raise SlackError("cannot_provide_both_markdown_text_and_chunks")
    given = "markdown_text" if text else "chunks" if chunks else None
    if given and mode and given != mode:
        raise SlackError("streaming_mode_mismatch")
    if text:
        chunks = [{"type": "markdown_text", "text": text}]
    if not chunks:
        return given, []
    if not isinstance(chunks, list) or not all(_valid_chunk(c) for c in chunks):
        raise SlackError("invalid_chunks")
    for chunk in chunks:
        if chunk["type"] == "markdown_text" and len(chunk["text"]) > MAX_MARKDOWN:
            raise SlackError("msg_too_long")
        if chunk["type"] == "blocks":
            validate_blocks(chunk["blocks"])
    return given, chunks


def _valid_chunk(chunk: Any) -> bool:
    if not isinstance(chunk, dict) or chunk.get("type") not in CHUNK_TYPES:
        return False
    kind = chunk["type"]
    if kind == "markdown_text":
        return isinstance(chunk.get("text"), str)
    if kind == "plan_update":
        return isinstance(chunk.get("title"), str)
    if kind == "blocks":
        return isinstance(chunk.get("blocks"), list)
    sources = chunk.get("sources") or []
    return (
        bool(chunk.get("id"))
        and isinstance(chunk.get("title"), str)
        and chunk.get("status") in TASK_STATUSES
        and isinstance(sources, list)
        # A source without its text is refused (slack-morphism's notes on the chunk).
        and all(isinstance(s, dict) and s.get("url") and s.get("text") for s in sources)
    )


def _apply(rec: StreamRec, message: JsonDict, chunks: list[JsonDict], now: float) -> None:
    """Show `chunks` in the message: text runs as `markdown` blocks, tasks as cards."""
    blocks: list[JsonDict] = message.setdefault("blocks", [])
    before = len(rec.text)
    for chunk in chunks:
        kind = chunk["type"]
        if kind == "markdown_text":
            rec.text += chunk["text"]
            if blocks and blocks[-1].get("type") == "markdown":
                blocks[-1]["text"] += chunk["text"]
            else:
                blocks.append({"type": "markdown", "text": chunk["text"]})
        elif kind == "task_update":
            fields = {k: v for k, v in chunk.items() if k not in ("type", "id")}
            task = rec.tasks.setdefault(str(chunk["id"]), {"id": chunk["id"]})
            task.update(copy.deepcopy(fields))
            card = next((b for b in blocks if b.get("task_id") == chunk["id"]), None)
            if card is None:
                blocks.append({"type": "task_card", "task_id": chunk["id"], **fields})
            else:
                card.update(copy.deepcopy(fields))
        elif kind == "plan_update":
            rec.plan_title = chunk["title"]
        else:
            blocks.extend(copy.deepcopy(chunk["blocks"]))
    message["text"] = rec.text[:MAX_TEXT]
    if len(rec.text) != before:
        rec.timeline.append((now, len(rec.text)))
