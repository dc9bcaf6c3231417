"""Slack's rate limits in the fake: per method and workspace, HTTP 429 with Retry-After.

Slack counts each Web API method per workspace (the team of the token) in a window of a
minute, and answers a call over the limit with HTTP 429, `{"ok": false, "error":
"ratelimited"}` and a `Retry-After` header in whole seconds
(https://docs.slack.dev/apis/web-api/rate-limits). The fake has one team, so a limit is
kept per method. A refused call does not count.
"""

from __future__ import annotations

import math

from tests.fakes.slack_store import SlackStore

RATELIMITED = {"ok": False, "error": "ratelimited"}


def throttle(store: SlackStore, method: str, now: float) -> str | None:
    """The Retry-After to answer if `method` is over its limit at `now`; else None (and the
    call is counted). Call under the store's lock."""
    limit = store.rate_limits.get(method)
    if limit is None:
        return None
    calls, per = limit
    log = store.rate_log[method]
    while log and log[0] <= now - per:
        log.popleft()
    if len(log) < calls:
        log.append(now)
        return None
    if store.retry_after is not None:
        return f"{store.retry_after:g}"
    # Whole seconds, as Slack sends them (slack_sdk's own handler reads them with int()).
    return str(max(1, math.ceil(log[0] + per - now)))
