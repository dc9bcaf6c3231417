"""Render an assistant's answer for Slack: `markdown` blocks, split so nothing is cut.

A `markdown` block takes standard Markdown up to 12,000 characters, and the blocks of one
message fail near 13,000 in all, so each Slack message carries one block of at most
`MAX_PART` characters. Slack renders the Markdown itself: no conversion on our side.
"""

from __future__ import annotations

from typing import Any

MAX_PART = 11_000
# `text` is only the notification / fallback when blocks are shown; keep it short.
FALLBACK_CHARS = 300


def split_markdown(markdown: str, limit: int = MAX_PART) -> list[str]:
    """Split at paragraph, then line, then word boundaries; keep code fences balanced.

    Joining the parts (with the fences this adds removed) gives back the whole text.
    """
    text = markdown.strip("\n")
    if not text.strip():
        return []
    parts: list[str] = []
    fence = ""  # the fence line (e.g. "```python") open at the start of the next part
    while text:
        prefix = f"{fence}\n" if fence else ""
        room = limit - len(prefix) - 4  # room for a closing "\n```"
        if len(prefix) + len(text) <= limit:
            parts.append(prefix + text)
            break
        cut = _cut_point(text, room)
        chunk, text = text[:cut], text[cut:]
        body = prefix + chunk.rstrip("\n")
        fence = _open_fence(body)
        if fence:
            body += "\n```"
        parts.append(body)
        text = text.lstrip("\n") if not fence else text.removeprefix("\n")
    return parts


def _cut_point(text: str, room: int) -> int:
    window = text[:room]
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at > room // 2:
            return at + len(separator)
    return room


def _open_fence(part: str) -> str:
    """The opening fence line left unclosed at the end of `part`, or ""."""
    open_line = ""
    for line in part.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            open_line = "" if open_line else stripped
    return open_line


def fallback_text(markdown: str) -> str:
    flat = " ".join(markdown.split())
    return flat if len(flat) <= FALLBACK_CHARS else flat[: FALLBACK_CHARS - 1] + "…"


def markdown_blocks(markdown: str) -> list[dict[str, Any]]:
    return [{"type": "markdown", "text": markdown}]
