"""The stream pacer: per-workspace budgets in a sliding window, 429 pauses, shared gaps."""

from __future__ import annotations

import asyncio
import time

from bot.slack.pacing import APPEND, START, STOP, StreamPacer


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_starts_stop_when_the_workspaces_budget_is_spent_and_resume_as_the_window_moves() -> None:
    clock = Clock()
    pacer = StreamPacer(start_per_minute=2, clock=clock)
    assert pacer.may_start("T1") and pacer.take("T1", START)
    clock.now += 10
    assert pacer.take("T1", START)
    assert not pacer.may_start("T1") and not pacer.take("T1", START)
    assert pacer.wait_time("T1", START) == 50  # the first start leaves the window then
    assert pacer.may_start("T2")  # another workspace has a budget of its own
    clock.now += 50
    assert pacer.may_start("T1")


def test_a_429_pauses_the_method_for_the_whole_workspace() -> None:
    clock = Clock()
    pacer = StreamPacer(clock=clock)
    pacer.pause("T1", START, 3.0)
    assert not pacer.may_start("T1") and pacer.wait_time("T1", START) == 3.0
    assert pacer.take("T1", APPEND)  # other methods go on
    pacer.pause("T1", START, 1.0)  # a shorter pause does not shorten the one on
    clock.now += 2.0
    assert not pacer.may_start("T1")
    clock.now += 1.0
    assert pacer.may_start("T1")


def test_live_streams_share_the_append_budget() -> None:
    pacer = StreamPacer(append_per_minute=120, clock=Clock())
    assert pacer.gap("T1") == 0
    pacer.opened("T1")
    assert pacer.gap("T1") == 0.5
    for _ in range(3):
        pacer.opened("T1")
    assert pacer.gap("T1") == 2.0 and pacer.live("T1") == 4
    pacer.opened("T2")
    assert pacer.gap("T2") == 0.5
    for _ in range(4):
        pacer.closed("T1")
    assert pacer.live("T1") == 0 and pacer.gap("T1") == 0


def test_a_window_shorter_than_a_minute_scales_the_budget() -> None:
    clock = Clock()
    pacer = StreamPacer(append_per_minute=120, window=1.0, clock=clock)
    assert pacer.take("T1", APPEND) and pacer.take("T1", APPEND)
    assert not pacer.take("T1", APPEND)
    clock.now += 1.0
    assert pacer.take("T1", APPEND)


def test_acquire_waits_for_the_budget_then_counts_the_call() -> None:
    pacer = StreamPacer(stop_per_minute=60, window=0.2)  # one stop per 0.2 s

    async def scenario() -> float:
        await pacer.acquire("T1", STOP, max_wait=5)
        began = time.monotonic()
        await pacer.acquire("T1", STOP, max_wait=5)
        return time.monotonic() - began

    waited = asyncio.run(scenario())
    assert 0.15 <= waited < 2.0
    assert not pacer.take("T1", STOP)  # the second was counted


def test_acquire_past_its_wait_counts_the_call_anyway() -> None:
    clock = Clock()
    pacer = StreamPacer(clock=clock)
    pacer.pause("T1", STOP, 60)

    async def scenario() -> None:
        await pacer.acquire("T1", STOP, max_wait=0)

    asyncio.run(scenario())
    assert pacer.wait_time("T1", STOP) == 60


def test_without_a_budget_only_slacks_429_holds_a_method_back() -> None:
    clock = Clock()
    pacer = StreamPacer(clock=clock)
    assert all(pacer.take("T1", START) for _ in range(1000))  # Slack's tiers are minimums
    assert pacer.gap("T1") == 0.0
    pacer.pause("T1", START, 2.0)
    assert not pacer.may_start("T1")
    clock.now += 2.0
    assert pacer.may_start("T1")
