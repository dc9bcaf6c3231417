"""Background work: many steps in flight at once, but never more than MAX_CONCURRENT_STEPS."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import Bridge
from bot.config import Settings


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret="secret",
        openai_api_key="sk-test",
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        **extra,  # type: ignore[arg-type]
    )


async def _most_at_once(settings: Settings, steps: int) -> tuple[int, int]:
    """Spawn `steps` steps that each wait until released; (the most running at once, how
    many finished)."""
    bridge = Bridge(settings)
    running, most, finished = 0, 0, 0
    changed = asyncio.Condition()
    release = asyncio.Event()

    async def step() -> None:
        nonlocal running, most, finished
        async with changed:
            running += 1
            most = max(most, running)
            changed.notify_all()
        await release.wait()  # a step waits on Slack or OpenAI most of its time
        async with changed:
            running -= 1
            finished += 1
            changed.notify_all()

    try:
        for n in range(steps):
            bridge.spawn(step(), f"step {n}")
        async with asyncio.timeout(10), changed:
            await changed.wait_for(lambda: running >= min(steps, settings.max_concurrent_steps))
        release.set()
        async with asyncio.timeout(10), changed:
            await changed.wait_for(lambda: finished == steps)
    finally:
        await bridge.db.close()
        await bridge.http.close()
    return most, finished


def test_steps_waiting_on_the_apis_run_side_by_side_up_to_the_default_bound(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    assert settings.max_concurrent_steps == 256
    assert asyncio.run(_most_at_once(settings, 300)) == (256, 300)


def test_steps_beyond_the_bound_wait_their_turn_and_all_run(tmp_path: Path) -> None:
    settings = _settings(tmp_path, max_concurrent_steps=5)
    assert asyncio.run(_most_at_once(settings, 12)) == (5, 12)
