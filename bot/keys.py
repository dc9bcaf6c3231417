"""Conversation keys: who shares one assistant conversation, and where a choice applies."""

from __future__ import annotations

# The kinds of conversation key (`kind:team/…`) and what they share.
DM_KINDS = ("user", "dm")  # a user's DM (DM_SCOPE=user), or one DM thread (=thread)
SHARED_KINDS = ("channel", "thread")  # several authors: a channel's, or a thread's in it


def key_kind(key: str) -> str:
    """The kind of a conversation key: user, dm, channel, thread or member."""
    return key.partition(":")[0]


def is_dm(key: str) -> bool:
    """A direct-message conversation (the whole DM, or one of its threads)."""
    return key_kind(key) in DM_KINDS


def is_shared(key: str) -> bool:
    """A conversation several people write in: a channel's, or a Slack thread's in a channel
    (CHANNEL_SCOPE=thread). A member's (CHANNEL_SCOPE=user) and a DM's have one author."""
    return key_kind(key) in SHARED_KINDS


def choice_keys(key: str) -> list[str]:
    """Where to look for the key's assistant choice: the key, then its channel's (or user's).

    `/assistant use` in a channel sets the channel's choice; each Slack thread (CHANNEL_SCOPE
    =thread) or member (=user) of the channel follows it unless it has its own. In a DM it
    sets the user's choice (`user:<team>/<user>`), which each DM thread (DM_SCOPE=thread,
    `dm:<team>/<user>/<thread_ts>`) follows unless it has its own.
    """
    kind, _, rest = key.partition(":")
    team, _, tail = rest.partition("/")
    owner = tail.split("/", 1)[0]
    if kind in ("thread", "member"):
        return [key, f"channel:{team}/{owner}"]
    if kind == "dm":
        return [key, f"user:{team}/{owner}"]
    return [key]
