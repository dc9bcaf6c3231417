"""Files a user attached in Slack, fetched for the turn: download (with the bot token), refresh."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import BridgeError
from bot.file_rules import SlackFile, extension, limit_text
from bot.slack.client import error_code

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024
# No connect in 15 s or no byte for 30 s: Slack is not going to deliver; the job tries later.
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=30)


class FileFetchError(BridgeError):
    """A file could not be fetched from Slack. `reason` is a short sentence for the user
    (the caller puts the file's name before it); it never holds a token or a URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_html(file: SlackFile) -> bool:
    return extension(file) in ("html", "htm") or file.filetype == "html"


async def download(
    session: aiohttp.ClientSession, *, token: str, file: SlackFile, max_bytes: int
) -> bytes:
    """The file's bytes, read with the bot token and never more than `max_bytes` of them."""
    if file.url is None:
        raise FileFetchError("Slack gave no link to download it")
    try:
        async with session.get(
            file.url, headers={"Authorization": f"Bearer {token}"}, timeout=_TIMEOUT
        ) as response:
            if response.status != 200:
                raise FileFetchError(f"Slack answered {response.status} to the download")
            # Without files:read (or with a bad token) Slack answers 200 with its login page.
            if response.content_type == "text/html" and not _is_html(file):
                raise FileFetchError(
                    "Slack did not hand over the file; is the files:read scope granted?"
                )
            too_big = FileFetchError(f"it is over the {limit_text(max_bytes)} limit")
            if (response.content_length or 0) > max_bytes:
                raise too_big
            data = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                data += chunk
                if len(data) > max_bytes:
                    raise too_big
            return bytes(data)
    except (aiohttp.ClientError, TimeoutError) as exc:
        # The exception's text holds the URL: log the file and the kind of failure only.
        log.warning("downloading %s from Slack failed: %s", file.id, type(exc).__name__)
        raise FileFetchError("Slack could not be reached to download it") from None


async def refresh(client: AsyncWebClient, file: SlackFile) -> SlackFile:
    """The file as files.info describes it: how a Slack Connect share gets its URL."""
    try:
        response = await client.files_info(file=file.id)
    except SlackApiError as exc:
        code = error_code(exc)
        raise FileFetchError(f"Slack would not describe the file ({code})") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("files.info for %s failed: %s", file.id, type(exc).__name__)
        raise FileFetchError("Slack could not be reached to look it up") from None
    raw = response.get("file")
    fresh = SlackFile.from_event(raw) if isinstance(raw, Mapping) else None
    if fresh is None:
        raise FileFetchError("Slack no longer has the file")
    return fresh
