"""Conversation keys: who shares one assistant conversation, and where a choice applies."""

from __future__ import annotations


def choice_keys(key: str) -> list[str]:
    """Where to look for the key's assistant choice: the key, then its channel's.

    `/assistant use` in a channel sets the channel's choice; each Slack thread (CHANNEL_SCOPE
    =thread) or member (=user) of the channel follows it unless it has its own.
    """
    kind, _, rest = key.partition(":")
    if kind in ("thread", "member"):
        team, _, tail = rest.partition("/")
        channel = tail.split("/", 1)[0]
        return [key, f"channel:{team}/{channel}"]
    return [key]
