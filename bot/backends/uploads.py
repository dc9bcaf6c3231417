"""Files a user attached, uploaded to OpenAI's Files API with the purpose the backend needs."""

from __future__ import annotations

from openai import AsyncOpenAI

from bot.backends.base import call
from bot.file_rules import Purpose, SlackFile


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
