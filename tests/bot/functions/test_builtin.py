"""The built-in functions against a fake Slack: current_time, who_am_i, and their users.info cache.

Each test runs its own event loop, where the bridge has one: async-lru clears its cache (and
warns, once) when it is first called on a new loop, so what a test asks of the cache happens
within one loop (`run_rounds`).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.functions.builtin import USER_CACHE_SECONDS
from bot.functions.calls import ToolCall, ToolOutput, run_calls
from bot.functions.registry import ToolContext, load_functions
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.filterwarnings("ignore::async_lru.AlruCacheLoopResetWarning")

BUILTINS = ["bot.builtin_functions:current_time", "bot.builtin_functions:who_am_i"]


class ShiftedClock(asyncio.SelectorEventLoop):
    """An event loop whose clock a test moves on: timers (async-lru's TTL) fire at once."""

    shift = 0.0

    def time(self) -> float:
        return super().time() + self.shift


def builtin_calls(*names: str) -> list[ToolCall]:
    return [ToolCall(f"c{i}", name, "{}") for i, name in enumerate(names)]


def run_rounds(
    slack: FakeSlack | None,
    user_id: str,
    *rounds: list[ToolCall],
    timeout: float = 10.0,
    pause: float = 0.0,
) -> list[list[ToolOutput]]:
    """Run each round's calls at once, the rounds one after the other in one event loop, its
    clock moved on `pause` seconds between rounds."""

    async def go() -> list[list[ToolOutput]]:
        client = None
        if slack is not None:
            client = AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/")
        context = ToolContext(
            user_id=user_id,
            team_id="T0TEST",
            channel_id="D0DM",
            thread_ts=None,
            assistant="tutor",
            slack=client,
        )
        functions = load_functions(BUILTINS)
        outputs = []
        for i, calls in enumerate(rounds):
            if i and pause:
                loop = asyncio.get_running_loop()
                assert isinstance(loop, ShiftedClock)
                loop.shift += pause
                await asyncio.sleep(0)  # the loop runs the timers now due
            outputs.append(await run_calls(functions, calls, context, timeout=timeout))
        return outputs

    with asyncio.Runner(loop_factory=ShiftedClock) as runner:
        return runner.run(go())


def answers(outputs: list[ToolOutput]) -> list[Any]:
    assert all(o.ok for o in outputs), outputs
    return [json.loads(o.output) for o in outputs]


def run_builtins(slack: FakeSlack | None, user_id: str, calls: list[ToolCall]) -> list[Any]:
    [outputs] = run_rounds(slack, user_id, calls)
    return answers(outputs)


def users_info_calls(slack: FakeSlack, user_id: str) -> int:
    return len([c for c in slack.calls("users.info") if c.params.get("user") == user_id])


def test_current_time_is_in_the_users_time_zone() -> None:
    with FakeSlack() as slack:
        slack.users["U0KOLKATA"] = {"tz": "Asia/Kolkata", "tz_label": "India Standard Time"}

        [now] = run_builtins(slack, "U0KOLKATA", builtin_calls("current_time"))

    stamp = datetime.fromisoformat(now["datetime"])
    assert now["datetime"].endswith("+05:30")
    assert now["date"] == stamp.date().isoformat()
    assert now["time"] == stamp.strftime("%H:%M")
    assert now["weekday"] == stamp.strftime("%A")
    assert now["timezone"] == "Asia/Kolkata"
    assert now["timezone_label"] == "India Standard Time"
    assert "note" not in now


@pytest.mark.parametrize("tz", [None, "Mars/Olympus_Mons"])
def test_current_time_falls_back_to_utc_without_a_usable_time_zone(tz: str | None) -> None:
    user_id = f"U0NOTZ{tz is None}"
    with FakeSlack() as slack:
        slack.users[user_id] = {"tz": tz}

        [now] = run_builtins(slack, user_id, builtin_calls("current_time"))

    assert now["timezone"] == "UTC"
    assert now["datetime"].endswith("+00:00")
    assert "no usable time zone" in now["note"]


def test_current_time_falls_back_to_utc_when_slack_fails_and_asks_again_next_time() -> None:
    with FakeSlack() as slack:
        slack.fail_next("users.info", error="internal_error")
        first, second = run_rounds(
            slack, "U0FAILING", builtin_calls("current_time"), builtin_calls("current_time")
        )
        [failed], [later] = answers(first), answers(second)

        assert users_info_calls(slack, "U0FAILING") == 2

    assert failed["timezone"] == "UTC"
    assert "Slack could not be asked" in failed["note"]
    assert later["timezone"] == "Europe/Berlin"


def test_current_time_without_a_slack_client_is_utc() -> None:
    [now] = run_builtins(None, "U0NOCLIENT", builtin_calls("current_time"))

    assert now["timezone"] == "UTC"
    assert "note" in now


def test_who_am_i_gives_name_title_and_time_zone_and_nothing_personal() -> None:
    with FakeSlack() as slack:
        slack.users["U0ADA"] = {
            "tz": "Europe/London",
            "profile": {"display_name": "ada", "real_name": "Ada Lovelace", "title": "Analyst"},
        }

        [me] = run_builtins(slack, "U0ADA", builtin_calls("who_am_i"))

    assert me == {
        "user_id": "U0ADA",
        "name": "ada",
        "real_name": "Ada Lovelace",
        "title": "Analyst",
        "timezone": "Europe/London",
    }


def test_who_am_i_uses_the_real_name_when_there_is_no_display_name() -> None:
    with FakeSlack() as slack:
        slack.users["U0NODISPLAY"] = {"profile": {"display_name": "", "title": ""}}

        [me] = run_builtins(slack, "U0NODISPLAY", builtin_calls("who_am_i"))

    assert me["name"] == me["real_name"] == "Test User U0NODISPLAY"
    assert me["title"] == ""


def test_who_am_i_when_slack_fails_gives_the_id_and_says_why() -> None:
    with FakeSlack() as slack:
        slack.fail_next("users.info", error="user_not_found")

        [me] = run_builtins(slack, "U0GONE", builtin_calls("who_am_i"))

    assert me["user_id"] == "U0GONE"
    assert "could not be asked" in me["note"]


def test_a_turns_calls_share_one_users_info() -> None:
    with FakeSlack() as slack:
        rounds = run_rounds(
            slack, "U0CACHED", builtin_calls("current_time", "who_am_i"), builtin_calls("who_am_i")
        )
        first, again = (answers(r) for r in rounds)

        assert users_info_calls(slack, "U0CACHED") == 1

    assert first[0]["timezone"] == first[1]["timezone"] == "Europe/Berlin"
    assert again == [first[1]]


# the users.info cache (async-lru) --------------------------------------------------------


def test_calls_at_once_while_slack_is_slow_share_one_users_info() -> None:
    with FakeSlack() as slack:
        slack.latency["users.info"] = 0.3
        slack.users["U0SLOW"] = {"tz": "Asia/Tokyo"}
        calls = builtin_calls("current_time", "who_am_i", "current_time", "who_am_i")

        [outputs] = run_rounds(slack, "U0SLOW", calls)

        assert users_info_calls(slack, "U0SLOW") == 1
    assert [a["timezone"] for a in answers(outputs)] == ["Asia/Tokyo"] * 4


def test_a_failed_look_up_shared_at_once_is_not_kept() -> None:
    with FakeSlack() as slack:
        slack.latency["users.info"] = 0.2
        slack.fail_next("users.info", error="internal_error")

        failed, later = run_rounds(
            slack,
            "U0FLAKY",
            builtin_calls("current_time", "who_am_i", "current_time"),
            builtin_calls("who_am_i"),
        )

        assert users_info_calls(slack, "U0FLAKY") == 2
    assert all("could not be asked" in a["note"] for a in answers(failed))
    assert answers(later)[0]["real_name"] == "Test User U0FLAKY"


def test_users_are_asked_again_once_the_cache_time_is_up() -> None:
    with FakeSlack() as slack:
        within = run_rounds(
            slack,
            "U0WITHIN",
            builtin_calls("who_am_i"),
            builtin_calls("who_am_i"),
            pause=USER_CACHE_SECONDS - 1,
        )
        past = run_rounds(
            slack,
            "U0PAST",
            builtin_calls("who_am_i"),
            builtin_calls("who_am_i"),
            pause=USER_CACHE_SECONDS + 1,
        )

        assert users_info_calls(slack, "U0WITHIN") == 1
        assert users_info_calls(slack, "U0PAST") == 2
    assert answers(within[1]) == answers(within[0])
    assert answers(past[1]) == answers(past[0])


def test_a_look_up_cut_off_by_the_timeout_is_not_kept() -> None:
    with FakeSlack() as slack:
        slack.hold_answer_next("users.info", 1.0)

        cut_off, later = run_rounds(
            slack, "U0TIMEOUT", builtin_calls("who_am_i"), builtin_calls("who_am_i"), timeout=0.5
        )

        assert users_info_calls(slack, "U0TIMEOUT") == 2
    assert not cut_off[0].ok
    assert "did not finish within 0.5 s" in cut_off[0].output
    assert answers(later)[0]["real_name"] == "Test User U0TIMEOUT"
