"""Files the assistant made, read from OpenAI as a stream and never past a size cap.

A code-interpreter file can be as large as its container lets it be, and the bridge holds a
file whole in memory while it uploads it to Slack; so it is capped as files from Slack are
(MAX_FILE_MB): a `Content-Length` over the cap stops before the body, and a body that
runs past it (no length given, or a wrong one) stops at the first chunk over.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import aiohttp
import httpx2
import openai

from bot.backends.base import classify
from bot.errors import BackendError, FileTooLarge

CHUNK_BYTES = 64 * 1024


class StreamedBody(Protocol):
    """What the SDK's `with_streaming_response` calls hand over (the parts used here)."""

    @property
    def headers(self) -> httpx2.Headers: ...

    def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]: ...


async def read_capped(
    stream: AbstractAsyncContextManager[StreamedBody], *, max_bytes: int, what: str
) -> bytes:
    """The whole body of `stream`, or FileTooLarge as soon as it passes `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    try:
        async with stream as body:
            declared = body.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FileTooLarge(f"{what} is {declared} bytes, over {max_bytes}")
            async for chunk in body.iter_bytes(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge(f"{what} passed {max_bytes} bytes")
                chunks.append(chunk)
    except openai.OpenAIError as exc:
        raise classify(exc) from exc
    except (httpx2.HTTPError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        # The connection broke mid-body (the SDK retries only until the headers arrive).
        raise BackendError(
            f"{what}: {type(exc).__name__}", transient=True, code="download_broken"
        ) from exc
    return b"".join(chunks)
