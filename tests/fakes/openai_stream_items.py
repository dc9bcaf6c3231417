"""The stream events of one output item (message, function call, reasoning, hosted tool), in
the order the real API sends them; shapes from openai/types/responses/response_*_event.py."""

from __future__ import annotations

import copy
import itertools
import re
import secrets
from typing import Any

from tests.fakes.openai_shapes import JsonDict

_WORDS = re.compile(r"\S+\s*|\s+")
WORDS_PER_DELTA = 4
# Hosted tool call item type -> the prefix of its progress events, and those events.
_TOOL_EVENTS = {
    "web_search_call": ("response.web_search_call", ("in_progress", "searching", "completed")),
    "file_search_call": ("response.file_search_call", ("in_progress", "searching", "completed")),
    "code_interpreter_call": (
        "response.code_interpreter_call",
        ("in_progress", "interpreting", "completed"),
    ),
}


def pieces(text: str, count: int | None) -> list[str]:
    """`text` cut into deltas: `count` pieces of about equal length, or a few words each."""
    if not text:
        return []
    if count is None:
        words = _WORDS.findall(text)
        step = WORDS_PER_DELTA
        return ["".join(words[i : i + step]) for i in range(0, len(words), step)]
    count = max(1, count)
    cuts = [round(i * len(text) / count) for i in range(count + 1)]
    return [text[a:b] for a, b in itertools.pairwise(cuts) if b > a]


def item_events(item: JsonDict, index: int, obfuscate: bool, deltas: int | None) -> list[JsonDict]:
    """Every event of `item` at `output_index` `index`, from `output_item.added` to `.done`."""
    kind = item.get("type")
    if kind == "message":
        body = _message(item, index, obfuscate, deltas)
        shell = {**_without(item, "content"), "status": "in_progress", "content": []}
    elif kind == "function_call":
        body = _arguments(item, index, obfuscate)
        shell = {**item, "arguments": "", "status": "in_progress"}
    elif kind == "reasoning":
        body = _summary(item, index, obfuscate, deltas)
        shell = {**item, "summary": []}
    else:
        body = _tool(item, index)
        shell = {**item, "status": "in_progress"}
        for name in ("outputs", "results"):
            if name in shell:
                shell[name] = None
        if kind == "code_interpreter_call":
            shell["code"] = ""
    added = {"type": "response.output_item.added", "output_index": index, "item": shell}
    done = {"type": "response.output_item.done", "output_index": index, "item": item}
    return copy.deepcopy([added, *body, done])


def _message(item: JsonDict, index: int, obfuscate: bool, deltas: int | None) -> list[JsonDict]:
    events: list[JsonDict] = []
    where = {"item_id": item["id"], "output_index": index}
    for content_index, part in enumerate(item.get("content") or []):
        at = {**where, "content_index": content_index}
        text = str(part.get("text") or "")
        empty = {**part, "text": "", "annotations": [], "logprobs": []}
        events.append({"type": "response.content_part.added", **at, "part": empty})
        notes = list(enumerate(part.get("annotations") or []))
        written = 0
        for delta in pieces(text, deltas):
            written += len(delta)
            events.append(_delta("response.output_text.delta", at, delta, obfuscate, True))
            # An annotation is announced once the text it points at has been written.
            while notes and _end_of(notes[0][1]) <= written:
                events.append(_annotation(at, *notes.pop(0)))
        events += [_annotation(at, *note) for note in notes]
        events.append({"type": "response.output_text.done", **at, "text": text, "logprobs": []})
        events.append({"type": "response.content_part.done", **at, "part": part})
    return events


def _arguments(item: JsonDict, index: int, obfuscate: bool) -> list[JsonDict]:
    where = {"item_id": item["id"], "output_index": index}
    arguments = str(item.get("arguments") or "")
    kind = "response.function_call_arguments.delta"
    events = [_delta(kind, where, piece, obfuscate) for piece in pieces(arguments, 3)]
    done = {"type": "response.function_call_arguments.done", **where, "arguments": arguments}
    return [*events, done]


def _summary(item: JsonDict, index: int, obfuscate: bool, deltas: int | None) -> list[JsonDict]:
    events: list[JsonDict] = []
    for summary_index, part in enumerate(item.get("summary") or []):
        at = {"item_id": item["id"], "output_index": index, "summary_index": summary_index}
        text = str(part.get("text") or "")
        empty = {"type": "summary_text", "text": ""}
        events.append({"type": "response.reasoning_summary_part.added", **at, "part": empty})
        kind = "response.reasoning_summary_text.delta"
        events += [_delta(kind, at, piece, obfuscate) for piece in pieces(text, deltas)]
        events.append({"type": "response.reasoning_summary_text.done", **at, "text": text})
        events.append({"type": "response.reasoning_summary_part.done", **at, "part": part})
    return events


def _tool(item: JsonDict, index: int) -> list[JsonDict]:
    prefix, steps = _TOOL_EVENTS.get(str(item.get("type")), ("", ()))
    where = {"item_id": item["id"], "output_index": index}
    events = [{"type": f"{prefix}.{step}", **where} for step in steps]
    code = item.get("code")
    if item.get("type") == "code_interpreter_call" and isinstance(code, str):
        # The code is written (code delta/done) between `in_progress` and `interpreting`.
        kind = "response.code_interpreter_call_code.delta"
        written = [{"type": kind, **where, "delta": piece} for piece in pieces(code, 2)]
        done = {"type": "response.code_interpreter_call_code.done", **where, "code": code}
        events[1:1] = [*written, done]
    return events


def _delta(
    kind: str, where: JsonDict, delta: str, obfuscate: bool, logprobs: bool = False
) -> JsonDict:
    event: JsonDict = {"type": kind, **where, "delta": delta}
    if logprobs:
        event["logprobs"] = []
    if obfuscate:
        # Delta events carry random padding unless `stream_options.include_obfuscation` is
        # false (openai/types/responses/response_create_params.py, StreamOptions).
        event["obfuscation"] = secrets.token_urlsafe(8)[: max(1, 16 - len(delta))]
    return event


def _annotation(at: JsonDict, annotation_index: int, note: Any) -> JsonDict:
    return {
        "type": "response.output_text.annotation.added",
        **at,
        "annotation_index": annotation_index,
        "annotation": note,
    }


def _end_of(note: Any) -> int:
    if isinstance(note, dict):
        value = note.get("end_index", note.get("index", 0))
        return value if isinstance(value, int) else 0
    return 0


def _without(item: JsonDict, key: str) -> JsonDict:
    return {k: v for k, v in item.items() if k != key}
