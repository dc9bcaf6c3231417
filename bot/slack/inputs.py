"""A turn's input: its queued messages, with their files fetched from Slack and sent to OpenAI.

Each file's OpenAI id is written back to its message row as soon as it is uploaded, so a
retried start (or another process) does not upload it again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update
from sqlmodel import col

from bot import messages
from bot.backends import Backend
from bot.backends.base import Attachment, UserMessage
from bot.backends.uploads import upload
from bot.errors import TurnLost
from bot.file_rules import SlackFile, kind_of
from bot.keys import is_shared
from bot.slack.files import FileFetchError, download, refresh
from bot.slack.people import People
from bot.slack.thread_context import ThreadContext
from storage.db import Database
from storage.models import InboundMessage

if TYPE_CHECKING:  # uploads go through bot.backends.uploads; only the type is named here
    from openai import AsyncOpenAI

log = logging.getLogger(__name__)

# Tell the user about a file that could not be taken: (message, text).
Notice = Callable[[InboundMessage, str], Awaitable[None]]
# Before each upload: make sure this process still holds the turn (raises TurnLost).
Fence = Callable[[], Awaitable[None]]


def labelled(author: str, text: str) -> str:
    """The text as the model reads it in a shared conversation: `[Ana Lima] what is …`."""
    return f"[{author}] {text}".rstrip()


def stored_files(message: InboundMessage) -> list[dict[str, Any]]:
    return list(json.loads(message.files)) if message.files else []


class InputBuilder:
    """Builds the run's input from stored messages; moves attached files on the way."""

    def __init__(
        self,
        *,
        db: Database,
        openai: AsyncOpenAI,
        slack_token: str,
        session: Callable[[], aiohttp.ClientSession],
        max_bytes: int,
        notice: Notice,
        slack: AsyncWebClient | None = None,
        slack_api_url: str = "https://slack.com/api/",
        people: People | None = None,
        thread: ThreadContext | None = None,
    ) -> None:
        self.slack = slack
        # Author labels in shared conversations, and the thread around a mention.
        self.people = people
        self.thread = thread
        # The bot token goes only to Slack's own hosts (or the one SLACK_API_URL names).
        self.token_hosts = {"slack.com", urlsplit(slack_api_url).hostname or "slack.com"}
        self.db = db
        self.openai = openai
        self.slack_token = slack_token
        self.session = session
        self.max_bytes = max_bytes
        self.notice = notice

    async def build(
        self,
        queued: list[InboundMessage],
        backend: Backend,
        fence: Fence,
        *,
        read_files: bool = True,
    ) -> list[UserMessage]:
        """One UserMessage per queued message; a file that cannot be moved is left out
        (the user is told which and why), the rest of the message still goes. Empty when
        nothing is left to send.

        Raises BackendError when OpenAI refuses an upload (the start fails or is retried),
        TurnLost when this process no longer holds the turn (checked before each upload;
        the lease keeper renews the turn's lease while files move).
        """
        built = []
        names = await self._author_names(queued)
        for message in queued:
            if self.thread is not None and (context := await self.thread.for_message(message)):
                built.append(UserMessage(text=context))
            attachments = []
            if message.files and not read_files:
                # Not even fetched: the assistant could not read them (an agent without
                # an environment takes no files).
                left = "\n".join(str(f.get("name") or "file") for f in stored_files(message))
                await self.notice(message, messages.FILES_NOT_FOR_AGENT.format(files=left))
            elif message.files:
                attachments = await self._attachments(message, backend, fence)
            if message.text or attachments:  # a message of files that all failed says nothing
                text = message.text
                if names is not None:
                    text = labelled(names.get(message.user_id, message.user_id), text)
                built.append(UserMessage(text=text, attachments=tuple(attachments)))
        return built

    async def _author_names(self, queued: list[InboundMessage]) -> dict[str, str] | None:
        """Each author's name when the conversation is shared (None: not labelled)."""
        if self.people is None or not queued or not is_shared(queued[0].key):
            return None
        return await self.people.names({message.user_id for message in queued})

    async def _attachments(
        self, message: InboundMessage, backend: Backend, fence: Fence
    ) -> list[Attachment]:
        entries = stored_files(message)
        attachments: list[Attachment] = []
        changed = False
        failed: list[str] = []
        for entry in entries:
            file = SlackFile.from_json({k: v for k, v in entry.items() if k != "openai_id"})
            kind = kind_of(file)
            if kind is None:
                continue
            if "openai_id" not in entry:  # not tried yet
                try:
                    if file.url is None and self.slack is not None:
                        file = await refresh(self.slack, file)  # Slack Connect: look it up
                    self._check_host(file)
                    data = await download(
                        self.session(), token=self.slack_token, file=file, max_bytes=self.max_bytes
                    )
                except FileFetchError as exc:
                    log.warning("file %s of message %s not fetched: %s", file.id, message.id, exc)
                    failed.append(f"{file.name}: {exc.reason}")
                    entry["openai_id"] = ""
                    entry["skipped"] = exc.reason
                    changed = True
                    continue
                await fence()  # an upload is not idempotent: a second one is another file
                entry["openai_id"] = await upload(
                    self.openai, file=file, data=data, purpose=backend.file_purpose(kind)
                )
                changed = True
                await self._save(message, entries)
                changed = False
            if entry.get("openai_id"):
                attachments.append(Attachment(str(entry["openai_id"]), file.name, kind))
        if changed:
            await self._save(message, entries)
        if failed:
            await self.notice(message, messages.FILES_NOT_FETCHED.format(files="\n".join(failed)))
        return attachments

    def _check_host(self, file: SlackFile) -> None:
        host = urlsplit(file.url or "").hostname or ""
        if not any(host == allowed or host.endswith(f".{allowed}") for allowed in self.token_hosts):
            raise FileFetchError("its link does not point at Slack")

    async def _save(self, message: InboundMessage, entries: list[dict[str, Any]]) -> None:
        message.files = json.dumps(entries)
        async with self.db.session() as session:
            await session.exec(
                update(InboundMessage)
                .where(col(InboundMessage.id) == message.id)
                .values(files=message.files)
            )


__all__ = ["Fence", "InputBuilder", "TurnLost", "stored_files"]
