"""The Slack Web API client: its retry handlers, the app-token check, Slack's error codes."""

from __future__ import annotations

import logging
import weakref
from typing import Any, ClassVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import ConfigError

log = logging.getLogger(__name__)

# Errors after which posting to that conversation can never succeed: stop, log, move on.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "invalid_blocks",
        "no_text",
        "restricted_action",
        "cannot_reply_to_message",
        "thread_not_found",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "not_authed",
        "user_not_found",
        "channel_is_archived",
    }
)


class _NotFor(AsyncRetryHandler):
    """A retry handler that never retries calls of `method` (put it first in the bases)."""

    method: ClassVar[str]

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.rstrip("/").endswith(self.method):
            return False
        return await super()._can_retry_async(
            state=state, request=request, response=response, error=error
        )


class IdempotentConnectionRetry(_NotFor, AsyncConnectionErrorRetryHandler):
    """Retries calls that failed on the connection, except posts: a post whose answer was
    lost may have reached Slack, and repeating it would post the reply twice. Delivery
    looks for such a post (by its metadata) before it posts again."""

    method = "chat.postMessage"


class RateLimitRetry(_NotFor, AsyncRateLimitErrorRetryHandler):
    """Waits out 429s (Retry-After), except for the "working" reaction's `reactions.add`
    (Tier 3: about 50 a minute per workspace). Added after a wait, the sign could land after
    the answer was posted and its removal tried, and then stay on an answered message; when
    Slack says slow down, the sign is skipped instead (it is only a sign)."""

    method = "reactions.add"


def build_client(settings: Settings, session: aiohttp.ClientSession) -> AsyncWebClient:
    """`SLACK_API_URL` honoured; 429s waited out (Retry-After) by slack_sdk's handler,
    which is not on by default.

    Without a `session`, AsyncWebClient opens a new aiohttp session (and connection) for
    every call; one shared session keeps connections alive.
    """
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=[
            IdempotentConnectionRetry(max_retry_count=2),
            RateLimitRetry(max_retry_count=3),
        ],
    )


# Stream clients made from a client (stream_client), kept while the client lives.
_stream_clients: weakref.WeakKeyDictionary[AsyncWebClient, AsyncWebClient] = (
    weakref.WeakKeyDictionary()
)


def stream_client(client: AsyncWebClient) -> AsyncWebClient:
    """A client for a live stream's calls: `client`'s token, URL, timeout and session, but
    none of its retry handlers. A 429 must reach the stream pacer (which pauses every
    stream of the workspace) instead of being slept through inside one stream's call, and
    a chat.startStream or chat.appendStream whose answer was lost must not be repeated:
    Slack may have shown it already."""
    found = _stream_clients.get(client)
    if found is None:
        found = AsyncWebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            ssl=client.ssl,
            proxy=client.proxy,
            session=client.session,
            retry_handlers=[],
        )
        _stream_clients[client] = found
    return found


def retry_after(exc: SlackApiError) -> float | None:
    """The seconds a 429 asks to wait (its Retry-After header, 1 if absent); None if `exc`
    is not a 429."""
    response = exc.response
    if response is None or response.status_code != 429:
        return None
    for name, value in (response.headers or {}).items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(0.0, float(text))
            except ValueError:
                break
    return 1.0


# What apps.connections.open says when the app-level token itself is wrong.
_REFUSED_TOKEN = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "token_revoked",
        "token_expired",
        "account_inactive",
    }
)


async def check_app_token(client: AsyncWebClient, app_token: str) -> None:
    """Fail at start if Slack refuses SLACK_APP_TOKEN: slack_sdk would retry it forever.

    Other failures (Slack unreachable, 5xx) are left to the SDK's own retries.
    """
    try:
        await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        code = error_code(exc)
        if code in _REFUSED_TOKEN:
            raise ConfigError(f"SLACK_APP_TOKEN was refused by Slack ({code})") from None
        log.warning("apps.connections.open failed (%s); Socket Mode will keep trying", code)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("Slack unreachable (%s); Socket Mode will keep trying", type(exc).__name__)


def error_code(exc: SlackApiError) -> str:
    data: Any = exc.response.data if exc.response is not None else None
    if isinstance(data, dict):
        return str(data.get("error") or "unknown_error")
    return f"http_{exc.response.status_code}" if exc.response is not None else "unknown_error"
