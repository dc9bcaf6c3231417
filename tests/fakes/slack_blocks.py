"""Decoding and validating message params (blocks, metadata, text) the way Slack does."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from tests.fakes.slack_store import SlackError

JSON_PARAMS = ("blocks", "attachments", "metadata", "files", "users")
MAX_BLOCKS = 50
MAX_TEXT = 40_000  # Slack truncates longer `text`
MAX_MARKDOWN = 12_000  # per markdown block and summed over a message's markdown blocks
MAX_SECTION_TEXT = 3_000
MAX_HEADER_TEXT = 150


def decode_params(params: dict[str, Any]) -> dict[str, Any]:
    """Params with JSON-encoded form values (blocks, metadata, files…) parsed to objects."""
    decoded = dict(params)
    for key in JSON_PARAMS:
        value = decoded.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            # An undecodable value stays a string; the method answers *_format errors.
            with contextlib.suppress(ValueError):
                decoded[key] = json.loads(value)
    return decoded


def _invalid(message: str) -> SlackError:
    return SlackError("invalid_blocks", response_metadata={"messages": [f"[ERROR] {message}"]})


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return obj if isinstance(obj, str) else ""


def validate_blocks(blocks: Any) -> list[Any] | None:
    """The blocks to store, or SlackError("invalid_blocks"/"invalid_blocks_format")."""
    if blocks is None or blocks == "":
        return None
    if isinstance(blocks, str) or not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if len(blocks) > MAX_BLOCKS:
        raise _invalid(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    markdown_total = 0
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _invalid(f"missing required field: type [json-pointer:/blocks/{index}]")
        kind, text = block["type"], _text_of(block.get("text"))
        if kind == "markdown":
            markdown_total += len(text)
            if len(text) > MAX_MARKDOWN or markdown_total > MAX_MARKDOWN:
                raise _invalid(
                    f"must be less than {MAX_MARKDOWN + 1} characters "
                    f"[json-pointer:/blocks/{index}/text]"
                )
        elif kind == "section" and len(text) > MAX_SECTION_TEXT:
            raise _invalid(
                f"must be less than {MAX_SECTION_TEXT + 1} characters "
                f"[json-pointer:/blocks/{index}/text/text]"
            )
        elif kind == "header" and len(text) > MAX_HEADER_TEXT:
            raise _invalid(
                f"must be less than {MAX_HEADER_TEXT + 1} characters "
                f"[json-pointer:/blocks/{index}/text/text]"
            )
    return blocks


def validate_metadata(metadata: Any) -> dict[str, Any] | None:
    if metadata is None or metadata == "":
        return None
    if isinstance(metadata, str):
        raise SlackError("invalid_metadata_format")
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise SlackError("invalid_metadata_schema")
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}


def message_text(params: dict[str, Any], blocks: list[Any] | None) -> str:
    text = params.get("text")
    has_attachments = bool(params.get("attachments"))
    if (text is None or text == "") and blocks is None and not has_attachments:
        raise SlackError("no_text")
    return str(text or "")[:MAX_TEXT]


def is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))
