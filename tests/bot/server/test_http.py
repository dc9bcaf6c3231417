"""`GET /healthz` tells the platform whether the database answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.app import Bridge
from bot.config import Settings
from bot.server.http import build_web_app
from tests.e2e.harness import free_port


async def _healthz(database_url: str) -> tuple[int, dict[str, str]]:
    settings = Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        openai_api_key="sk-test",
        database_url=database_url,
    )
    bridge = Bridge(settings)
    runner = web.AppRunner(build_web_app(bridge))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with (
            aiohttp.ClientSession() as client,
            client.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            return response.status, json.loads(await response.text())
    finally:
        await runner.cleanup()
        await bridge.db.close()
        await bridge.http.close()


def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/gone"
    status, body = asyncio.run(_healthz(url))
    assert status == 503
    assert body == {"status": "unavailable", "database": "unreachable"}


def test_healthz_is_200_when_the_database_answers(tmp_path: Path) -> None:
    status, body = asyncio.run(_healthz(f"sqlite:///{tmp_path / 'h.db'}"))
    assert (status, body) == (200, {"status": "ok", "database": "ok"})
