"""The rules for files users attach: what OpenAI can read, and how large, judged from
what Slack's event tells (`SlackFile`)."""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

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


def extension(file: SlackFile) -> str:
    return posixpath.splitext(file.name)[1].lstrip(".").lower()


def kind_of(file: SlackFile) -> FileKind | None:
    """What OpenAI would make of the file; None when it cannot read it (zip, video, …).

    The name's extension decides, then Slack's filetype, then the mimetype: Slack guesses
    the mimetype from the content and calls most text `text/plain`.
    """
    for key in (extension(file), file.filetype.lower()):
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
        what = f".{extension(file)} files" if extension(file) else "this kind of file"
        return f"{file.name}: the assistant can't read {what}"
    limit = min(max_bytes, MAX_IMAGE_BYTES) if kind == "image" else max_bytes
    if file.size > limit:
        noun = "images" if kind == "image" else "files"
        return (
            f"{file.name}: {_megabytes(file.size)} is over the {limit_text(limit)} limit for {noun}"
        )
    return None


# Sizes round up and limits down (to 0.1 MB), so a file just over the limit never reads
# as "20 MB is over the 20 MB limit".
def _megabytes(size: int) -> str:
    return f"{math.ceil(size * 10 / MB) / 10:g} MB"


def limit_text(max_bytes: int) -> str:
    return f"{math.floor(max_bytes * 10 / MB) / 10:g} MB"
