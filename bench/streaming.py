"""The streaming mode's figures: how soon a streamed answer's first and last text reached
Slack after the model wrote them, and what streaming cost in Slack calls."""

from __future__ import annotations

from collections import Counter

from bench.fakes import Post
from bench.report import Row, ms, summary

# Issue 12's targets for streamed answers (in bench/, never in timed tests).
FIRST_TEXT_P99_MS = 250.0
FINAL_TEXT_P99_MS = 250.0
STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream", "chat.update")


def stream_rows(
    *,
    stream_starts: dict[str, float],
    created_at: dict[str, float],
    posts: list[Post],
    first_token: float,
    latency: float,
    polls: Counter[str],
    slack_calls: Counter[str],
    measured: set[str],
) -> list[Row]:
    """first text visible - the model's first token; final text visible - its last token
    (the response's creation + `first_token`, + `latency`); Slack calls per answer; status
    polls of streamed turns (none while their streams are healthy)."""
    posted: dict[str, float] = {}
    for post in posts:
        response_id = post.response_id()
        if response_id is not None and response_id not in posted:
            posted[response_id] = post.at
    streamed = [rid for rid in stream_starts if rid in measured and rid in created_at]
    first = summary([stream_starts[rid] - created_at[rid] - first_token for rid in streamed])
    final = summary([posted[rid] - created_at[rid] - latency for rid in streamed if rid in posted])
    answered = len([rid for rid in posted if rid in measured]) or 1
    every_answer = len(posted) or 1  # the calls counted include the warm-up's
    stream_polls = summary([float(polls.get(rid, 0)) for rid in streamed])
    rows = [
        Row("answers streamed", len(streamed), ""),
        Row("answers posted when done (no stream)", answered - len(streamed), ""),
        Row("first text visible after first token p50", ms(first, "p50"), "ms"),
        Row(
            "first text visible after first token p99",
            ms(first, "p99"),
            "ms",
            FIRST_TEXT_P99_MS,
        ),
        Row("final text visible after last token p50", ms(final, "p50"), "ms"),
        Row(
            "final text visible after last token p99",
            ms(final, "p99"),
            "ms",
            FINAL_TEXT_P99_MS,
        ),
        Row("status polls per streamed turn mean", stream_polls["mean"], ""),
    ]
    for method in (*STREAM_METHODS, "chat.postMessage"):
        rows.append(Row(f"  {method} per answer", slack_calls.get(method, 0) / every_answer, ""))
    return rows
