"""Slack's agent view: suggested prompts, thread titles, feedback presses and the Stop button.

Every Slack call here is cosmetic and runs in the background (`spawn`), after the ack:
a failure is logged once and not retried. What must last (a vote, a stop) is written
before the ack, as messages are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.assistants import Assistant, Assistants
from bot.keys import choice_keys
from bot.slack.feedback import FEEDBACK_ACTION_ID, FeedbackPress, read_press
from bot.slack.titles import session_title
from handlers.routing import Incoming, missing, team_of
from storage import choices, feedback, stops
from storage.db import Database
from storage.feedback import VoteChange
from storage.models import Feedback

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], bool]
StopTurn = Callable[[int], None]
ThreadStarted = Callable[[Incoming], None]
# What a failed cosmetic call raises: Slack's error answer, or no answer at all.
SLACK_FAILURES = (SlackApiError, aiohttp.ClientError, TimeoutError)
VOTE_WORDS = {"up": "👍", "down": "👎"}


def register(
    app: AsyncApp, *, db: Database, assistants: Assistants, spawn: Spawn, on_stop: StopTurn
) -> ThreadStarted:
    """Attach the listeners (before `handlers.events`, whose catch-all takes every event
    left). Returns what `handlers.events` calls for a new top-level DM message: it titles
    the thread. `on_stop(turn_id)` must return at once (it schedules)."""
    client = app.client

    @app.event("app_home_opened")
    async def on_home_opened(body: dict[str, Any], event: dict[str, Any]) -> None:
        # In the agent view, opening the Messages tab replaces assistant_thread_started.
        if event.get("tab") != "messages":
            return
        lacking = missing(event, "channel", "user")
        if lacking:
            log.warning("ignored app_home_opened without %s", " or ".join(lacking))
            return
        key = f"user:{team_of(body, event)}/{event['user']}"
        spawn(set_prompts(key, str(event["channel"])), "suggested prompts")

    async def set_prompts(key: str, channel: str) -> None:
        assistant = await current_assistant(db, assistants, key)
        prompts = [{"title": p.title, "message": p.message} for p in assistant.suggested_prompts]
        try:
            # No thread_ts: in the agent view a call with one "will silently fail"
            # (assistant.threads.setSuggestedPrompts reference).
            await client.assistant_threads_setSuggestedPrompts(channel_id=channel, prompts=prompts)
        except SLACK_FAILURES as exc:
            log.info("suggested prompts for %s not set: %s", channel, describe(exc))

    def on_thread_started(incoming: Incoming) -> None:
        title = session_title(incoming.text)
        if title is not None:
            spawn(set_title(incoming.channel_id, incoming.ts, title), "thread title")

    async def set_title(channel: str, thread_ts: str, title: str) -> None:
        # A DM thread is a thread-based agent session, and a new top-level message's has none
        # yet (the bridge creates sessions: agents.sessions.rename answers session_not_found
        # until then): setStatus creates it "active" with its title, in one call. Should Slack
        # refuse that, rename (chat:write, 1 to 200 characters) names an existing session.
        try:
            await client.agents_sessions_setStatus(
                channel_id=channel, thread_ts=thread_ts, status="active", title=title
            )
            return
        except SLACK_FAILURES as exc:
            log.info("session for %s/%s not created: %s", channel, thread_ts, describe(exc))
        try:
            await client.agents_sessions_rename(
                channel_id=channel, thread_ts=thread_ts, title=title
            )
        except SLACK_FAILURES as exc:
            log.info("thread title for %s/%s not set: %s", channel, thread_ts, describe(exc))

    @app.action(FEEDBACK_ACTION_ID)
    async def on_feedback(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        press = read_press(body, action)
        if press is None:
            log.warning("ignored a feedback press without its message, user or value")
            await ack()
            return
        async with db.ingest() as session:
            change = await feedback.record_vote(session=session, vote=vote_row(press))
        await ack()
        log.info(
            "%s voted %s on %s/%s (%s)",
            press.user_id,
            press.vote,
            press.channel_id,
            press.message_ts,
            change.value,
        )
        spawn(acknowledge(press, change, client), "feedback acknowledgement")

    @app.event("agent_session_stopped")
    async def on_session_stopped(body: dict[str, Any], event: dict[str, Any]) -> None:
        lacking = missing(event, "channel", "user")
        if lacking:
            log.warning("ignored agent_session_stopped without %s", " or ".join(lacking))
            return
        channel, user = str(event["channel"]), str(event["user"])
        streams = event.get("streaming_message_ts")
        stream_ts = [str(ts) for ts in streams if ts] if isinstance(streams, list) else []
        thread_ts = str(event["thread_ts"]) if event.get("thread_ts") else None
        stopped: list[int] = []
        async with db.ingest() as session:
            candidates = await stops.unfinished_turns_for_stop(
                session=session, channel_id=channel, stream_ts=stream_ts, thread_ts=thread_ts
            )
            for candidate in candidates:
                # Only who asked may stop a turn: in a channel others see the stream too.
                if user not in candidate.askers:
                    log.info("%s pressed Stop on turn %d of others", user, candidate.turn_id)
                elif await stops.request_stop(session=session, turn_id=candidate.turn_id):
                    stopped.append(candidate.turn_id)
        if not candidates:
            log.info("Stop in %s (thread %s) found no unfinished turn", channel, thread_ts)
        for turn_id in stopped:
            log.info("%s stopped turn %d", user, turn_id)
            on_stop(turn_id)

    return on_thread_started


async def current_assistant(db: Database, assistants: Assistants, key: str) -> Assistant:
    """The assistant `key` uses now: its (or its channel's or user's) choice, else the default."""
    async with db.ingest() as session:
        choice = await choices.current_choice(session=session, keys=choice_keys(key))
    chosen = assistants.get(choice.assistant) if choice is not None else None
    return chosen or assistants.default


def vote_row(press: FeedbackPress) -> Feedback:
    return Feedback(
        team_id=press.team_id,
        channel_id=press.channel_id,
        message_ts=press.message_ts,
        thread_ts=press.thread_ts,
        user_id=press.user_id,
        vote=press.vote,
        turn_id=press.turn_id,
        assistant=press.assistant,
    )


async def acknowledge(press: FeedbackPress, change: VoteChange, client: AsyncWebClient) -> None:
    """Tell the presser, and only them, what their press did (in the answer's thread)."""
    template = {
        VoteChange.NEW: messages.FEEDBACK_RECORDED,
        VoteChange.CHANGED: messages.FEEDBACK_CHANGED,
        VoteChange.SAME: messages.FEEDBACK_UNCHANGED,
    }[change]
    text = template.format(vote=VOTE_WORDS[press.vote])
    try:
        await client.chat_postEphemeral(
            channel=press.channel_id, user=press.user_id, thread_ts=press.thread_ts, text=text
        )
    except SLACK_FAILURES as exc:
        log.info("feedback acknowledgement to %s not sent: %s", press.user_id, describe(exc))


def describe(exc: BaseException) -> str:
    """A failed Slack call in a few words: Slack's error code, or the kind of failure."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or "error")
    return type(exc).__name__
