"""Which Slack messages become turns, and which conversation key they go to."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import ChannelScope, DmScope
from bot.keys import choice_keys
from handlers.routing import (
    is_from_bot,
    is_user_message,
    route_channel,
    route_direct,
    strip_mention,
)

BODY: dict[str, Any] = {"team_id": "T1"}


@pytest.mark.parametrize(
    ("event", "answered"),
    [
        ({"user": "U1", "text": "hi"}, True),
        ({"user": "U1", "subtype": "file_share"}, True),
        ({"user": "U1", "subtype": "thread_broadcast"}, True),
        ({"user": "U1", "subtype": "message_changed"}, False),
        ({"user": "U1", "subtype": "message_deleted"}, False),
        ({"user": "U1", "subtype": "channel_join"}, False),
        ({"subtype": "message_changed", "message": {"user": "U1"}}, False),
    ],
)
def test_user_messages(event: dict[str, Any], answered: bool) -> None:
    assert is_user_message(event) is answered


@pytest.mark.parametrize(
    ("event", "from_bot"),
    [
        ({"user": "U1"}, False),
        ({"user": "UBOT"}, True),
        ({"bot_id": "B2", "user": "U2"}, True),
        ({"subtype": "bot_message"}, True),
    ],
)
def test_bot_messages(event: dict[str, Any], from_bot: bool) -> None:
    assert is_from_bot(event, "UBOT") is from_bot


def test_mention_is_stripped_wherever_it_stands() -> None:
    assert strip_mention("<@UBOT> what is 2+2?", "UBOT") == "what is 2+2?"
    assert strip_mention("hey <@UBOT|assistant>, help", "UBOT") == "hey , help"
    assert strip_mention("<@UBOT>", "UBOT") == ""
    assert strip_mention("ask <@U999> too", "UBOT") == "ask <@U999> too"


def test_direct_message_key_is_the_user_and_reply_stays_in_its_thread() -> None:
    top = route_direct(BODY, {"user": "U1", "channel": "D1", "ts": "1.1", "text": "hi"}, "UBOT")
    assert (top.key, top.reply_thread_ts) == ("user:T1/U1", None)
    threaded = route_direct(
        BODY, {"user": "U1", "channel": "D1", "ts": "1.3", "thread_ts": "1.2", "text": "x"}, None
    )
    assert (threaded.key, threaded.reply_thread_ts) == ("user:T1/U1", "1.2")


@pytest.mark.parametrize(
    ("scope", "key"),
    [
        (ChannelScope.CHANNEL, "channel:T1/C1"),
        (ChannelScope.THREAD, "thread:T1/C1/5.0"),
        (ChannelScope.USER, "member:T1/C1/U1"),
    ],
)
def test_channel_scope_decides_the_key(scope: ChannelScope, key: str) -> None:
    event = {"user": "U1", "channel": "C1", "ts": "5.0", "text": "<@UBOT> hi"}
    incoming = route_channel(BODY, event, bot_user_id="UBOT", scope=scope, is_mention=True)
    assert incoming.key == key
    assert incoming.reply_thread_ts == "5.0"
    assert incoming.text == "hi"


def test_mention_inside_a_thread_replies_in_that_thread() -> None:
    event = {"user": "U1", "channel": "C1", "ts": "6.0", "thread_ts": "5.0", "text": "<@UBOT> go"}
    incoming = route_channel(
        BODY, event, bot_user_id="UBOT", scope=ChannelScope.THREAD, is_mention=True
    )
    assert incoming.reply_thread_ts == "5.0"
    assert incoming.key == "thread:T1/C1/5.0"


def test_dm_scope_thread_gives_each_top_level_dm_its_own_key_and_thread() -> None:
    top = route_direct(
        BODY, {"user": "U1", "channel": "D1", "ts": "7.0", "text": "hi"}, None, DmScope.THREAD
    )
    assert (top.key, top.reply_thread_ts, top.starts_thread) == ("dm:T1/U1/7.0", "7.0", True)
    reply = route_direct(
        BODY,
        {"user": "U1", "channel": "D1", "ts": "7.5", "thread_ts": "7.0", "text": "and?"},
        None,
        DmScope.THREAD,
    )
    assert (reply.key, reply.reply_thread_ts, reply.starts_thread) == ("dm:T1/U1/7.0", "7.0", False)


def test_dm_scope_user_keeps_one_key_and_marks_only_top_level_messages_as_thread_starts() -> None:
    top = route_direct(BODY, {"user": "U1", "channel": "D1", "ts": "7.0", "text": "hi"}, None)
    reply = route_direct(
        BODY, {"user": "U1", "channel": "D1", "ts": "7.5", "thread_ts": "7.0", "text": "x"}, None
    )
    assert (top.key, top.starts_thread) == ("user:T1/U1", True)
    assert (reply.key, reply.starts_thread) == ("user:T1/U1", False)


@pytest.mark.parametrize(
    ("key", "keys"),
    [
        ("user:T1/U1", ["user:T1/U1"]),
        ("dm:T1/U1/7.0", ["dm:T1/U1/7.0", "user:T1/U1"]),
        ("channel:T1/C1", ["channel:T1/C1"]),
        ("thread:T1/C1/5.0", ["thread:T1/C1/5.0", "channel:T1/C1"]),
        ("member:T1/C1/U1", ["member:T1/C1/U1", "channel:T1/C1"]),
    ],
)
def test_a_dm_thread_follows_the_users_choice_as_a_channel_thread_follows_the_channels(
    key: str, keys: list[str]
) -> None:
    assert choice_keys(key) == keys
