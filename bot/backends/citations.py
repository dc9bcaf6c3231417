"""An assistant's answer made ready for Slack: citations numbered, generated files listed.

Both APIs mark up their text with annotations whose offsets point into one text part.
In Slack, a citation becomes " [n]" with a numbered **Sources** list at the end (a
`markdown` block renders standard Markdown: bold, ordered lists and links do, `[^1]`
footnotes may not), and a `sandbox:/mnt/data/…` link, dead outside OpenAI, becomes
"NAME (attached)" next to the file uploaded with the answer.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True)
class GeneratedFile:
    """A file the assistant made (code interpreter), to upload to Slack with the answer."""

    file_id: str
    filename: str
    # Responses code interpreter: /containers/{id}/files/{file_id}/content, for ~20 minutes.
    # None: /files/{file_id}/content (Assistants).
    container_id: str | None = None
    # An Agents API session artifact (`file_id` is the artifact's id): its session.
    session_id: str | None = None


@dataclass(frozen=True)
class Answer:
    """What goes to Slack: the text, and the files to upload next to it."""

    text: str  # Markdown for Slack
    files: tuple[GeneratedFile, ...]  # by file_id, once each, in order of appearance


def from_response_output(output: Sequence[Mapping[str, Any]]) -> Answer:
    """The answer in a Responses `output` list (`response.model_dump()["output"]`)."""
    book = _Book()
    texts: list[str] = []
    for item in output:
        if item.get("type") != "message" or item.get("role", "assistant") != "assistant":
            continue
        for part in _dicts(item.get("content")):
            if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                texts.append(_apply(part["text"], _response_edits(part, book)))
    return book.answer(texts)


def cited_file_ids(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    """Assistants: the files cited, to look their names up (files.retrieve) beforehand."""
    ids: dict[str, None] = {}
    for part in _assistant_text_parts(messages):
        for note in _dicts(part.get("annotations")):
            file_id = _dict(note.get("file_citation")).get("file_id")
            if note.get("type") == "file_citation" and isinstance(file_id, str):
                ids[file_id] = None
    return list(ids)


def from_assistant_messages(
    messages: Sequence[Mapping[str, Any]], *, filenames: Mapping[str, str]
) -> Answer:
    """The answer in Assistants message objects (in order; only the assistant's count)."""
    book = _Book()
    texts: list[str] = []
    for message in messages:
        if message.get("role") != "assistant":
            continue
        for part in _dicts(message.get("content")):
            image_id = _dict(part.get("image_file")).get("file_id")
            if part.get("type") == "image_file" and isinstance(image_id, str):
                book.add_file(GeneratedFile(image_id, f"{image_id}.png"))
            elif part.get("type") == "text":
                value = _dict(part.get("text")).get("value")
                if isinstance(value, str):
                    edits = _assistant_edits(_dict(part["text"]), value, filenames, book)
                    texts.append(_apply(value, edits))
    return book.answer(texts)


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int  # == start: an insertion
    replacement: str
    number: int | None = None  # the citation number it shows, to drop repeats


@dataclass
class _Book:
    """Numbers sources and collects files across all parts of one answer."""

    sources: dict[str, str] = field(default_factory=dict)  # key -> footnote, numbered in order
    files: dict[str, GeneratedFile] = field(default_factory=dict)

    def number(self, key: str, footnote: str) -> int:
        self.sources.setdefault(key, footnote)
        return list(self.sources).index(key) + 1

    def add_file(self, file: GeneratedFile) -> None:
        self.files.setdefault(file.file_id, file)

    def answer(self, texts: list[str]) -> Answer:
        names = {file.filename for file in self.files.values()}
        text = _SANDBOX.sub(lambda m: _sandbox_name(m, names), "\n\n".join(texts))
        if self.sources:
            lines = [f"{n}. {note}" for n, note in enumerate(self.sources.values(), start=1)]
            text = text.rstrip() + "\n\n**Sources**\n" + "\n".join(lines)
        return Answer(text, tuple(self.files.values()))


def _response_edits(part: Mapping[str, Any], book: _Book) -> list[_Edit]:
    text: str = part["text"]
    edits: list[_Edit] = []
    for note in sorted(_dicts(part.get("annotations")), key=_position):
        kind, file_id = note.get("type"), note.get("file_id")
        if kind == "file_citation" and isinstance(file_id, str):
            at = _index(note.get("index"), text)
            footnote = str(note.get("filename") or file_id)
            edits.append(_marker(text, at, at, book.number(f"file:{file_id}", footnote)))
        elif kind == "url_citation" and isinstance(note.get("url"), str):
            at = _index(note.get("end_index"), text)
            edits.append(_marker(text, at, at, book.number(f"url:{note['url']}", _link(note))))
        elif kind == "container_file_citation" and isinstance(file_id, str):
            name, container = str(note.get("filename") or file_id), note.get("container_id")
            book.add_file(GeneratedFile(file_id, name, str(container) if container else None))
            start, end = _link_around(
                text, _index(note.get("start_index"), text), _index(note.get("end_index"), text)
            )
            if "sandbox:" in text[start:end]:
                edits.append(_Edit(start, end, f"{name} (attached)"))
    return edits


def _assistant_edits(
    part: Mapping[str, Any], text: str, filenames: Mapping[str, str], book: _Book
) -> list[_Edit]:
    """`part` is a text part's `text` object: {value, annotations}."""
    edits: list[_Edit] = []
    for note in sorted(_dicts(part.get("annotations")), key=_position):
        span = _span(note, text)
        kind = note.get("type")
        file_id = _dict(note.get(str(kind))).get("file_id")
        if span is None or not isinstance(file_id, str):
            continue
        start, end = span
        if kind == "file_citation":
            number = book.number(f"file:{file_id}", filenames.get(file_id, file_id))
            edits.append(_marker(text, start, end, number))
        elif kind == "file_path":
            name = posixpath.basename(unquote(str(note.get("text") or ""))) or file_id
            book.add_file(GeneratedFile(file_id, name))
            start, end = _link_around(text, start, end)
            edits.append(_Edit(start, end, f"{name} (attached)"))
    return edits


def _apply(text: str, edits: list[_Edit]) -> str:
    """Apply edits by their offsets in the original text; an edit overlapping one already
    applied is dropped, and so is a marker repeating the one just before it."""
    pieces: list[str] = []
    cursor, last = 0, None
    for edit in sorted(edits, key=lambda e: (e.start, e.end != e.start)):
        if edit.start < cursor:
            continue
        pieces.append(text[cursor : edit.start])
        repeat = last is not None and last.number == edit.number and last.end == edit.start
        if not (repeat and edit.number is not None):
            pieces.append(edit.replacement)
            last = edit
        cursor = edit.end
    return "".join(pieces) + text[cursor:]


def _marker(text: str, start: int, end: int, number: int) -> _Edit:
    """The marker " [n]" after a word, or "[n] " before one (a citation put after a space)."""
    if start > 0 and not text[start - 1].isspace():
        return _Edit(start, end, f" [{number}]", number)
    after = " " if end < len(text) and not text[end].isspace() else ""
    return _Edit(start, end, f"[{number}]{after}", number)


def _link(note: Mapping[str, Any]) -> str:
    """A Markdown link safe to print: brackets out of the title, no bare parens in the URL."""
    url = str(note["url"])
    title = " ".join(str(note.get("title") or url).split())
    title = title.replace("[", "(").replace("]", ")")
    target = url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{title}]({target})"


# A Markdown link or image to a code-interpreter file, or such a path left bare.
_SANDBOX = re.compile(
    r"!?\[[^\]\n]*\]\(sandbox:(/mnt/data/[^)\s]*)\)|sandbox:(/mnt/data/[^\s)\]]*[^\s)\].,;:!?])"
)


def _sandbox_name(match: re.Match[str], attached: set[str]) -> str:
    name = posixpath.basename(unquote(match.group(1) or match.group(2)))
    return f"{name} (attached)" if name in attached else name


def _link_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The whole `[label](…)` or `![label](…)` around the target text[start:end], else the span."""
    if text[start:end].startswith(("[", "!")) and text[start:end].endswith(")"):
        return start, end
    if text[max(start - 2, 0) : start] != "](" or text[end : end + 1] != ")":
        return start, end
    opening = text.rfind("[", 0, start - 2)
    if opening < 0 or "\n" in text[opening:start]:
        return start, end
    if opening > 0 and text[opening - 1] == "!":
        opening -= 1
    return opening, end + 1


def _span(note: Mapping[str, Any], text: str) -> tuple[int, int] | None:
    """Where the annotation's `text` is: at its offsets, or else its first occurrence."""
    marker = note.get("text")
    start, end = note.get("start_index"), note.get("end_index")
    if (
        isinstance(start, int)
        and isinstance(end, int)
        and 0 <= start <= end <= len(text)
        and (not isinstance(marker, str) or text[start:end] == marker)
    ):
        return start, end
    if isinstance(marker, str) and marker and marker in text:
        found = text.index(marker)
        return found, found + len(marker)
    return None


def _position(note: Mapping[str, Any]) -> int:
    for key in ("index", "start_index"):
        if isinstance(note.get(key), int):
            return int(note[key])
    return 0


def _index(value: Any, text: str) -> int:
    return min(max(value, 0), len(text)) if isinstance(value, int) else len(text)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _assistant_text_parts(messages: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [
        _dict(part.get("text"))
        for message in messages
        if message.get("role") == "assistant"
        for part in _dicts(message.get("content"))
        if part.get("type") == "text"
    ]
