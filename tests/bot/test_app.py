"""Background work: many steps in flight at once, but never more than MAX_CONCURRENT_STEPS,
and a burst beyond what may wait builds no backlog of tasks."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.app import PENDING_PER_SLOT, Bridge
from bot.config import Settings
from storage.migrate import migrate


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


async def _burst(settings: Settings, steps: int) -> tuple[list[bool], int, int]:
    """Spawn `steps` steps at once that each wait until released; (what spawn said for
    each, how many more tasks the process had right after the burst, how many ran)."""
    bridge = Bridge(settings)
    release = asyncio.Event()
    ran = 0
    done = asyncio.Condition()

    async def step() -> None:
        nonlocal ran
        await release.wait()
        async with done:
            ran += 1
            done.notify_all()

    before = len(asyncio.all_tasks())
    try:
        accepted = [bridge.spawn(step(), f"step {n}") for n in range(steps)]
        alive = len(asyncio.all_tasks()) - before
        release.set()
        async with asyncio.timeout(10), done:
            await done.wait_for(lambda: ran == accepted.count(True))
    finally:
        await bridge.db.close()
        await bridge.http.close()
    return accepted, alive, ran


def test_a_burst_far_beyond_the_bound_leaves_no_backlog_of_tasks(tmp_path: Path) -> None:
    settings = _settings(tmp_path, max_concurrent_steps=5)
    pending_limit = PENDING_PER_SLOT * 5
    accepted, alive, ran = asyncio.run(_burst(settings, 1_000))
    assert alive <= 5 + pending_limit
    # The first steps run, the next ones wait (as coroutines, not tasks), the rest is shed.
    assert alive == 5
    assert accepted == [True] * (5 + pending_limit) + [False] * (1_000 - 5 - pending_limit)
    assert ran == 5 + pending_limit


async def _stop_while_busy(settings: Settings) -> dict[str, str]:
    """Two running steps (one finishes once stop begins, one never does) and waiting ones;
    what became of each."""
    bridge = Bridge(settings)
    fate: dict[str, str] = {}
    release = asyncio.Event()
    started = asyncio.Event()

    async def finishing() -> None:
        started.set()
        await release.wait()
        fate["finishing"] = "finished"

    async def endless() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            fate["endless"] = "cancelled"
            raise

    async def waiting(n: int) -> None:
        fate[f"waiting {n}"] = "ran"

    bridge.spawn(finishing(), "finishing")
    bridge.spawn(endless(), "endless")
    for n in range(3):
        bridge.spawn(waiting(n), f"waiting {n}")
    await started.wait()
    stopping = asyncio.create_task(bridge.stop(grace=0.5))
    release.set()
    async with asyncio.timeout(10):
        await stopping
    assert not bridge.spawn(waiting(9), "after stop")
    return fate


def test_stop_lets_running_steps_finish_cancels_the_rest_and_starts_no_waiting_one(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, max_concurrent_steps=2)
    migrate(settings.database_url)
    fate = asyncio.run(_stop_while_busy(settings))
    assert fate == {"finishing": "finished", "endless": "cancelled"}
