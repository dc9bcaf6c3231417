"""Conversation keys: who shares one assistant conversation, and where a choice applies."""

from __future__ import annotations


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
