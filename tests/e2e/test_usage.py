"""Usage on record end to end: each OpenAI response or run of a turn is one row with what the
API reported (streamed and not; a tool round is two; the Assistants API's run is one), and
`assistant-bridge usage` reports it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.bot.cli_helpers import run_cli
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import wait_for
from tests.e2e.replies import posts_in
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback
from tests.fakes.slack_store import TEAM_ID

ASSISTANTS = """\
default = "helper"

[assistants.helper]
model = "gpt-5-mini"
instructions = "Use the tools."
functions = ["tests.e2e.tool_functions:add"]

[assistants.legacy]
id = "asst_usage"
functions = ["tests.e2e.tool_functions:add"]
"""


def usage_rows(db: Engine) -> list[dict[str, Any]]:
    with db.connect() as connection:
        rows = connection.execute(text("SELECT * FROM usage_record ORDER BY id"))
        return [dict(row._mapping) for row in rows]


def rows_for(db: Engine, count: int) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        rows = usage_rows(db)
        return rows if len(rows) >= count else None

    return wait_for(enough, what=f"{count} usage row(s)")


def reported(response: dict[str, Any]) -> tuple[int, int, int, int]:
    usage = response["usage"]
    return (
        usage["input_tokens"],
        usage["input_tokens_details"]["cached_tokens"],
        usage["output_tokens"],
        usage["output_tokens_details"]["reasoning_tokens"],
    )


def counts(row: dict[str, Any]) -> tuple[int, int, int, int]:
    return (
        row["input_tokens"],
        row["cached_tokens"],
        row["output_tokens"],
        row["reasoning_tokens"],
    )


@pytest.fixture
def start(start_bridge: StartBridge, openai: FakeOpenAI, tmp_path: Path) -> StartBridge:
    (tmp_path / "assistants.toml").write_text(ASSISTANTS)
    openai.add_assistant("asst_usage", model="gpt-4o")
    return start_bridge


@pytest.mark.parametrize("streaming", ["off", "on"])
def test_each_response_of_a_turn_is_one_row_as_the_api_reported_it(
    streaming: str, start: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    bridge = start(STREAMING=streaming)
    first = dm_event("U1", "hello there, what is new today")
    bridge.send(event_callback(first))
    [row] = rows_for(db, 1)
    response = openai.response(row["run_id"])
    assert counts(row) == reported(response)
    assert row["input_tokens"] > 0 and row["output_tokens"] > 0
    assert (row["team_id"], row["user_id"], row["channel_id"]) == (TEAM_ID, "U1", first["channel"])
    assert (row["key"], row["assistant"], row["backend"]) == (
        f"user:{TEAM_ID}/U1",
        "helper",
        "responses",
    )
    assert (row["model"], row["tool_calls"]) == ("gpt-5-mini", 0)
    # The row is written with the turn's finish: the next message is a turn of its own.
    bridge.send(event_callback(dm_event("U1", "and tell me more please")))
    _, second = rows_for(db, 2)
    assert counts(second) == reported(openai.response(second["run_id"]))
    assert second["cached_tokens"] > 0, "the conversation so far came from the cache"
    assert second["turn_id"] != row["turn_id"]


def test_a_tool_round_is_two_rows_and_the_command_reports_them(
    start: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine, tmp_path: Path
) -> None:
    bridge = start()
    openai.function_calls_next = [{"name": "add", "arguments": '{"a": 2, "b": 3}'}]
    event = dm_event("U1", "what is 2 + 3?")
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])
    asked, answered = rows_for(db, 2)
    assert (asked["tool_calls"], answered["tool_calls"]) == (1, 0)
    assert asked["turn_id"] == answered["turn_id"] and asked["run_id"] != answered["run_id"]
    for row in (asked, answered):
        assert counts(row) == reported(openai.response(row["run_id"]))

    report = run_cli("usage", env=bridge.env, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    lines = report.stdout.splitlines()
    total = sum(row["input_tokens"] for row in (asked, answered))
    assert lines[2].split()[:3] == ["helper", "2", f"{total:,}"]
    assert lines[-1].split()[:3] == ["total", "2", f"{total:,}"]


def test_an_assistants_api_run_is_one_row_with_its_tool_calls(
    start: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine, tmp_path: Path
) -> None:
    (tmp_path / "assistants.toml").write_text(ASSISTANTS.replace('"helper"', '"legacy"', 1))
    bridge = start()
    openai.function_calls_next = [{"name": "add", "arguments": '{"a": 20, "b": 22}'}]
    event = dm_event("U1", "legacy math")
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])
    [row] = rows_for(db, 1)
    run = openai.run(row["run_id"])
    assert (row["input_tokens"], row["output_tokens"]) == (
        run["usage"]["prompt_tokens"],
        run["usage"]["completion_tokens"],
    )
    assert (row["backend"], row["assistant"], row["model"]) == ("assistants", "legacy", "gpt-4o")
    assert row["tool_calls"] == 1
    assert wait_for(lambda: len(openai.runs_created()) == 1)
    assert usage_rows(db) == [row], "one row for the run, across its tool round"
