"""Who a Slack user is and what a channel is called: users.info / conversations.info, cached.

Asked when a turn starts, never while Slack waits for its ack. Each look-up is cached for
`ttl` seconds and shared while in flight: async-lru caches the look-up's task, so a turn's
several questions about one user make one users.info call, and a failed look-up is dropped
from the cache (it raises inside) so the next turn asks again. A failure, a rate limit or a
slow answer gives None: the turn goes on without the name.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from async_lru import alru_cache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.client import error_code

log = logging.getLogger(__name__)

CACHE_SECONDS = 600.0
# A turn's start waits at most this long for one look-up: the client's rate-limit handler
# would otherwise sleep out Slack's Retry-After (users.info is Tier 4, conversations.info
# Tier 3) before the run is even created.
LOOKUP_SECONDS = 3.0


@dataclass(frozen=True)
class Person:
    """What users.info says about a user that the assistant may be told."""

    user_id: str
    name: str
    title: str = ""
    # IANA name (users.info `tz`, e.g. "Europe/Berlin") and its offset in seconds (`tz_offset`).
    timezone: str = ""
    tz_offset: int | None = None


@dataclass(frozen=True)
class Place:
    """What conversations.info says about a conversation: its name and whether it is a DM."""

    channel_id: str
    name: str = ""
    is_im: bool = False
    is_mpim: bool = False


class _LookupFailed(Exception):
    """A look-up got no answer: not cached (async-lru drops a task that raised)."""


def person_of(user: dict[str, Any]) -> Person:
    """users.info's `user`: the display name (profile.display_name) if set, else the real
    name, else the handle (`name`); an empty display name is common."""
    profile: dict[str, Any] = user.get("profile") or {}
    name = (
        profile.get("display_name")
        or profile.get("real_name")
        or user.get("real_name")
        or user.get("name")
        or str(user.get("id") or "")
    )
    offset = user.get("tz_offset")
    return Person(
        user_id=str(user.get("id") or ""),
        name=str(name),
        title=str(profile.get("title") or ""),
        timezone=str(user.get("tz") or ""),
        tz_offset=int(offset) if isinstance(offset, int | float) else None,
    )


class People:
    """Cached users.info and conversations.info for one workspace's bot token."""

    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        ttl: float = CACHE_SECONDS,
        timeout: float = LOOKUP_SECONDS,
        maxsize: int = 4096,
    ) -> None:
        self.slack = slack
        self.timeout = timeout
        self._person = alru_cache(maxsize=maxsize, ttl=ttl)(self._fetch_person)
        self._place = alru_cache(maxsize=maxsize, ttl=ttl)(self._fetch_place)

    async def person(self, user_id: str) -> Person | None:
        try:
            return await self._person(user_id)
        except _LookupFailed:
            return None

    async def place(self, channel_id: str) -> Place | None:
        try:
            return await self._place(channel_id)
        except _LookupFailed:
            return None

    async def names(self, user_ids: set[str]) -> dict[str, str]:
        """The name of each user whose look-up succeeds (all asked at once)."""
        ordered = sorted(user_ids)
        found = await asyncio.gather(*(self.person(user) for user in ordered))
        return {user: person.name for user, person in zip(ordered, found, strict=True) if person}

    async def _fetch_person(self, user_id: str) -> Person:
        response = await self._ask("users.info", self.slack.users_info, user=user_id)
        user = response.get("user")
        if not isinstance(user, dict):
            raise _LookupFailed
        return person_of(user)

    async def _fetch_place(self, channel_id: str) -> Place:
        response = await self._ask(
            "conversations.info", self.slack.conversations_info, channel=channel_id
        )
        channel = response.get("channel")
        if not isinstance(channel, dict):
            raise _LookupFailed
        return Place(
            channel_id=channel_id,
            name=str(channel.get("name") or ""),
            is_im=bool(channel.get("is_im")),
            is_mpim=bool(channel.get("is_mpim")),
        )

    async def _ask(self, method: str, call: Any, **params: str) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                return await call(**params)
        except SlackApiError as exc:
            log.warning("%s failed: %s", method, error_code(exc))
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("%s failed: Slack unreachable or slow (%s)", method, type(exc).__name__)
        raise _LookupFailed
