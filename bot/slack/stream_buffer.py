"""What a streaming answer has written and not sent yet, as Slack stream chunks in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# chat.startStream / appendStream / stopStream: markdown_text is at most 12,000 characters.
MAX_CALL_CHARS = 12_000

Chunk = dict[str, Any]


def task_chunk(
    step_id: str, title: str, status: str, sources: Sequence[tuple[str, str]] = ()
) -> Chunk:
    """A task_update chunk (status pending, in_progress, complete or error); `sources`
    are (url, text) pairs, shown as url source elements."""
    chunk: Chunk = {"type": "task_update", "id": step_id, "title": title, "status": status}
    if sources:
        chunk["sources"] = [{"type": "url", "url": url, "text": text} for url, text in sources]
    return chunk


def text_of(chunks: Sequence[Chunk]) -> str:
    return "".join(c["text"] for c in chunks if c["type"] == "markdown_text")


class ChunkBuffer:
    """Text runs and task cards waiting to be sent. At most `max_chars` of text is ever
    taken in (what one message holds); a card waiting to be sent keeps only its newest
    state."""

    def __init__(self, max_chars: int) -> None:
        self._chunks: list[Chunk] = []
        self._room = max_chars

    def __bool__(self) -> bool:
        return bool(self._chunks)

    def add_text(self, text: str) -> bool:
        """Take in what fits of `text`; whether anything did."""
        piece = text[: max(0, self._room)]
        if not piece:
            return False
        self._room -= len(piece)
        if self._chunks and self._chunks[-1]["type"] == "markdown_text":
            self._chunks[-1]["text"] += piece
        else:
            self._chunks.append({"type": "markdown_text", "text": piece})
        return True

    def add_task(self, chunk: Chunk) -> None:
        self._chunks = [c for c in self._chunks if c.get("id") != chunk["id"]] + [chunk]

    def text_chars(self) -> int:
        return len(text_of(self._chunks))

    def tasks(self) -> list[Chunk]:
        return [c for c in self._chunks if c["type"] == "task_update"]

    def take(self, max_text: int = MAX_CALL_CHARS) -> list[Chunk]:
        """The chunks for one call, in order, with at most `max_text` characters of text."""
        taken: list[Chunk] = []
        room = max_text
        while self._chunks:
            chunk = self._chunks[0]
            if chunk["type"] == "markdown_text":
                if room <= 0:
                    break
                if len(chunk["text"]) > room:
                    taken.append({"type": "markdown_text", "text": chunk["text"][:room]})
                    chunk["text"] = chunk["text"][room:]
                    break
                room -= len(chunk["text"])
            taken.append(self._chunks.pop(0))
        return taken

    def put_back(self, chunks: list[Chunk]) -> None:
        """Chunks a call did not deliver go back in front of what came since: adjacent text
        joined, a card kept only in its newest state."""
        newer = {c["id"] for c in self._chunks if c["type"] == "task_update"}
        merged: list[Chunk] = []
        for chunk in [c for c in chunks if c.get("id") not in newer] + self._chunks:
            if merged and chunk["type"] == merged[-1]["type"] == "markdown_text":
                merged[-1] = {"type": "markdown_text", "text": merged[-1]["text"] + chunk["text"]}
            else:
                merged.append(chunk)
        self._chunks = merged
