"""The built-in functions against a fake Slack: current_time, who_am_i, their users.info cache."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.functions.calls import ToolCall, ToolOutput, run_calls
from bot.functions.registry import ToolContext, load_functions
from tests.fakes.slack_api import FakeSlack


def builtin_calls(*names: str) -> list[ToolCall]:
    return [ToolCall(f"c{i}", name, "{}") for i, name in enumerate(names)]


def run_builtins(slack: FakeSlack | None, user_id: str, calls: list[ToolCall]) -> list[Any]:
    async def go() -> list[ToolOutput]:
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
        functions = load_functions(
            ["bot.builtin_functions:current_time", "bot.builtin_functions:who_am_i"]
        )
        return await run_calls(functions, calls, context, timeout=10)

    outputs = asyncio.run(go())
    assert all(o.ok for o in outputs), outputs
    return [json.loads(o.output) for o in outputs]


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
        [failed] = run_builtins(slack, "U0FAILING", builtin_calls("current_time"))
        [later] = run_builtins(slack, "U0FAILING", builtin_calls("current_time"))

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
        first = run_builtins(slack, "U0CACHED", builtin_calls("current_time", "who_am_i"))
        again = run_builtins(slack, "U0CACHED", builtin_calls("who_am_i"))

        assert users_info_calls(slack, "U0CACHED") == 1

    assert first[0]["timezone"] == first[1]["timezone"] == "Europe/Berlin"
    assert again == [first[1]]
