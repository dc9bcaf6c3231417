"""Function tools: schemas from signatures and docstrings, loading errors."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.functions.registry import Function, load_function, load_functions

SAMPLES = "tests.bot.functions.sample_functions"


def sample(name: str) -> Function:
    return load_function(f"{SAMPLES}:{name}")


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
