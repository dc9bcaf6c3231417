"""Files the assistant made are read from OpenAI as a stream, through the real SDK, and the
read stops at MAX_FILE_MB: before the body when its length is declared, at the first chunk
past the cap when it is not."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web
from openai import AsyncOpenAI

from bot.backends.assistants import AssistantsBackend
from bot.backends.citations import GeneratedFile
from bot.backends.responses import ResponsesBackend
from bot.errors import BackendError, FileTooLarge
from tests.fakes.runner import ServerThread

MB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)
ENDLESS_BYTES = 200 * MB


class Served:
    """What the file server sent; the container route streams without a length."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.streamed = 0
        self.stream_ended = threading.Event()


def file_server(served: Served) -> web.Application:
    async def container_file(request: web.Request) -> web.StreamResponse:
        # Chunked, no Content-Length: only reading tells how large it is.
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        try:
            for _ in range(ENDLESS_BYTES // len(CHUNK)):
                await response.write(CHUNK)
                with served.lock:
                    served.streamed += len(CHUNK)
        except (ConnectionError, OSError):
            pass  # the reader went away
        finally:
            served.stream_ended.set()
        return response

    async def small_file(request: web.Request) -> web.Response:
        return web.Response(body=b"a,b\n1,2\n", content_type="text/csv")

    async def large_file(request: web.Request) -> web.Response:
        return web.Response(body=b"0" * (2 * MB), content_type="text/csv")

    async def missing(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": {"message": "No such File object", "type": "invalid_request_error"}},
            status=404,
        )

    app = web.Application()
    app.router.add_get("/v1/containers/cntr_1/files/cfile_big/content", container_file)
    app.router.add_get("/v1/files/file-small/content", small_file)
    app.router.add_get("/v1/files/file-large/content", large_file)
    app.router.add_get("/v1/files/file-gone/content", missing)
    return app


@pytest.fixture
def server() -> Iterator[tuple[ServerThread, Served]]:
    served = Served()
    thread = ServerThread(file_server(served), name="file-server")
    thread.start()
    yield thread, served
    thread.stop()


async def _download(url: str, file: GeneratedFile, *, assistants: bool = False) -> bytes:
    client = AsyncOpenAI(api_key="sk-test", base_url=url + "/v1", max_retries=0)
    try:
        backend = AssistantsBackend(client) if assistants else ResponsesBackend(client)
        return await backend.download_file(file, max_bytes=1 * MB)
    finally:
        await client.close()


def test_a_container_file_without_a_length_is_read_no_further_than_the_cap(
    server: tuple[ServerThread, Served],
) -> None:
    thread, served = server
    big = GeneratedFile("cfile_big", "big.bin", "cntr_1")
    with pytest.raises(FileTooLarge):
        asyncio.run(_download(thread.url, big))
    assert served.stream_ended.wait(10)
    # The server stops once the reader hangs up: what it sent is socket buffers beyond the
    # cap, nowhere near the whole file.
    assert served.streamed < ENDLESS_BYTES / 4


@pytest.mark.parametrize("assistants", [False, True], ids=["responses", "assistants"])
def test_a_file_with_a_declared_length_is_judged_before_its_body(
    assistants: bool, server: tuple[ServerThread, Served]
) -> None:
    thread, _ = server
    small = GeneratedFile("file-small", "small.csv")
    assert asyncio.run(_download(thread.url, small, assistants=assistants)) == b"a,b\n1,2\n"
    with pytest.raises(FileTooLarge) as caught:
        asyncio.run(
            _download(thread.url, GeneratedFile("file-large", "large.csv"), assistants=assistants)
        )
    assert (caught.value.transient, caught.value.code) == (False, "file_too_large")


def test_a_file_openai_no_longer_has_is_a_lasting_backend_error(
    server: tuple[ServerThread, Served],
) -> None:
    thread, _ = server
    with pytest.raises(BackendError) as caught:
        asyncio.run(_download(thread.url, GeneratedFile("file-gone", "gone.csv")))
    assert not isinstance(caught.value, FileTooLarge) and caught.value.transient is False
