"""The JSON schema a function offers the model, built by pydantic from its signature.

Arguments are later validated by the same pydantic model, so what the model is told and what
the bridge checks cannot disagree. Parameter descriptions come from `Field(description=…)` or the
docstring (Google `Args:`, reST `:param x:`, numpydoc `Parameters`, epydoc `@param x:`), which
docstring_parser reads.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any

import docstring_parser
from pydantic import BaseModel, ConfigDict, PydanticUserError, TypeAdapter
from pydantic import create_model as create_pydantic_model

from bot.errors import ConfigError

log = logging.getLogger("bot.functions")


@dataclass(frozen=True)
class DocstringText:
    """What the model reads of a docstring: the description and each parameter's."""

    description: str
    parameters: dict[str, str]


def arguments_model(
    ref: str,
    name: str,
    signature: inspect.Signature,
    hints: dict[str, Any],
    skip: set[str],
) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.name in skip or parameter.kind is parameter.VAR_KEYWORD:
            continue
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.VAR_POSITIONAL):
            raise ConfigError(
                f"function {ref!r}: parameter {parameter.name!r}: the model passes arguments "
                "by name, so positional-only and *args parameters cannot be offered"
            )
        if parameter.name.startswith("_"):
            raise ConfigError(
                f"function {ref!r}: parameter {parameter.name!r}: names starting with _ "
                "cannot be offered"
            )
        hint = hints.get(parameter.name, Any)
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (hint, default)
    try:
        model: type[BaseModel] = create_pydantic_model(
            f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
        model.model_json_schema()
        return model
    except (PydanticUserError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"function {ref!r}: cannot build a JSON schema: {_culprit(fields) or exc}"
        ) from None


def _culprit(fields: dict[str, Any]) -> str | None:
    """Which parameter's type pydantic cannot turn into a JSON schema."""
    for parameter, (hint, _default) in fields.items():
        try:
            TypeAdapter(hint).json_schema()
        except (PydanticUserError, TypeError, ValueError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"parameter {parameter!r} ({hint!r}): {first_line}"
    return None


def clean_schema(schema: dict[str, Any], described: dict[str, str]) -> dict[str, Any]:
    """Drop pydantic's titles ("Arguments", "City"), noise the model pays tokens for; add the
    docstring's descriptions where `Field(description=…)` gave none."""
    schema.pop("title", None)
    for name, prop in schema.get("properties", {}).items():
        prop.pop("title", None)
        if name in described and "description" not in prop:
            prop["description"] = described[name]
    return schema


def read_docstring(ref: str, docstring: str) -> DocstringText:
    """The first paragraph before any section (`Args:`, `Returns:`, `:param …:`, …) as the
    description, and each parameter's text as one line. docstring_parser tries every style
    and keeps the reading that found the most; one it cannot read gives no parameter texts."""
    try:
        parsed = docstring_parser.parse(docstring)
    except docstring_parser.ParseError as exc:
        log.warning(
            "function %r: docstring not understood (%s); no parameter descriptions", ref, exc
        )
        return DocstringText(_first_paragraph(docstring), {})
    parameters = {
        p.arg_name.lstrip("*"): _one_line(p.description) for p in parsed.params if p.description
    }
    return DocstringText(_first_paragraph(parsed.description or ""), parameters)


def _first_paragraph(text: str) -> str:
    return _one_line(text.strip().split("\n\n", 1)[0])


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())
