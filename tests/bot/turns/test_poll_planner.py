"""The poll planner: sparse before the usual finishing time, close around it, then back off."""

from __future__ import annotations

import pytest

from bot.turns.poll_planner import PollPlanner


def _run(planner: PollPlanner, finished_at: float) -> tuple[float, int]:
    """Poll a run that finishes at `finished_at` s as the turn machine does, recording what it
    learns; (how late the run was found, polls)."""
    elapsed, running_at, polls = 0.0, None, 0
    while True:
        elapsed += planner.next_delay("tutor", elapsed)
        polls += 1
        if elapsed >= finished_at:
            planner.record("tutor", elapsed, running_at=running_at)
            return elapsed - finished_at, polls
        running_at = elapsed


def _poll_times(planner: PollPlanner, finished_at: float) -> list[float]:
    """When the planner polls a run that finishes at `finished_at` s, up to the finding poll."""
    elapsed, times = 0.0, []
    while True:
        elapsed += planner.next_delay("tutor", elapsed)
        times.append(elapsed)
        if elapsed >= finished_at:
            return times


def test_cold_start_backs_off_from_the_base_interval_to_the_ceiling() -> None:
    planner = PollPlanner(base=0.25, ceiling=3.0)
    assert planner.next_delay("tutor", 0.0) == 0.25
    assert planner.next_delay("tutor", 4.0) == 1.0
    assert planner.next_delay("tutor", 100.0) == 3.0


def test_learned_duration_gives_few_polls_and_a_prompt_finish() -> None:
    planner = PollPlanner(base=0.25, ceiling=3.0)
    for _ in range(5):
        planner.record("tutor", 2.0)
    times = _poll_times(planner, 2.0)
    assert len(times) <= 6
    assert times[-1] - 2.0 < 0.05


def test_a_run_slower_than_usual_is_still_polled_closely_at_first() -> None:
    planner = PollPlanner(base=0.25, ceiling=3.0)
    planner.record("tutor", 2.0)
    times = _poll_times(planner, 2.3)
    assert times[-1] - 2.3 <= 0.25
    assert len(times) <= 10


def test_durations_are_per_assistant() -> None:
    planner = PollPlanner(base=0.25, ceiling=3.0)
    planner.record("slow", 30.0)
    assert planner.typical("slow") == 30.0
    assert planner.typical("tutor") is None


def test_what_is_learned_is_the_run_time_not_the_time_it_was_found() -> None:
    planner = PollPlanner(base=0.25, ceiling=3.0)
    first_late, first_polls = _run(planner, 2.0)  # cold: found up to a back-off step late
    assert first_late > 0.3 and first_polls == 8
    later = [_run(planner, 2.0) for _ in range(30)]
    typical = planner.typical("tutor")
    assert typical is not None and abs(typical - 2.0) < 0.05
    assert max(late for late, _ in later) < 0.1
    assert max(polls for _, polls in later) <= 4


@pytest.mark.parametrize(
    ("seen", "running_at", "learned"),
    [
        (2.6, 2.2, 2.4),  # between the poll that saw it running and the one that saw it done
        (2.4, None, 2.4),  # no earlier poll (taken over from another process): when found
        (3.0, 3.5, 3.0),  # an earlier poll of another run (a tool round's): when found
    ],
)
def test_what_a_finished_run_teaches(seen: float, running_at: float | None, learned: float) -> None:
    planner = PollPlanner(base=0.25, ceiling=3.0)
    planner.record("tutor", seen, running_at=running_at)
    assert planner.typical("tutor") == pytest.approx(learned)
