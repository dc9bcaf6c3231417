"""Files a user attached in Slack, on their way to OpenAI: judge, download, upload."""

from __future__ import annotations

import logging
import math
import posixpath
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.backends.base import call
from bot.errors import BridgeError
from bot.slack import error_code

if TYPE_CHECKING:
    from openai import AsyncOpenAI

log = logging.getLogger(__name__)

FileKind = Literal["image", "document", "spreadsheet"]
# "vision": images on Assistants; "user_data": Responses inputs; "assistants": attachments.
Purpose = Literal["vision", "user_data", "assistants"]

# Sizes are counted and shown in binary megabytes, as Slack shows them and as the
# MAX_FILE_MB setting is read.
MB = 1024 * 1024
# OpenAI takes images "up to 20MB per image" (50 MB of image bytes per request), whatever
# the Files API's own 512 MB cap. 20,000,000 bytes is under that figure whichever megabyte
# OpenAI means; shown to users as the "19 MB limit for images".
# https://platform.openai.com/docs/guides/images-vision#image-input-requirements
MAX_IMAGE_BYTES = 20_000_000

# What OpenAI reads, by extension (and Slack's own `filetype` names for the same things).
# Images: PNG, JPEG, WEBP, non-animated GIF (input_image). The rest go as input_file:
# https://platform.openai.com/docs/guides/file-inputs#accepted-file-types
_KINDS: dict[str, FileKind] = {
    **dict.fromkeys(("png", "jpg", "jpeg", "webp", "gif"), "image"),
    **dict.fromkeys(("csv", "tsv", "xls", "xlsx"), "spreadsheet"),
    **dict.fromkeys(
        (
            *("pdf", "doc", "docx", "rtf", "odt", "ppt", "pptx"),
            *("txt", "text", "md", "markdown", "json", "html", "htm", "xml"),
            *("py", "python", "js", "javascript", "ts", "typescript", "java", "c", "cpp", "h"),
            *("cs", "csharp", "go", "rb", "ruby", "php", "sh", "shell", "css", "tex", "sql"),
            *("rs", "rust", "kt", "kotlin", "swift", "yaml", "yml"),
        ),
        "document",
    ),
}
_MIMETYPES: dict[str, FileKind] = {
    **dict.fromkeys(("image/png", "image/jpeg", "image/webp", "image/gif"), "image"),
    **dict.fromkeys(
        (
            "text/csv",
            "text/tab-separated-values",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        "spreadsheet",
    ),
    **dict.fromkeys(
        (
            "application/pdf",
            "application/json",
            "application/xml",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        "document",
    ),
}
_CHUNK = 64 * 1024
# No connect in 15 s or no byte for 30 s: Slack is not going to deliver; the job tries later.
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=30)


@dataclass(frozen=True)
class SlackFile:
    """A file from a Slack message's `files` list, as much as the bridge needs of it."""

    id: str
    name: str
    mimetype: str
    filetype: str  # Slack's short type ("pdf", "png", "csv", "text", …)
    size: int
    # url_private_download, else url_private. None when Slack leaves it out: Slack Connect
    # shares (`file_access: "check_file_info"`, read it with files.info) and files stored
    # elsewhere (Google Drive…), whose URL must never get our bot token.
    url: str | None

    @classmethod
    def from_event(cls, raw: Mapping[str, Any]) -> SlackFile | None:
        """None for what is no file to read: not an object, no id, or a deleted file."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw["id"]:
            return None
        if raw.get("mode") == "tombstone":
            return None
        url = raw.get("url_private_download") or raw.get("url_private")
        if raw.get("is_external") or not isinstance(url, str):
            url = None
        size = raw.get("size")
        return cls(
            id=raw["id"],
            name=str(raw.get("name") or raw.get("title") or raw["id"]),
            mimetype=str(raw.get("mimetype") or ""),
            filetype=str(raw.get("filetype") or ""),
            size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
            url=url,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlackFile:
        url = data.get("url")
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            mimetype=str(data.get("mimetype") or ""),
            filetype=str(data.get("filetype") or ""),
            size=int(data.get("size") or 0),
            url=str(url) if url else None,
        )


def _extension(file: SlackFile) -> str:
    return posixpath.splitext(file.name)[1].lstrip(".").lower()


def kind_of(file: SlackFile) -> FileKind | None:
    """What OpenAI would make of the file; None when it cannot read it (zip, video, …).

    The name's extension decides, then Slack's filetype, then the mimetype: Slack guesses
    the mimetype from the content and calls most text `text/plain`.
    """
    for key in (_extension(file), file.filetype.lower()):
        if key in _KINDS:
            return _KINDS[key]
    mimetype = file.mimetype.split(";")[0].strip().lower()
    if mimetype in _MIMETYPES:
        return _MIMETYPES[mimetype]
    return "document" if mimetype.startswith("text/") else None


def refusal(file: SlackFile, *, max_bytes: int) -> str | None:
    """None if the file can go to the assistant, else a short reason for Slack, naming it.

    Judge a file without a `url` after `refresh`: until then Slack has told us little.
    """
    kind = kind_of(file)
    if kind is None:
        what = f".{_extension(file)} files" if _extension(file) else "this kind of file"
        return f"{file.name}: the assistant can't read {what}"
    limit = min(max_bytes, MAX_IMAGE_BYTES) if kind == "image" else max_bytes
    if file.size > limit:
        noun = "images" if kind == "image" else "files"
        return f"{file.name}: {_megabytes(file.size)} is over the {_limit(limit)} limit for {noun}"
    return None


# Sizes round up and limits down (to 0.1 MB), so a file just over the limit never reads
# as "20 MB is over the 20 MB limit".
def _megabytes(size: int) -> str:
    return f"{math.ceil(size * 10 / MB) / 10:g} MB"


def _limit(max_bytes: int) -> str:
    return f"{math.floor(max_bytes * 10 / MB) / 10:g} MB"


class FileFetchError(BridgeError):
    """A file could not be fetched from Slack. `reason` is a short sentence for the user
    (the caller puts the file's name before it); it never holds a token or a URL."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_html(file: SlackFile) -> bool:
    return _extension(file) in ("html", "htm") or file.filetype == "html"


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
            too_big = FileFetchError(f"it is over the {_limit(max_bytes)} limit")
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


async def upload(client: AsyncOpenAI, *, file: SlackFile, data: bytes, purpose: Purpose) -> str:
    """Put the bytes in OpenAI's Files API; return the file id. SDK errors become
    BackendError (through `classify`), transient or not."""
    # OpenAI decides what a file is by its extension; Slack snippets may have none.
    name = (
        file.name if "." in file.name else f"{file.name}.{_EXTENSION_OF.get(file.filetype, 'txt')}"
    )
    created = await call(
        lambda: client.files.create(file=(name, data, file.mimetype or None), purpose=purpose)
    )
    return created.id


_EXTENSION_OF = {"text": "txt", "markdown": "md", "python": "py", "javascript": "js"}
