"""What the model reads of a function's docstring: the description and each parameter's text.

The functions are defined here and loaded by reference, as an assistants file names them.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field

from bot.functions.registry import Function, ToolContext, load_function


def sample(name: str) -> Function:
    return load_function(f"{__name__}:{name}")


def descriptions(function: Function) -> dict[str, Any]:
    return {
        name: prop.get("description") for name, prop in function.parameters["properties"].items()
    }


def google_long(city: str, when: str = "today", tags: dict[str, int] | None = None) -> None:
    """Get the forecast.
    Looks it up. This line still belongs to the first paragraph.

    Only the first paragraph reaches the model.

    Args:
        city:
            The city's name,
            spelt as locals do.
        when: A day, as the user said it.

            Or a date (YYYY-MM-DD).
        tags (dict[str, int], optional): Counts: by tag.

    Returns:
        city: not a parameter, a returned field.

    Raises:
        ValueError: when the city is unknown.

    Example:
        google_long("Oslo")
    """


def sections_right_after_the_summary(order_id: str, context: ToolContext) -> None:
    """Look an order up.
    Args:
        order_id: The order's number.
        context: Who asks (not offered to the model).
    Returns:
        The order.
    """


def rest_style(order_id: str, verbose: bool = False) -> None:
    """Look an order up.

    :param order_id: The order's number,
        as the customer gave it.
    :param verbose: Whether to say more.
    :returns: The order.
    :raises KeyError: for an unknown order.
    """


def numpy_style(order_id: str, verbose: bool = False) -> None:
    """Look an order up.

    Parameters
    ----------
    order_id : str
        The order's number,
        as the customer gave it.
    verbose : bool, optional
        Whether to say more.

    Returns
    -------
    dict
        The order.
    """


def epydoc_style(order_id: str) -> None:
    """Look an order up.

    @param order_id: The order's number.
    @return: The order.
    """


def field_description_wins(
    order_id: Annotated[str, Field(description="From the Field.")], note: str = ""
) -> None:
    """Look an order up.

    Args:
        order_id: From the docstring.
        note: A note.
        gone: A parameter the function no longer has.
    """


def malformed_args(city: str) -> None:
    """Get the forecast.

    Args:
        city: The city.
        a stray line without a colon
    """


def no_docstring(city: str) -> None:
    pass


def test_multi_line_descriptions_become_one_line_and_sections_stay_out() -> None:
    forecast = sample("google_long")

    assert forecast.description == (
        "Get the forecast. Looks it up. This line still belongs to the first paragraph."
    )
    assert descriptions(forecast) == {
        "city": "The city's name, spelt as locals do.",
        "when": "A day, as the user said it. Or a date (YYYY-MM-DD).",
        "tags": "Counts: by tag.",
    }


def test_a_section_right_after_the_summary_is_not_part_of_the_description() -> None:
    # The hand-written parser took "Look an order up. Args: order_id: …" as the description.
    order = sample("sections_right_after_the_summary")

    assert order.description == "Look an order up."
    assert descriptions(order) == {"order_id": "The order's number."}


@pytest.mark.parametrize("name", ["rest_style", "numpy_style"])
def test_rest_and_numpydoc_parameters_are_read_too(name: str) -> None:
    order = sample(name)

    assert order.description == "Look an order up."
    assert descriptions(order) == {
        "order_id": "The order's number, as the customer gave it.",
        "verbose": "Whether to say more.",
    }


def test_epydoc_parameters_are_read_too() -> None:
    order = sample("epydoc_style")

    assert order.description == "Look an order up."
    assert descriptions(order) == {"order_id": "The order's number."}


def test_a_field_description_wins_and_unknown_names_are_ignored() -> None:
    order = sample("field_description_wins")

    assert descriptions(order) == {"order_id": "From the Field.", "note": "A note."}


def test_a_docstring_the_parser_cannot_read_still_gives_the_description() -> None:
    # docstring_parser gives up on the whole Args section (the hand-written parser kept `city`);
    # the function still loads, and the model still gets the description.
    forecast = sample("malformed_args")

    assert forecast.description == "Get the forecast."
    assert descriptions(forecast) == {"city": None}


def test_no_docstring_is_an_empty_description() -> None:
    bare = sample("no_docstring")

    assert bare.description == ""
    assert descriptions(bare) == {"city": None}
