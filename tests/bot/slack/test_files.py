"""Files from Slack: what the assistant can read, and fetching them through the fake Slack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.file_rules import MAX_IMAGE_BYTES, MB, SlackFile, kind_of, refusal
from bot.slack.files import FileFetchError, download, refresh
from tests.fakes.runner import ServerThread
from tests.fakes.slack_api import FakeSlack

T = TypeVar("T")


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
        assert fake.server_errors() == []


def _file(name: str, *, mimetype: str = "", filetype: str = "", size: int = 10) -> SlackFile:
    return SlackFile("F1", name, mimetype, filetype, size, "https://files.slack.com/x")


def _with_session(use: Callable[[aiohttp.ClientSession], Awaitable[T]]) -> T:
    async def scenario() -> T:
        async with aiohttp.ClientSession() as session:
            return await use(session)

    return asyncio.run(scenario())


# Slack objects -----------------------------------------------------------------------------
PRIVATE = "https://files.slack.com/files-pri/T1-F0A1B2C3D4E/q3_report.pdf"
DOWNLOAD = "https://files.slack.com/files-pri/T1-F0A1B2C3D4E/download/q3_report.pdf"
SHARED: dict[str, Any] = {
    "id": "F0A1B2C3D4E",
    "created": 1710000000,
    "name": "Q3 report.pdf",
    "title": "Q3 report",
    "mimetype": "application/pdf",
    "filetype": "pdf",
    "pretty_type": "PDF",
    "user": "U0USER",
    "size": 482113,
    "mode": "hosted",
    "is_external": False,
    "url_private": PRIVATE,
    "url_private_download": DOWNLOAD,
    "file_access": "visible",
}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            SHARED,
            SlackFile(
                "F0A1B2C3D4E",
                "Q3 report.pdf",
                "application/pdf",
                "pdf",
                482113,
                DOWNLOAD,
            ),
            id="file_share",
        ),
        pytest.param(
            {**SHARED, "url_private_download": None},
            SlackFile(
                "F0A1B2C3D4E",
                "Q3 report.pdf",
                "application/pdf",
                "pdf",
                482113,
                PRIVATE,
            ),
            id="url_private only",
        ),
        pytest.param(
            {"id": "F0CONNECT", "mode": "file_access", "file_access": "check_file_info"},
            SlackFile("F0CONNECT", "F0CONNECT", "", "", 0, None),
            id="slack connect: check_file_info",
        ),
        pytest.param(
            {
                **SHARED,
                "is_external": True,
                "external_type": "gdrive",
                "url_private": "https://docs.google.com/document/d/abc",
            },
            SlackFile("F0A1B2C3D4E", "Q3 report.pdf", "application/pdf", "pdf", 482113, None),
            id="external file: the token must not go to Google",
        ),
        pytest.param({"id": "F0GONE", "mode": "tombstone"}, None, id="deleted"),
        pytest.param({"name": "no id.txt"}, None, id="no id"),
        pytest.param("F0A1B2C3D4E", None, id="not an object"),
    ],
)
def test_from_event(raw: Any, expected: SlackFile | None) -> None:
    assert SlackFile.from_event(raw) == expected


def test_json_round_trip() -> None:
    for file in (_file("a.csv"), SlackFile("F2", "x", "", "", 0, None)):
        assert SlackFile.from_json(json.loads(json.dumps(file.to_json()))) == file


# What the assistant can read ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("file", "kind"),
    [
        (_file("handbook.pdf", mimetype="application/pdf"), "document"),
        (_file("Photo.PNG", mimetype="image/png"), "image"),
        (_file("scan.jpeg"), "image"),
        (_file("shot.webp"), "image"),
        (_file("wave.gif"), "image"),
        (_file("data.csv", mimetype="text/csv"), "spreadsheet"),
        (_file("budget.xlsx"), "spreadsheet"),
        (_file("old.xls"), "spreadsheet"),
        (_file("table.tsv"), "spreadsheet"),
        (_file("notes.md", mimetype="text/plain"), "document"),
        (_file("main.py", mimetype="text/plain"), "document"),
        (_file("deck.pptx"), "document"),
        (_file("letter.docx"), "document"),
        (_file("Untitled", mimetype="text/plain", filetype="text"), "document"),
        (_file("server.log", mimetype="text/plain"), "document"),
        (_file("image", mimetype="image/png", filetype="png"), "image"),
        (_file("report.zip", mimetype="application/zip"), None),
        (_file("setup.exe", mimetype="application/octet-stream"), None),
        (_file("video.mp4", mimetype="video/mp4"), None),
        (_file("voice.m4a", mimetype="audio/mp4"), None),
        (_file("IMG_0001.HEIC", mimetype="image/heic"), None),
        (_file("blob", mimetype="application/octet-stream", filetype="binary"), None),
    ],
    ids=lambda value: value.name if isinstance(value, SlackFile) else None,
)
def test_kind_of(file: SlackFile, kind: str | None) -> None:
    assert kind_of(file) == kind


@pytest.mark.parametrize(
    ("file", "max_bytes", "reason"),
    [
        (_file("handbook.pdf", size=19 * MB), 20 * MB, None),
        (_file("report.zip"), 20 * MB, "report.zip: the assistant can't read .zip files"),
        (
            _file("blob", filetype="binary"),
            20 * MB,
            "blob: the assistant can't read this kind of file",
        ),
        (
            _file("video.mov", mimetype="text/plain", size=int(48.15 * MB)),
            20 * MB,
            "video.mov: 48.2 MB is over the 20 MB limit for files",
        ),
        (
            _file("big.csv", size=20 * MB + 1),
            20 * MB,
            "big.csv: 20.1 MB is over the 20 MB limit for files",
        ),
        (_file("big.csv", size=20 * MB), 20 * MB, None),
        (_file("photo.png", size=MAX_IMAGE_BYTES), 50 * MB, None),
        (
            _file("photo.png", size=MAX_IMAGE_BYTES + 1),
            50 * MB,
            "photo.png: 19.1 MB is over the 19 MB limit for images",
        ),
        (
            _file("photo.png", size=25 * MB),
            50 * MB,
            "photo.png: 25 MB is over the 19 MB limit for images",
        ),
        (
            _file("photo.png", size=6 * MB),
            5 * MB,
            "photo.png: 6 MB is over the 5 MB limit for images",
        ),
    ],
)
def test_refusal(file: SlackFile, max_bytes: int, reason: str | None) -> None:
    assert refusal(file, max_bytes=max_bytes) == reason


# Downloads from the fake Slack -------------------------------------------------------------
def _fetch(slack: FakeSlack, file: SlackFile, *, token: str | None = None, cap: int = MB) -> bytes:
    return _with_session(
        lambda session: download(session, token=token or slack.bot_token, file=file, max_bytes=cap)
    )


def _shared(slack: FakeSlack, file_id: str, name: str, content: bytes, mimetype: str) -> SlackFile:
    file = SlackFile.from_event(slack.add_file(file_id, name, content, mimetype))
    assert file is not None and file.url is not None
    return file


def test_download_reads_the_file_with_the_bot_token(slack: FakeSlack) -> None:
    content = b"col,val\n" + b"row,1\n" * 50_000
    file = _shared(slack, "F0DL1", "data.csv", content, "text/csv")
    assert "/download/" in (file.url or "")
    assert _fetch(slack, file) == content


def test_download_stops_past_the_cap(slack: FakeSlack) -> None:
    file = _shared(slack, "F0DL2", "big.pdf", b"%PDF" + b"x" * 200_000, "application/pdf")
    with pytest.raises(FileFetchError) as caught:
        _fetch(slack, file, cap=MB // 10 + 1)
    assert caught.value.reason == "it is over the 0.1 MB limit"


def test_download_refused_names_the_status_not_the_secret(slack: FakeSlack) -> None:
    file = _shared(slack, "F0DL3", "notes.txt", b"hello", "text/plain")
    missing = replace(file, id="F0NOPE", url=(file.url or "").replace("F0DL3", "F0NOPE"))
    for target, token, status in ((file, "xoxb-wrong", 403), (missing, slack.bot_token, 404)):
        with pytest.raises(FileFetchError) as caught:
            _fetch(slack, target, token=token)
        reason = caught.value.reason
        assert reason == f"Slack answered {status} to the download"
        assert "xox" not in reason and "http" not in reason


def test_download_without_a_url_fails_before_any_request() -> None:
    file = SlackFile("F0CONNECT", "F0CONNECT", "", "", 0, None)
    with pytest.raises(FileFetchError, match="Slack gave no link"):
        _with_session(lambda s: download(s, token="xoxb-t", file=file, max_bytes=MB))


def test_download_when_slack_is_unreachable() -> None:
    file = SlackFile("F1", "a.txt", "text/plain", "text", 1, "http://127.0.0.1:9/files-pri/x?t=1")
    with pytest.raises(FileFetchError) as caught:
        _with_session(lambda s: download(s, token="xoxb-secret", file=file, max_bytes=MB))
    assert caught.value.reason == "Slack could not be reached to download it"


def test_refresh_gives_a_slack_connect_file_its_url(slack: FakeSlack) -> None:
    slack.add_file("F0SC1", "shared.pdf", b"%PDF-1.7", "application/pdf")
    hidden = SlackFile.from_event({"id": "F0SC1", "file_access": "check_file_info"})
    assert hidden is not None and hidden.url is None

    async def scenario() -> tuple[SlackFile, bytes]:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/")
        fresh = await refresh(client, hidden)
        async with aiohttp.ClientSession() as session:
            data = await download(session, token=slack.bot_token, file=fresh, max_bytes=MB)
        return fresh, data

    fresh, data = asyncio.run(scenario())
    assert (fresh.name, fresh.mimetype, fresh.filetype, fresh.size) == (
        "shared.pdf",
        "application/pdf",
        "pdf",
        8,
    )
    assert data == b"%PDF-1.7"


def test_refresh_of_an_unknown_file_names_slacks_error(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/")
    file = SlackFile("F0NOPE", "gone.pdf", "", "", 0, None)
    with pytest.raises(FileFetchError) as caught:
        asyncio.run(refresh(client, file))
    assert caught.value.reason == "Slack would not describe the file (file_not_found)"


# What real Slack does and the fake does not: the login page, and bodies of unknown length.
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in</body></html>"


async def _login_page(request: web.Request) -> web.StreamResponse:
    return web.Response(body=LOGIN_PAGE, content_type="text/html", charset="utf-8")


async def _endless(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()  # chunked: no Content-Length to check up front
    response.content_type = "application/pdf"
    await response.prepare(request)
    for _ in range(64):
        await response.write(b"x" * 16_384)
    await response.write_eof()
    return response


@pytest.fixture(scope="module")
def odd_slack() -> Iterator[str]:
    app = web.Application()
    app.router.add_get("/files-pri/{segment}/{name}", _login_page)
    app.router.add_get("/stream/{name}", _endless)
    server = ServerThread(app, name="odd-slack")
    server.start()
    yield server.url
    server.stop()


def test_login_page_instead_of_the_file_asks_for_files_read(odd_slack: str) -> None:
    file = SlackFile("F1", "plan.pdf", "application/pdf", "pdf", 9, f"{odd_slack}/files-pri/T-F1/p")
    with pytest.raises(FileFetchError) as caught:
        _with_session(lambda s: download(s, token="xoxb-t", file=file, max_bytes=MB))
    assert caught.value.reason == (
        "Slack did not hand over the file; is the files:read scope granted?"
    )


def test_an_html_file_is_not_mistaken_for_the_login_page(odd_slack: str) -> None:
    file = SlackFile("F1", "page.html", "text/html", "html", 9, f"{odd_slack}/files-pri/T-F1/p")
    data = _with_session(lambda s: download(s, token="xoxb-t", file=file, max_bytes=MB))
    assert data == LOGIN_PAGE


def test_a_body_without_length_is_cut_at_the_cap(odd_slack: str) -> None:
    file = SlackFile("F1", "huge.pdf", "application/pdf", "pdf", 1, f"{odd_slack}/stream/huge.pdf")
    with pytest.raises(FileFetchError, match=r"over the 0\.1 MB limit"):
        _with_session(lambda s: download(s, token="xoxb-t", file=file, max_bytes=MB // 10 + 1))
    whole = _with_session(lambda s: download(s, token="xoxb-t", file=file, max_bytes=2 * MB))
    assert len(whole) == 64 * 16_384
