"""Who the bot is: `auth.test` asked once, in the background, and Bolt's `authorize` step.

Bolt's single-workspace authorization calls `auth.test` on a request until one succeeds:
while Slack's API is unreachable every event waits on it (1.8-3.5 s of retries) and gets a
500. Here the answer is learnt at start, retried in the background until Slack gives it,
and `authorize` never calls Slack. Until it is known, listeners take the bot's user id
from the event (`handlers.routing.bot_user_of`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.client import error_code

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
LONGEST_RETRY_SECONDS = 60.0


@dataclass(frozen=True)
class Bot:
    """What `auth.test` says about the bot token."""

    user_id: str | None
    bot_id: str | None
    team_id: str | None
    enterprise_id: str | None
    scopes: str | None


class BotIdentity:
    """The bot's identity from `auth.test`, and Bolt's `authorize` function built on it."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self.bot: Bot | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Ask `auth.test` in the background until it answers."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.learn(), name="auth.test")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])

    async def learn(self) -> None:
        pause = FIRST_RETRY_SECONDS
        failed = False
        while True:
            try:
                answer = await self._client.auth_test()
            except Exception as exc:  # unreachable, 5xx, a bad token: all are retried
                if not failed:
                    log.warning(
                        "Slack's auth.test failed (%s); events are still taken, with the bot's"
                        " user id from each event; asking again in the background",
                        _reason(exc),
                    )
                failed = True
                await asyncio.sleep(pause)
                pause = min(pause * 2, LONGEST_RETRY_SECONDS)
                continue
            self.bot = Bot(
                user_id=answer.get("user_id"),
                bot_id=answer.get("bot_id"),
                team_id=answer.get("team_id"),
                enterprise_id=answer.get("enterprise_id"),
                scopes=answer.headers.get("x-oauth-scopes"),
            )
            log.info("Slack's auth.test answered: the bot user is %s", self.bot.user_id)
            return

    def authorize_function(self) -> Callable[..., Awaitable[AuthorizeResult]]:
        """Bolt's `authorize` (a plain function: Bolt passes arguments by their names)."""

        async def authorize(
            enterprise_id: str | None, team_id: str | None, user_id: str | None
        ) -> AuthorizeResult:
            return self.authorize_result(enterprise_id, team_id, user_id)

        return authorize

    def authorize_result(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        """The bot token and what is known of the bot, without calling Slack."""
        bot = self.bot
        return AuthorizeResult(
            enterprise_id=enterprise_id or (bot.enterprise_id if bot else None),
            team_id=team_id or (bot.team_id if bot else None),
            bot_token=self._client.token,
            bot_id=bot.bot_id if bot else None,
            bot_user_id=bot.user_id if bot else None,
            bot_scopes=bot.scopes if bot else None,
            user_id=user_id,
        )


def _reason(exc: Exception) -> str:
    return error_code(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
