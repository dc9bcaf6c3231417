"""Figures from one run (latencies, overhead, polls, memory, completeness) and the target table."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.fakes import Post
from bench.traffic import Message

MB = 1024 * 1024


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "mean": math.nan, "p50": math.nan, "p99": math.nan, "max": math.nan}
    return {
        "n": len(values),
        "mean": sum(values) / len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values),
    }


@dataclass
class Completeness:
    """Every message answered exactly once, every created response posted exactly once."""

    sent: int = 0
    answered: int = 0
    lost: list[str] = field(default_factory=list)
    in_several_responses: list[str] = field(default_factory=list)
    answered_twice: list[str] = field(default_factory=list)
    responses_created: int = 0
    responses_without_reply: int = 0
    responses_with_several_replies: int = 0
    unmatched_posts: int = 0

    @property
    def lost_count(self) -> int:
        return len(self.lost)

    @property
    def duplicated_count(self) -> int:
        return (
            len(self.in_several_responses)
            + len(self.answered_twice)
            + self.responses_with_several_replies
        )


def answered_texts(posts: list[Post], inputs: dict[str, list[str]]) -> set[str]:
    """Texts whose response has been posted (cheap enough to call while waiting)."""
    done: set[str] = set()
    for post in posts:
        response_id = post.response_id()
        if response_id is not None:
            done.update(inputs.get(response_id, ()))
    return done


def completeness(
    messages: list[Message],
    posts: list[Post],
    inputs: dict[str, list[str]],
    created_inputs: list[list[str]],
) -> Completeness:
    result = Completeness(sent=len(messages), responses_created=len(created_inputs))
    in_created = Counter(text for texts in created_inputs for text in texts)
    result.in_several_responses = sorted(t for t, n in in_created.items() if n > 1)
    posts_per_response = Counter(p.response_id() for p in posts)
    result.unmatched_posts = posts_per_response.pop(None, 0)
    result.responses_with_several_replies = sum(1 for n in posts_per_response.values() if n > 1)
    result.responses_without_reply = max(0, len(created_inputs) - len(posts_per_response))
    answers = Counter(
        text for response_id in posts_per_response for text in inputs.get(str(response_id), ())
    )
    result.answered_twice = sorted(t for t, n in answers.items() if n > 1)
    result.lost = [m.text for m in messages if m.text not in answers]
    result.answered = len(messages) - len(result.lost)
    return result


@dataclass
class TurnTimes:
    """Per replied turn: overhead and where it went (seconds)."""

    overhead: list[float] = field(default_factory=list)
    overhead_at: list[tuple[float, float]] = field(default_factory=list)
    to_start: list[float] = field(default_factory=list)
    detect_lag: list[float] = field(default_factory=list)
    deliver: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)


def turn_times(
    messages: list[Message],
    posts: list[Post],
    inputs: dict[str, list[str]],
    created_at: dict[str, float],
    polled_at: dict[str, list[float]],
    latency: float,
) -> TurnTimes:
    """overhead = reply at fake Slack - newest input message sent - model latency.

    Split as: newest message sent -> response created (to_start); created + latency ->
    the poll that saw it finished (detect_lag); that poll -> reply at Slack (deliver).
    """
    sent = {m.text: m.sent for m in messages}
    first_post: dict[str, float] = {}
    for post in posts:
        response_id = post.response_id()
        if response_id is not None and response_id not in first_post:
            first_post[response_id] = post.at
    times = TurnTimes()
    for response_id, posted in first_post.items():
        texts = [t for t in inputs.get(response_id, ()) if t in sent]
        if not texts:
            continue
        newest = max(sent[t] for t in texts)
        times.overhead.append(posted - newest - latency)
        times.overhead_at.append((newest, posted - newest - latency))
        times.batch_sizes.append(len(texts))
        created = created_at.get(response_id)
        if created is None:
            continue
        ready = created + latency
        seen = [t for t in polled_at.get(response_id, ()) if t >= ready]
        times.to_start.append(created - newest)
        if seen:
            times.detect_lag.append(seen[0] - ready)
            times.deliver.append(posted - seen[0])
    return times


def timeline(
    messages: list[Message], times: TurnTimes, start: float, step: float = 5.0
) -> list[str]:
    """Per `step` seconds of sending: events, ack p50/p99, overhead p50/p99 (replies to them)."""
    acks: dict[int, list[float]] = {}
    for message in messages:
        if message.acked:
            acks.setdefault(int((message.sent - start) // step), []).append(message.ack_seconds)
    overheads: dict[int, list[float]] = {}
    for sent, overhead in times.overhead_at:
        overheads.setdefault(int((sent - start) // step), []).append(overhead)
    lines = [
        f"{'sent during':<14} {'events':>6} {'ack p50':>9} {'ack p99':>9} "
        f"{'ovh p50':>9} {'ovh p99':>9}"
    ]
    for bucket in sorted(acks):
        ack, ovh = summary(acks[bucket]), summary(overheads.get(bucket, []))
        lines.append(
            f"{f'{bucket * step:g}-{(bucket + 1) * step:g} s':<14} {len(acks[bucket]):>6} "
            f"{ms(ack, 'p50'):>7.0f}ms {ms(ack, 'p99'):>7.0f}ms "
            f"{ms(ovh, 'p50'):>7.0f}ms {ms(ovh, 'p99'):>7.0f}ms"
        )
    return lines


@dataclass(frozen=True)
class Row:
    name: str
    value: float
    unit: str
    target: float | None = None

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return not math.isnan(self.value) and self.value <= self.target


def _fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "MB":
        return f"{value:,.1f} MB"
    if unit == "":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    return f"{value:,.2f} {unit}"


def table(rows: list[Row]) -> str:
    lines = [f"{'figure':<34} {'value':>14}   {'target':<12} result", "-" * 70]
    for row in rows:
        target = "" if row.target is None else f"<= {_fmt(row.target, row.unit)}"
        verdict = {None: "", True: "PASS", False: "FAIL"}[row.passed]
        lines.append(f"{row.name:<34} {_fmt(row.value, row.unit):>14}   {target:<12} {verdict}")
    return "\n".join(lines)


def ms(values: dict[str, float], key: str) -> float:
    return values[key] * 1000


def as_json(value: Any) -> Any:
    """NaN-free copy for json.dump."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value
