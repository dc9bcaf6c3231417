"""Two functions the bridge ships, as examples and because models need them: the time and the user.

Offer them with `functions = ["bot.builtin_functions:current_time",
"bot.builtin_functions:who_am_i"]`. Both read Slack's users.info (scope `users:read`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from async_lru import alru_cache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.functions.registry import ToolContext

log = logging.getLogger(__name__)

USER_CACHE_SECONDS = 600.0
UserInfo = dict[str, Any]


class _LookupFailed(Exception):
    """users.info gave no user. Raised, not returned: async-lru keeps only what returns, so
    the next call asks Slack again."""


async def current_time(context: ToolContext) -> dict[str, str]:
    """Get the current date and time in the time zone of the user who is asking (from their
    Slack profile). Call it whenever the answer depends on today's date, the day of the week
    or the time of day ("today", "tomorrow", "next Friday", deadlines, greetings) instead of
    guessing. Returns `datetime` (ISO 8601 with UTC offset), `date`, `time` (24-hour),
    `weekday` and `timezone` (IANA name); if the user's time zone is unknown, the time is UTC
    and `note` says so.

    (Only the first paragraph reaches the model.)
    """
    user = await _user_info(context)
    name = str(user.get("tz") or "") if user else ""
    zone = _zone(name)
    now = datetime.now(zone or UTC)
    answer = {
        "datetime": now.isoformat(timespec="seconds"),
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M"),
        "weekday": now.strftime("%A"),
        "timezone": name if zone else "UTC",
    }
    if zone and user and user.get("tz_label"):
        answer["timezone_label"] = str(user["tz_label"])
    if zone is None:
        why = "Slack could not be asked" if user is None else "Slack gave no usable time zone"
        answer["note"] = f"The user's time zone is unknown ({why}); this is UTC."
    return answer


async def who_am_i(context: ToolContext) -> dict[str, str]:
    """Get who the user asking is, from their Slack profile. Call it to address the user by
    name or when the answer depends on their role. Returns `user_id` (mention them in Slack as
    <@user_id>), `name` (what they go by), `real_name`, `title` (job title) and `timezone`;
    fields the user left empty are "". Email and other contact details are not available.

    (Only the first paragraph reaches the model; no email: it needs the users:read.email scope.)
    """
    user = await _user_info(context)
    if user is None:
        return {
            "user_id": context.user_id,
            "note": "Slack could not be asked about this user; only the ID is known.",
        }
    profile: dict[str, Any] = user.get("profile") or {}
    real_name = str(profile.get("real_name") or user.get("real_name") or "")
    return {
        "user_id": context.user_id,
        "name": str(profile.get("display_name") or real_name),
        "real_name": real_name,
        "title": str(profile.get("title") or ""),
        "timezone": str(user.get("tz") or ""),
    }


def _zone(name: str) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.info("users.info time zone %r is not known here", name)
        return None


async def _user_info(context: ToolContext) -> UserInfo | None:
    """users.info's `user` for the asking user, from the cache when fresh; None if Slack
    can't be asked."""
    if context.slack is None:
        return None
    try:
        return await _lookup(context.slack, context.team_id, context.user_id)
    except _LookupFailed:
        return None


# One entry per (team, user), dropped USER_CACHE_SECONDS after it was fetched. A turn's several
# calls share one users.info even at once: async-lru caches the look-up's task, not only its
# result, and drops it if it raises or is cancelled. The client is not part of the key.
@alru_cache(maxsize=None, ttl=USER_CACHE_SECONDS, key=lambda _slack, team, user: (team, user))
async def _lookup(slack: AsyncWebClient, team_id: str, user_id: str) -> UserInfo:
    try:
        response = await slack.users_info(user=user_id)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.warning("users.info failed: %s", error or "unknown error")
        raise _LookupFailed from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("users.info failed: Slack unreachable (%s)", type(exc).__name__)
        raise _LookupFailed from None
    user = response.get("user")
    if not isinstance(user, dict):
        raise _LookupFailed
    return user


__all__ = ["USER_CACHE_SECONDS", "current_time", "who_am_i"]
