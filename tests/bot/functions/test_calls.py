"""Running the calls the model asks for: all at once, in order, every failure an error output."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest

from bot.functions.calls import MAX_OUTPUT_CHARS, ToolCall, ToolOutput, render_result, run_calls
from bot.functions.registry import ToolContext, load_functions
from tests.bot.functions import sample_functions

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
