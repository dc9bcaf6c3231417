"""Splitting answers for Slack: every part fits a `markdown` block and nothing is lost."""

from __future__ import annotations

import pytest

from bot.slack.render import MAX_PART, fallback_text, split_markdown


def _rejoin(parts: list[str]) -> str:
    """The parts' words, without the fences the splitter added at the seams."""
    words: list[str] = []
    for index, part in enumerate(parts):
        lines = part.split("\n")
        if index > 0 and lines[0].startswith("```") and _closed_at_seam(parts[index - 1]):
            lines = lines[1:]
        if index < len(parts) - 1 and lines[-1] == "```" and _opens_next(parts[index + 1]):
            lines = lines[:-1]
        words.extend(" ".join(lines).split())
    return " ".join(words)


def _closed_at_seam(previous: str) -> bool:
    return previous.endswith("\n```")


def _opens_next(following: str) -> bool:
    return following.startswith("```")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("short answer", ["short answer"]),
        ("\n\nwith blank lines around\n\n", ["with blank lines around"]),
        ("", []),
        ("   \n ", []),
    ],
)
def test_short_texts_stay_whole(text: str, expected: list[str]) -> None:
    assert split_markdown(text) == expected


def test_long_prose_splits_at_paragraphs_and_loses_nothing() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 180 for i in range(100)]
    text = "\n\n".join(paragraphs)
    parts = split_markdown(text)
    assert len(parts) > 1
    assert all(len(part) <= MAX_PART for part in parts)
    assert all(part.startswith("Paragraph") for part in parts)
    assert _rejoin(parts) == " ".join(text.split())


def test_code_fence_is_closed_and_reopened_across_parts() -> None:
    code = "\n".join(f"print({i})  # line {i}" for i in range(2000))
    text = f"Here is the script:\n\n```python\n{code}\n```\n\nThat's all."
    parts = split_markdown(text, limit=4000)
    assert len(parts) > 2
    for part in parts:
        assert len(part) <= 4000
        assert part.count("```") % 2 == 0, "every part has balanced fences"
    assert parts[1].startswith("```python\n")
    assert _rejoin(parts) == " ".join(text.split())


def test_a_single_huge_word_is_cut_hard_but_kept() -> None:
    text = "x" * 25_000
    parts = split_markdown(text)
    assert [len(p) for p in parts] == [MAX_PART - 4, MAX_PART - 4, 25_000 - 2 * (MAX_PART - 4)]
    assert "".join(parts) == text


def test_fallback_text_is_short_and_flat() -> None:
    assert fallback_text("a\n\nb") == "a b"
    long = fallback_text("word " * 500)
    assert len(long) == 300 and long.endswith("…")
