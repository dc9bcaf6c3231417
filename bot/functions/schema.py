"""The JSON schema a function offers the model, built by pydantic from its signature.

Arguments are later validated by the same pydantic model, so what the model is told and what
the bridge checks cannot disagree. Parameter descriptions come from `Field(description=…)` or a
Google-style `Args:` section of the docstring.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, PydanticUserError, TypeAdapter
from pydantic import create_model as create_pydantic_model

from bot.errors import ConfigError

_ARGS_HEADER = re.compile(r"^(\s*)(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


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


def first_paragraph(docstring: str) -> str:
    paragraph = docstring.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def arg_descriptions(docstring: str) -> dict[str, str]:
    """Parameter descriptions from a Google-style `Args:` section (`name (type): text`)."""
    found: dict[str, list[str]] = {}
    lines = docstring.splitlines()
    start = next((i for i, line in enumerate(lines) if _ARGS_HEADER.match(line)), None)
    if start is None:
        return {}
    header_indent = len(lines[start]) - len(lines[start].lstrip())
    entry_indent: int | None = None
    current: list[str] | None = None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= header_indent:
            break
        entry_indent = indent if entry_indent is None else entry_indent
        match = _ARG_LINE.match(line.strip())
        if indent == entry_indent and match:
            current = found.setdefault(match.group(1).lstrip("*"), [])
            current.append(match.group(3).strip())
        elif indent > entry_indent and current is not None:
            current.append(line.strip())
    return {name: " ".join(p for p in parts if p) for name, parts in found.items()}
