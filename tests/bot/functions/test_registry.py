"""Function tools: schemas from signatures, loading errors, running calls, the built-ins."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ConfigError
from bot.functions.registry import (
    MAX_OUTPUT_CHARS,
    Function,
    ToolCall,
    ToolContext,
    ToolOutput,
    load_function,
    load_functions,
    render_result,
    run_calls,
)
from tests.bot.functions import sample_functions
from tests.fakes.slack_api import FakeSlack

SAMPLES = "tests.bot.functions.sample_functions"
CONTEXT = ToolContext(
    user_id="U0ASKER",
    team_id="T0TEST",
    channel_id="C0CHAN",
    thread_ts="1700000000.000100",
    assistant="tutor",
    slack=None,
)


@pytest.fixture(autouse=True)
def fresh_events() -> Iterator[None]:
    sample_functions.reset()
    yield


def sample(name: str) -> Function:
    return load_function(f"{SAMPLES}:{name}")


def run(
    calls: list[ToolCall],
    *names: str,
    timeout: float = 10.0,
    context: ToolContext = CONTEXT,
) -> list[ToolOutput]:
    functions = load_functions(f"{SAMPLES}:{n}" for n in names)
    return asyncio.run(run_calls(functions, calls, context, timeout=timeout))


def run_one(name: str, arguments: str, *, timeout: float = 10.0) -> ToolOutput:
    [output] = run([ToolCall("call_1", name, arguments)], name, timeout=timeout)
    assert output.call_id == "call_1"
    return output


def error_of(output: ToolOutput) -> str:
    assert not output.ok
    body = json.loads(output.output)
    assert list(body) == ["error"]
    return str(body["error"])


# schemas ---------------------------------------------------------------------------------


def test_schema_comes_from_the_signature_and_the_docstring() -> None:
    weather = sample("get_weather")

    assert (weather.name, weather.ref) == ("get_weather", f"{SAMPLES}:get_weather")
    assert weather.description == "Get the weather forecast for a city."
    assert weather.parameters == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": 'The city\'s name, e.g. "Berlin".'},
            "unit": {
                "type": "string",
                "enum": ["c", "f"],
                "default": "c",
                "description": 'Temperature unit: "c" for Celsius, "f" for Fahrenheit.',
            },
            "days": {"type": "integer", "default": 1, "description": "How many days ahead."},
        },
        "required": ["city"],
        "additionalProperties": False,
    }


def test_tool_definitions_for_both_apis() -> None:
    weather = sample("get_weather")

    assert weather.responses_tool() == {
        "type": "function",
        "name": "get_weather",
        "description": "Get the weather forecast for a city.",
        "parameters": weather.parameters,
        "strict": False,
    }
    assert weather.assistants_tool() == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather forecast for a city.",
            "parameters": weather.parameters,
        },
    }


def test_the_context_parameter_is_left_out_of_the_schema() -> None:
    here = sample("whoami_here")

    assert here.context_parameter == "context"
    assert here.parameters["properties"] == {"greeting": {"type": "string", "default": "hi"}}
    assert "required" not in here.parameters


def test_a_field_description_wins_and_nested_types_keep_their_definitions() -> None:
    distance = sample("distance")

    assert distance.parameters["properties"] == {
        "a": {"$ref": "#/$defs/Point"},
        "b": {"$ref": "#/$defs/Point", "description": "The other point."},
    }
    assert distance.parameters["$defs"]["Point"]["required"] == ["x", "y"]


def test_an_explicit_schema_from_the_decorator_replaces_the_signature() -> None:
    order = sample("explicit_order")

    assert order.name == "lookup_order"
    assert order.description == "Look an order up by its number."
    assert order.parameters == {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    }
    assert order.context_parameter == "context"


def test_an_explicit_schema_from_the_attribute() -> None:
    found = sample("by_attribute")

    assert found.name == "by_attribute"
    assert found.description == "Whatever it was given."
    assert found.parameters == {"type": "object", "properties": {"q": {"type": "integer"}}}


def test_the_decorator_can_rename_and_keep_the_signatures_schema() -> None:
    renamed = sample("renamed_only")

    assert renamed.name == "renamed"
    assert renamed.parameters["properties"] == {"count": {"type": "integer", "default": 2}}


# loading errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("get_weather", "expected the form 'package.module:function'"),
        ("tests.bot.functions.sample_functions.get_weather", "expected the form"),
        (f"{SAMPLES}:", "expected the form"),
        (
            "no_such_package.tools:lookup",
            "cannot import module 'no_such_package.tools': ModuleNotFoundError: "
            "No module named 'no_such_package'",
        ),
        (f"{SAMPLES}:nope", f"'{SAMPLES}' has no 'nope'"),
        (f"{SAMPLES}:NOT_A_FUNCTION", "not a function (it is int)"),
        (f"{SAMPLES}:an_object", "not a function (it is Tool)"),
        (f"{SAMPLES}:callable_parameter", "cannot build a JSON schema: parameter 'then'"),
        (f"{SAMPLES}:positional", "parameter 'x': the model passes arguments by name"),
        (f"{SAMPLES}:unresolved", "NameError: name 'Missing' is not defined"),
    ],
)
def test_load_function_says_what_is_wrong(ref: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_function(ref)

    assert says in str(raised.value)
    assert repr(ref) in str(raised.value)


def test_two_functions_with_one_name_are_refused() -> None:
    with pytest.raises(ConfigError, match="both called 'get_weather'"):
        load_functions([f"{SAMPLES}:get_weather", f"{SAMPLES}:other_weather"])


def test_load_functions_is_keyed_by_the_name_the_model_calls() -> None:
    functions = load_functions([f"{SAMPLES}:explicit_order", f"{SAMPLES}:get_weather"] * 2)

    assert sorted(functions) == ["get_weather", "lookup_order"]


# running calls ---------------------------------------------------------------------------


def test_calls_run_at_once_and_outputs_keep_the_calls_order() -> None:
    # `first` and `second` each wait until the other has started: run one after the
    # other, the first would time out.
    calls = [
        ToolCall("c1", "second", "{}"),
        ToolCall("c2", "get_weather", '{"city": "Oslo"}'),
        ToolCall("c3", "first", ""),
    ]

    outputs = run(calls, "first", "second", "get_weather")

    assert [o.call_id for o in outputs] == ["c1", "c2", "c3"]
    assert [o.ok for o in outputs] == [True, True, True]
    assert outputs[0].output == "second done"
    assert json.loads(outputs[1].output)["city"] == "Oslo"
    assert outputs[2].output == "first done"


def test_an_unknown_function_is_an_error_output() -> None:
    [output] = run([ToolCall("c1", "launch_rockets", "{}")], "get_weather")

    assert error_of(output) == (
        "function 'launch_rockets' is not available (available: get_weather)"
    )


def test_arguments_that_are_not_json_are_an_error_output() -> None:
    message = error_of(run_one("get_weather", '{"city": '))

    assert message.startswith("bad arguments for get_weather: Invalid JSON")


def test_arguments_that_fail_validation_are_an_error_output() -> None:
    message = error_of(run_one("get_weather", '{"unit": "kelvin", "colour": "blue"}'))

    assert message.startswith("bad arguments for get_weather: ")
    assert "city: Field required" in message
    assert "unit: Input should be 'c' or 'f'" in message
    assert "colour: Extra inputs are not permitted" in message
    assert "kelvin" not in message


def test_an_exception_is_an_error_output_and_its_traceback_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.functions")

    output = run_one("explode", '{"reason": "secret-value"}')

    assert error_of(output) == "explode failed: ValueError: cannot do that"
    assert "Traceback" not in output.output
    [record] = [r for r in caplog.records if r.name == "bot.functions"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is not None
    assert "Traceback" in caplog.text
    assert "secret-value" not in caplog.text


def test_a_function_that_never_finishes_times_out() -> None:
    output = run_one("wait_forever", "{}", timeout=0.05)

    assert error_of(output) == "wait_forever did not finish within 0.05 s"


def test_a_timeout_error_of_the_functions_own_is_a_failure_not_a_timeout() -> None:
    output = run_one("raises_timeout_itself", "{}")

    assert error_of(output) == "raises_timeout_itself failed: TimeoutError: upstream was slow"


def test_one_call_failing_does_not_hold_up_the_others() -> None:
    calls = [ToolCall("c1", "wait_forever", "{}"), ToolCall("c2", "renamed", '{"count": 4}')]

    outputs = run(calls, "wait_forever", "renamed_only", timeout=0.05)

    assert [o.ok for o in outputs] == [False, True]
    assert outputs[1].output == "8"


def test_a_sync_function_runs_in_a_worker_thread_with_the_context() -> None:
    output = run_one("thread_name", "")

    assert output.ok
    answer = json.loads(output.output)
    assert answer["user"] == "U0ASKER"
    assert answer["thread"] != "MainThread"


def test_sync_functions_have_threads_of_their_own() -> None:
    output = run_one("thread_name", "")
    assert json.loads(output.output)["thread"].startswith("function")


def test_an_output_too_long_to_send_is_cut_with_a_note() -> None:
    text = "x" * (MAX_OUTPUT_CHARS + 250)
    assert render_result(text) == "x" * MAX_OUTPUT_CHARS + "\n[output cut: 250 more characters]"
    assert render_result("short") == "short"


def test_an_async_function_gets_the_context() -> None:
    output = run_one("whoami_here", '{"greeting": "hello"}')

    assert output == ToolOutput("call_1", "hello U0ASKER in C0CHAN (tutor)", True)


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("renamed", '{"count": 21}', "42"),
        ("returns_none", "{}", "null"),
        ("returns_set", "{}", '["ü"]'),
        ("distance", '{"a": {"x": 0, "y": 0}, "b": {"x": 3, "y": 4}}', "5.0"),
        ("get_weather", '{"city": "Zürich", "unit": "f"}', None),
    ],
)
def test_a_result_that_is_not_a_str_goes_back_as_json(
    name: str, arguments: str, expected: str | None
) -> None:
    names = {"renamed": "renamed_only"}
    [output] = run([ToolCall("call_1", name, arguments)], names.get(name, name))

    assert output.ok
    if expected is not None:
        assert output.output == expected
    else:
        assert output.output == ('{"city": "Zürich", "unit": "f", "days": 1, "temperature": 70}')


def test_an_explicit_schema_takes_any_json_object_the_function_accepts() -> None:
    calls = [
        ToolCall("c1", "lookup_order", '{"order_id": "42"}'),
        ToolCall("c2", "lookup_order", "[1]"),
        ToolCall("c3", "lookup_order", '{"order": "42"}'),
        ToolCall("c4", "by_attribute", '{"q": 1, "anything": true}'),
    ]

    outputs = run(calls, "explicit_order", "by_attribute")

    assert json.loads(outputs[0].output) == {"order_id": "42", "asked_by": "U0ASKER"}
    assert (
        error_of(outputs[1]) == "bad arguments for lookup_order: expected a JSON object, got list"
    )
    assert error_of(outputs[2]).startswith("bad arguments for lookup_order: ")
    assert json.loads(outputs[3].output) == {"q": 1, "anything": True}


# built-ins -------------------------------------------------------------------------------


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
