"""The poll planner: sparse before the usual finishing time, close around it, then back off."""

from __future__ import annotations

from bot.polling import PollPlanner


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
