"""Thread titles: a short, plain title for an agent-view thread, made from its first message."""

from __future__ import annotations

import html
import re

# agents.sessions.rename takes 1 to 200 characters; a title list reads better much shorter.
MAX_TITLE_CHARS = 200
SHORT_TITLE_CHARS = 60
ELLIPSIS = "…"

# Slack's own markup in message text (docs.slack.dev, "Formatting text for app surfaces"):
# <@U…> / <@U…|name> user mentions, <#C…|name> channels, <!here> and <!subteam^…> specials,
# <https://…|label> and <https://…> links.
_LABELLED_LINK = re.compile(r"<(?:https?|mailto):[^|>]*\|([^>]*)>")
_ANGLE_MARKUP = re.compile(r"<[^>]*>")
_BARE_URL = re.compile(r"\bhttps?://\S+")
_CODE_FENCE = re.compile(r"```")
_LINE_MARKS = re.compile(r"^\s*(?:#{1,6}\s+|>\s?|[-*•]\s+|\d+[.)]\s+)", re.MULTILINE)
_EMPHASIS = re.compile(r"[*~`]+|(?<!\w)_+|_+(?!\w)")
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([,.;:!?)])")


def session_title(text: str) -> str | None:
    """The message as a title: mentions, links and Markdown stripped, whitespace collapsed,
    cut at a word (with "…") to at most SHORT_TITLE_CHARS; None if nothing is left."""
    plain = _LABELLED_LINK.sub(r"\1", text)
    plain = _MARKDOWN_LINK.sub(r"\1", plain)
    plain = _ANGLE_MARKUP.sub(" ", plain)
    plain = _BARE_URL.sub(" ", plain)
    plain = _CODE_FENCE.sub(" ", plain)
    plain = _LINE_MARKS.sub("", plain)
    plain = _EMPHASIS.sub("", plain)
    # Slack escapes &, < and > in message text (&amp; &lt; &gt;).
    plain = _SPACES.sub(" ", html.unescape(plain)).strip()
    plain = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", plain).strip(" ,;:")
    if not plain:
        return None
    return _cut(plain, min(SHORT_TITLE_CHARS, MAX_TITLE_CHARS))


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    head = text[: room + 1]
    at_word = head.rfind(" ")
    # A first word longer than the limit is cut inside it rather than dropped.
    kept = head[:at_word] if at_word > 0 else text[:room]
    return kept.rstrip(" ,;:.-—") + ELLIPSIS
