"""Function calling end to end: registered functions, parallel calls, errors, the round cap,
and tool rounds that survive a crash — on the Responses and the Assistants backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot import messages
from bot.turns.waiting_for_tools import MAX_TOOL_ROUNDS
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess, wait_for
from tests.e2e.replies import answers, posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI, ReplyContext
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback

FUNCTIONS = "tests.e2e.tool_functions"
ASSISTANTS = f"""\
default = "helper"

[assistants.helper]
model = "gpt-5-mini"
instructions = "Use the tools."
functions = [
  "{FUNCTIONS}:add",
  "{FUNCTIONS}:where_am_i",
  "{FUNCTIONS}:explode",
  "{FUNCTIONS}:count_call",
  "{FUNCTIONS}:wait_for_flag",
  "bot.builtin_functions:current_time",
  "bot.builtin_functions:who_am_i",
]

[assistants.legacy]
id = "asst_tools"
functions = ["{FUNCTIONS}:add"]
"""


def echo_outputs(context: ReplyContext) -> str:
    return "outputs: " + " | ".join(context.tool_outputs)


@pytest.fixture
def tool_log(tmp_path: Path) -> Path:
    return tmp_path / "tool.log"


@pytest.fixture
def start(
    start_bridge: StartBridge, openai: FakeOpenAI, tmp_path: Path, tool_log: Path
) -> StartBridge:
    (tmp_path / "assistants.toml").write_text(ASSISTANTS)
    openai.add_assistant("asst_tools", model="gpt-4o", tools=[{"type": "code_interpreter"}])
    openai.responder = echo_outputs

    def start(**env: str) -> BridgeProcess:
        return start_bridge(TOOL_LOG=str(tool_log), TOOL_FLAG=str(tmp_path / "flag"), **env)

    return start


def outputs_sent(openai: FakeOpenAI) -> list[dict[str, Any]]:
    return [
        item
        for body in openai.responses_created()
        for item in body["input"]
        if isinstance(item, dict) and item.get("type") == "function_call_output"
    ]


def calls_logged(tool_log: Path) -> list[str]:
    return tool_log.read_text().splitlines() if tool_log.exists() else []


def test_a_function_call_round_trip_on_the_responses_api(
    start: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    bridge = start()
    openai.function_calls_next = [{"name": "add", "arguments": '{"a": 2, "b": 3}'}]
    event = dm_event("U1", "what is 2 + 3?")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "outputs: 5"

    first, follow_up = openai.responses_created()
    [add] = [tool for tool in first["tools"] if tool.get("name") == "add"]
    assert add["type"] == "function"
    assert add["parameters"]["properties"]["a"]["type"] == "integer"
    assert add["parameters"]["properties"]["a"]["description"] == "The first number."
    assert add["parameters"]["required"] == ["a", "b"]
    assert follow_up["conversation"] == first["conversation"]
    assert [item["output"] for item in follow_up["input"]] == ["5"]
    assert follow_up["tools"] == first["tools"], "every call offers the functions"


def test_parallel_calls_run_together_and_functions_get_who_asked_and_where(
    start: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    slack.users["U1"] = {"tz": "Asia/Tokyo", "tz_label": "Japan Standard Time"}
    bridge = start()
    openai.function_calls_next = [
        {"name": "add", "arguments": '{"a": 1, "b": 1}', "call_id": "call_add"},
        {"name": "where_am_i", "arguments": "{}", "call_id": "call_where"},
        {"name": "current_time", "arguments": "{}", "call_id": "call_time"},
    ]
    event = dm_event("U1", "several things")
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])

    outputs = {item["call_id"]: item["output"] for item in outputs_sent(openai)}
    assert len(openai.responses_created()) == 2, "all three outputs in one follow-up"
    assert outputs["call_add"] == "2"
    assert json.loads(outputs["call_where"]) == {"user": "U1", "channel": event["channel"]}
    now = json.loads(outputs["call_time"])
    assert now["timezone"] == "Asia/Tokyo"
    assert now["datetime"].endswith("+09:00")


def test_unknown_bad_and_failing_calls_become_error_outputs_and_the_turn_completes(
    start: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    bridge = start()
    openai.function_calls_next = [
        {"name": "delete_everything", "arguments": "{}", "call_id": "call_unknown"},
        {"name": "add", "arguments": '{"a": "two"}', "call_id": "call_bad"},
        {
            "name": "explode",
            "arguments": '{"reason": "expected-traceback"}',
            "call_id": "call_fail",
        },
    ]
    event = dm_event("U1", "try everything")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post).startswith("outputs: ")

    outputs = {item["call_id"]: json.loads(item["output"]) for item in outputs_sent(openai)}
    assert "delete_everything" in outputs["call_unknown"]["error"]
    assert "not available" in outputs["call_unknown"]["error"]
    assert "bad arguments for add" in outputs["call_bad"]["error"]
    # The model reads one line; the operator's log gets the function's traceback.
    assert outputs["call_fail"] == {
        "error": "explode failed: RuntimeError: boom: expected-traceback"
    }
    assert 'raise RuntimeError(f"boom: {reason}")' in bridge.log()


def test_a_function_call_round_trip_on_the_assistants_api(
    start: StartBridge, slack: FakeSlack, openai: FakeOpenAI, tmp_path: Path
) -> None:
    use_legacy(tmp_path)
    bridge = start()
    openai.function_calls_next = [{"name": "add", "arguments": '{"a": 20, "b": 22}'}]
    event = dm_event("U1", "legacy math")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "outputs: 42"

    [run] = openai.runs_created()
    types = [tool["type"] for tool in run["tools"]]
    assert types == ["code_interpreter", "function"], "the assistant's own tools are kept"
    assert run["tools"][1]["function"]["name"] == "add"
    [submitted] = openai.calls("POST", r"/runs/[^/]+/submit_tool_outputs$")
    assert [o["output"] for o in submitted.json["tool_outputs"]] == ["42"]


def test_a_crash_after_sending_tool_outputs_neither_reruns_the_function_nor_resends(
    start: StartBridge, slack: FakeSlack, openai: FakeOpenAI, tool_log: Path
) -> None:
    first = start()
    openai.function_calls_next = [{"name": "count_call", "arguments": '{"tag": "once"}'}]
    event = dm_event("U1", "count once")
    first.send(event_callback(event))
    openai.wait_for(lambda: openai.responses_created())
    # The follow-up create (carrying the output) takes effect, but its answer never arrives.
    openai.hold_answer_next("POST", r"^/v1/responses$", seconds=30)
    openai.wait_for(lambda: len(openai.responses_created()) == 2)
    first.kill()

    second = start()
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "outputs: counted once"
    assert len(openai.responses_created()) == 2, "found in the conversation, not sent again"
    assert len(calls_logged(tool_log)) == 1, "the function ran once"
    second.stop()


def use_legacy(tmp_path: Path, functions: str = "add") -> None:
    """Make the Assistants API assistant (`asst_tools`) the default, offering `functions`."""
    text = ASSISTANTS.replace('"helper"', '"legacy"', 1).replace(
        f'functions = ["{FUNCTIONS}:add"]', f'functions = ["{FUNCTIONS}:{functions}"]'
    )
    (tmp_path / "assistants.toml").write_text(text)


@pytest.mark.parametrize("api", ["responses", "assistants"])
def test_the_tool_round_cap_ends_a_runaway_loop_with_a_notice_and_the_conversation_goes_on(
    api: str, start: StartBridge, slack: FakeSlack, openai: FakeOpenAI, tmp_path: Path
) -> None:
    if api == "assistants":
        use_legacy(tmp_path)
    bridge = start()
    openai.function_calls_forever = [{"name": "add", "arguments": '{"a": 1, "b": 2}'}]
    event = dm_event("U1", "loop forever")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == messages.TOO_MANY_TOOL_ROUNDS.format(rounds=MAX_TOOL_ROUNDS)
    assert "more than 8 tool rounds" in bridge.log()
    if api == "responses":
        assert len(openai.responses_created()) == 1 + MAX_TOOL_ROUNDS
    else:
        submits = openai.calls("POST", r"/runs/[^/]+/submit_tool_outputs$")
        assert len(submits) == MAX_TOOL_ROUNDS
        assert len(openai.calls("POST", r"/runs/[^/]+/cancel$")) == 1, "the thread is unlocked"

    # The calls left open were closed, so the next question is answered normally.
    openai.function_calls_forever = None
    again = dm_event("U1", "plain question")
    bridge.send(event_callback(again))
    assert reply_text(posts_in(slack, event["channel"], 2)[1]).startswith("outputs:")


@pytest.mark.parametrize("api", ["responses", "assistants"])
def test_a_restart_while_a_function_runs_still_answers_once(
    api: str,
    start: StartBridge,
    slack: FakeSlack,
    openai: FakeOpenAI,
    tmp_path: Path,
    tool_log: Path,
) -> None:
    if api == "assistants":
        use_legacy(tmp_path, "wait_for_flag")
    first = start()
    openai.function_calls_next = [{"name": "wait_for_flag", "arguments": '{"tag": "x"}'}]
    event = dm_event("U1", "slow tool")
    first.send(event_callback(event))
    wait_for(lambda: calls_logged(tool_log), what="the function to start")
    first.kill()  # the run waits for an output the dead process never sent
    (tmp_path / "flag").touch()

    second = start()
    [post] = posts_in(slack, event["channel"])
    assert reply_text(post) == "outputs: released x"
    if api == "responses":
        assert len(outputs_sent(openai)) == 1, "the outputs reached OpenAI once"
    else:
        assert len(openai.calls("POST", r"/runs/[^/]+/submit_tool_outputs$")) == 1
        assert len(openai.runs_created()) == 1
    assert len(calls_logged(tool_log)) == 2, "the interrupted call ran again after the restart"
    assert len(answers(slack, event["channel"])) == 1
    second.stop()


def test_a_streamed_turn_shows_its_function_call_as_a_task_card_and_ends_with_the_answer(
    start: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    bridge = start(STREAMING="on")
    openai.function_calls_next = [{"name": "add", "arguments": '{"a": 2, "b": 3}'}]
    event = dm_event("U1", "what is 2 + 3, streamed?")
    bridge.send(event_callback(event))

    def ended() -> list[Any]:
        streams = slack.streams(event["channel"])
        return streams if streams and streams[0].state != "streaming" else []

    [stream] = slack.wait_for(ended, timeout=15)
    assert slack.visible_text(event["channel"], stream.ts) == "outputs: 5"
    cards = list(stream.tasks.values())
    assert [(card["title"], card["status"]) for card in cards] == [("Calling add", "complete")]
    assert answers(slack, event["channel"]) == []
    assert [item["output"] for item in outputs_sent(openai)] == ["5"]
