"""One benchmark run: fakes, the bridge, the load, the wait for replies, then the figures."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.database import run_database
from bench.fakes import POLL_PATH, TimedOpenAI, TimedSlack
from bench.monitor import ProcessSampler, own_cpu_seconds
from bench.report import (
    MB,
    Row,
    answered_texts,
    as_json,
    completeness,
    ms,
    summary,
    table,
    timeline,
    turn_times,
)
from bench.streaming import stream_rows
from bench.traffic import Message, build_messages, send_all
from tests.e2e.harness import BridgeProcess, base_env

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "ack_p99_ms": 50.0,
    "overhead_p50_ms": 150.0,
    "overhead_p99_ms": 500.0,
    "polls_mean": 6.0,
    "peak_rss_mb": 200.0,
    "peak_rss_stream_mb": 250.0,
}
QUICK = {"users": 30, "rate": 10.0, "duration": 5.0}
# --stream: the model's first token comes this long after the response is created.
STREAM_FIRST_TOKEN = 0.5
FULL = {"users": 300, "rate": 100.0, "duration": 30.0}
# OpenAI ids in request paths, blanked when the calls are counted by route.
IDS_IN_PATH = r"/(resp|conv|sess|turn|agent)_[0-9a-f]+"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/load.py",
        description="Load the real bridge with signed Slack DMs against local fake Slack and "
        "OpenAI servers; print ack latency, overhead, polls per turn and memory against targets.",
    )
    parser.add_argument("--users", type=int, help="distinct DM users (default 300)")
    parser.add_argument("--rate", type=float, help="events per second in total (default 100)")
    parser.add_argument("--duration", type=float, help="seconds of sending (default 30)")
    parser.add_argument("--latency", type=float, default=2.0, help="model latency, s (2.0)")
    parser.add_argument(
        "--api-latency",
        type=float,
        default=0.0,
        help="seconds each Slack and OpenAI API call takes to answer (0; try 0.1 for the "
        "network and the APIs' own time: the overhead then includes it)",
    )
    parser.add_argument("--database-url", help="PostgreSQL URL (a fresh schema is used)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="30 users, 10/s, 5 s")
    parser.add_argument(
        "--warmup", type=int, default=3, help="DMs answered before measuring (default 3)"
    )
    parser.add_argument("--keep-log", type=Path, help="copy the bridge's log to this file")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="STREAMING=on: the model waits 0.5 s, then streams its answer over the rest of "
        "--latency; adds first/final text latencies and Slack calls per answer",
    )
    parser.add_argument(
        "--append-limit",
        type=int,
        help="with --stream: the fake Slack answers chat.appendStream 429 past this many "
        "calls a minute in the workspace (Slack's Tier 4 is 100+)",
    )
    parser.add_argument(
        "--agents",
        action="store_true",
        help="every conversation on an Agents API agent (the default assistant is a saved "
        "agent): a session created on a conversation's first turn, turns polled (with "
        "--stream, read from the session's event stream)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="a cold burst, as users meet it after each deploy: no warm-up, and every DM from "
        "a new user (a new conversation; the fresh process has no poll history)",
    )
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.cold:
        args.warmup = 0
        args.users = round(args.rate * args.duration)
    if args.users < 1 or args.rate <= 0 or args.duration <= 0:
        parser.error("--users, --rate and --duration must be positive")
    if args.latency < 0 or args.api_latency < 0:
        parser.error("--latency and --api-latency must not be negative")
    return args


def mode_of(args: argparse.Namespace) -> str:
    """The run's mode, for the header: " (cold burst)", " (streaming, appends ≤ N/min)"."""
    modes = ["cold burst"] if args.cold else []
    if args.stream:
        modes.append("streaming")
    if args.append_limit:
        modes.append(f"appends ≤ {args.append_limit}/min")
    return f" ({', '.join(modes)})" if modes else ""


def backend_of(args: argparse.Namespace) -> str:
    """The report's line naming the OpenAI API the conversations are on, and how it is read."""
    read = "streamed" if args.stream else "polled"
    if not args.agents:
        return f"backend: Responses API (a conversation per DM, background responses {read})"
    read = "read from the session's event stream" if args.stream else "polled"
    return f"backend: Agents API (--agents: a saved agent, a session per DM, turns {read})"


def agents_file(agent_id: str) -> str:
    """The assistants file that puts every conversation on the saved agent `agent_id`."""
    return f'default = "worker"\n\n[assistants.worker]\nagent = "{agent_id}"\n'


def code_fingerprint() -> str:
    """Hash of the bridge's sources (bot/, storage/, handlers/) and their newest change."""
    digest = hashlib.sha256()
    newest = 0.0
    for path in sorted(p for d in ("bot", "storage", "handlers") for p in (ROOT / d).rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    changed = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"sha256 {digest.hexdigest()[:12]}, newest file {changed}"


@dataclass
class Phases:
    """perf_counter marks and CPU seconds around the load phase."""

    send_start: float = 0.0
    last_sent: float = 0.0
    acks_done: float = 0.0
    drained: float = 0.0
    bridge_cpu: float = 0.0
    own_cpu: float = 0.0
    shutdown_seconds: float = 0.0
    exit_code: int | None = None
    baseline_rss: int = 0
    warmup_ids: set[str] = field(default_factory=set)


def wait_for_answers(
    slack: TimedSlack, openai: TimedOpenAI, messages: list[Message], deadline: float
) -> bool:
    """Poll until every message text has been answered, or the deadline passes."""
    wanted = {m.text for m in messages}
    while time.perf_counter() < deadline:
        if wanted <= answered_texts(slack.timed_posts(), openai.turn_inputs()):
            return True
        time.sleep(0.05)
    return False


def log_digest(log: str, limit: int = 8) -> list[str]:
    """WARNING/ERROR lines grouped by their text with numbers and ids blanked."""
    kinds: Counter[str] = Counter()
    for line in log.splitlines():
        match = re.search(r" (WARNING|ERROR|CRITICAL) (.*)$", line)
        if match:
            text = re.sub(r"\b(resp|conv|sess|turn)_[0-9a-f]+", r"\1_…", match.group(0).strip())
            kinds[re.sub(r"\d+(\.\d+)?", "N", text)] += 1
    lines = [f"{count:6d} x {text[:160]}" for text, count in kinds.most_common(limit)]
    if tracebacks := log.count("Traceback"):
        lines.append(f"{tracebacks:6d} x Traceback")
    return lines


def run(args: argparse.Namespace) -> int:
    messages = build_messages(users=args.users, count=round(args.rate * args.duration))
    warmup = build_messages(
        users=max(1, args.warmup), count=args.warmup, user_prefix="UW", text_prefix="warmup"
    )
    fingerprint = code_fingerprint()
    with (
        tempfile.TemporaryDirectory(prefix="bridge-bench-") as tmp,
        run_database(args.database_url, Path(tmp)) as (database_url, database_name),
        TimedSlack() as slack,
        TimedOpenAI() as openai,
    ):
        openai.latency = args.latency
        slack.api_latency = openai.api_latency = args.api_latency
        if args.stream:
            openai.stream_first_token = STREAM_FIRST_TOKEN
            openai.stream_spread = max(0.0, args.latency - STREAM_FIRST_TOKEN)
            openai.agent_first_token = STREAM_FIRST_TOKEN  # deltas spread until --latency
        if args.agents:
            agent = openai.add_agent()
            (Path(tmp) / "assistants.toml").write_text(agents_file(str(agent["id"])))
        if args.append_limit:
            slack.rate_limits["chat.appendStream"] = (args.append_limit, 60.0)
        env = base_env(
            slack_url=slack.url + "/api/",
            openai_url=openai.url + "/v1",
            database_url=database_url,
        )
        env.pop("LEASE_SECONDS", None)  # the e2e harness shortens it for take-over tests
        env["LOG_LEVEL"] = "WARNING"
        env["STREAMING"] = "on" if args.stream else "off"
        bridge = BridgeProcess(workdir=Path(tmp), env=env)
        phases = Phases()
        print(f"starting the bridge ({database_name}; code {fingerprint}) ...", flush=True)
        bridge.start()
        assert bridge.proc is not None
        sampler = ProcessSampler(bridge.proc.pid).start()
        try:
            complete = _load(args, bridge, sampler, slack, openai, messages, warmup, phases)
        finally:
            start = time.perf_counter()
            try:
                phases.exit_code = bridge.stop(timeout=40)
            except Exception:
                bridge.kill()
            phases.shutdown_seconds = time.perf_counter() - start
            sampler.stop()
        log = bridge.log()
        if args.keep_log:
            args.keep_log.write_text(log)
        header = (
            f"Bridge load benchmark{mode_of(args)}: "
            f"{args.users} users, {args.rate:g} events/s, "
            f"{args.duration:g} s, model latency {args.latency:g} s, "
            f"API latency {args.api_latency:g} s, {database_name}\n"
            f"bridge code: {fingerprint}\n"
            f"{backend_of(args)}"
        )
        return _report(args, header, slack, openai, messages, phases, sampler, log, complete)


def _load(
    args: argparse.Namespace,
    bridge: BridgeProcess,
    sampler: ProcessSampler,
    slack: TimedSlack,
    openai: TimedOpenAI,
    messages: list[Message],
    warmup: list[Message],
    phases: Phases,
) -> bool:
    url = bridge.url + "/slack/events"
    if warmup:
        print(f"warming up with {len(warmup)} DM(s) (not measured) ...", flush=True)
        asyncio.run(send_all(url, warmup, rate=len(warmup)))
        if not wait_for_answers(slack, openai, warmup, time.perf_counter() + 30):
            print("warning: the warm-up DMs were not all answered within 30 s", flush=True)
        phases.warmup_ids = set(openai.timings()[0])
    time.sleep(0.5)
    phases.baseline_rss = sampler.rss()
    cpu_bridge, cpu_own = sampler.cpu_seconds(), own_cpu_seconds()
    print(
        f"sending {len(messages)} DMs from {args.users} users at {args.rate:g}/s for "
        f"{args.duration:g} s (model latency {args.latency:g} s) ...",
        flush=True,
    )
    phases.send_start = asyncio.run(send_all(url, messages, rate=args.rate))
    phases.acks_done = time.perf_counter()
    phases.last_sent = max((m.sent for m in messages), default=phases.send_start)
    phases.bridge_cpu = sampler.cpu_seconds() - cpu_bridge
    phases.own_cpu = own_cpu_seconds() - cpu_own
    print("sending done; waiting for the replies ...", flush=True)
    deadline = time.perf_counter() + max(60.0, 10 * args.latency)
    complete = wait_for_answers(slack, openai, messages, deadline)
    phases.drained = time.perf_counter()
    time.sleep(1.0)  # a late duplicate post would show up here
    return complete


def _report(
    args: argparse.Namespace,
    header: str,
    slack: TimedSlack,
    openai: TimedOpenAI,
    messages: list[Message],
    phases: Phases,
    sampler: ProcessSampler,
    log: str,
    complete: bool,
) -> int:
    posts = slack.timed_posts()
    inputs = openai.turn_inputs()
    created_at, polled_at = openai.timings()
    measured = [rid for rid in created_at if rid not in phases.warmup_ids]
    warm_texts = {t for rid in phases.warmup_ids for t in inputs.get(rid, ())}
    created_inputs = [texts for texts in openai.turns_created() if not warm_texts & set(texts)]
    # Status polls: GET /v1/responses/{id}, or an agent turn's GET …/sessions/{id}/turns/{tid}.
    polls = Counter(r.path.rsplit("/", 1)[-1] for r in openai.calls("GET", POLL_PATH.pattern))
    check = completeness(
        messages,
        [p for p in posts if p.response_id() not in phases.warmup_ids],
        inputs,
        created_inputs,
    )
    times = turn_times(messages, posts, inputs, created_at, polled_at, args.latency)
    ack = summary([m.ack_seconds for m in messages if m.acked])
    lag = summary([m.sent - m.due for m in messages if m.sent])
    overhead = summary(times.overhead)
    polls_summary = summary([float(polls.get(rid, 0)) for rid in measured])
    sending = phases.last_sent - phases.send_start
    window = phases.acks_done - phases.send_start
    slack_calls = Counter(c.method for c in slack.calls())
    openai_calls = Counter(
        f"{r.method} {re.sub(IDS_IN_PATH, '/{id}', r.path)}" for r in openai.requests
    )
    errors = slack.server_errors() + openai.server_errors()

    rows = [
        Row("events sent", len(messages), ""),
        Row("acks not 200", sum(1 for m in messages if m.status != 200), "", 0),
        Row("ack latency p50", ms(ack, "p50"), "ms"),
        Row("ack latency p99", ms(ack, "p99"), "ms", TARGETS["ack_p99_ms"]),
        Row("ack latency max", ms(ack, "max"), "ms"),
        Row("generator send lag p99 (info)", ms(lag, "p99"), "ms"),
        Row("overhead p50", ms(overhead, "p50"), "ms", TARGETS["overhead_p50_ms"]),
        Row("overhead p99", ms(overhead, "p99"), "ms", TARGETS["overhead_p99_ms"]),
        Row("overhead max", ms(overhead, "max"), "ms"),
    ]
    for label, values in (
        ("msg sent -> run created", times.to_start),
        ("run done -> poll saw it", times.detect_lag),
        ("that poll -> reply at Slack", times.deliver),
    ):
        part = summary(values)
        rows.append(Row(f"  {label} p50", ms(part, "p50"), "ms"))
        rows.append(Row(f"  {label} p99", ms(part, "p99"), "ms"))
    rows += [
        Row(
            f"status polls per turn mean ({args.latency:g} s)",
            polls_summary["mean"],
            "",
            TARGETS["polls_mean"],
        ),
        Row("status polls per turn p50", polls_summary["p50"], ""),
        Row("status polls per turn max", polls_summary["max"], ""),
        Row(
            "peak RSS (bridge + children)",
            sampler.peak_rss / MB,
            "MB",
            TARGETS["peak_rss_stream_mb" if args.stream else "peak_rss_mb"],
        ),
        Row("RSS before the load (info)", phases.baseline_rss / MB, "MB"),
        Row("bridge CPU, first send to last ack", 100 * phases.bridge_cpu / window, "%"),
        Row("bench process CPU, same window", 100 * phases.own_cpu / window, "%"),
        Row("turns (responses created)", check.responses_created, ""),
        Row("messages per replied turn mean", summary(times.batch_sizes)["mean"], ""),
        Row("messages lost (unanswered)", check.lost_count, "", 0),
        Row("messages/replies duplicated", check.duplicated_count, "", 0),
        Row("responses without a reply", check.responses_without_reply, "", 0),
        Row("posts not matching a response", check.unmatched_posts, "", 0),
        Row("last ack after last send", phases.acks_done - phases.last_sent, "s"),
        Row("all answered after last ack", phases.drained - phases.acks_done, "s"),
        Row("shutdown after SIGTERM", phases.shutdown_seconds, "s"),
    ]
    if args.stream:
        rows += stream_rows(
            stream_starts=slack.stream_starts(),
            created_at=created_at,
            posts=posts,
            first_token=STREAM_FIRST_TOKEN,
            latency=args.latency,
            polls=polls,
            slack_calls=slack_calls,
            measured=set(measured),
        )
    failed = [row.name for row in rows if row.passed is False]
    if phases.exit_code != 0:
        failed.append(f"bridge exit code {phases.exit_code}")
    if errors:
        failed.append("fake server errors")
    digest = log_digest(log)
    print()
    print(header)
    print(
        f"Note: the fake Slack + fake OpenAI servers and the load generator run in this process "
        f"and share the machine's {os.cpu_count()} cores with the bridge process."
    )
    print(
        f"Sent {len(messages)} events in {sending:.1f} s "
        f"({(len(messages) - 1) / sending if sending else 0:.1f}/s), after "
        f"{args.warmup} warm-up DM(s); no Slack retries are simulated."
    )
    print()
    print(table(rows))
    print()
    print("\n".join(timeline(messages, times, phases.send_start)))
    print()
    print("calls to fake Slack:  " + ", ".join(f"{k} {v}" for k, v in sorted(slack_calls.items())))
    print("calls to fake OpenAI: " + ", ".join(f"{k} {v}" for k, v in sorted(openai_calls.items())))
    print("bridge log, WARNING and above: " + ("none" if not digest else ""))
    for line in digest:
        print("  " + line)
    if errors:
        print(f"fake server errors: {errors[:5]}")
    if check.lost_count:
        print(f"NOT COMPLETE: {check.lost_count} unanswered, e.g. {check.lost[:5]}")
    elif not complete:
        print("all answered, but only in the second after the deadline")
    if check.duplicated_count:
        print(f"DUPLICATES: {check.in_several_responses[:5]} {check.answered_twice[:5]}")
    statuses = Counter(m.status for m in messages if m.status != 200)
    if statuses:
        print(
            "acks not 200 by status (-1: no answer): "
            + ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))
        )
    print(f"bridge exit code after SIGTERM: {phases.exit_code}")
    print("RESULT: " + ("PASS" if not failed else "FAIL (" + ", ".join(failed) + ")"))
    if args.json:
        figures: dict[str, Any] = {
            "header": header,
            "config": {
                "users": args.users,
                "rate": args.rate,
                "duration": args.duration,
                "latency": args.latency,
                "api_latency": args.api_latency,
                "backend": "agents" if args.agents else "responses",
                "warmup": args.warmup,
                "cpus": os.cpu_count(),
            },
            "rows": [
                {
                    "name": r.name,
                    "value": r.value,
                    "unit": r.unit,
                    "target": r.target,
                    "passed": r.passed,
                }
                for r in rows
            ],
            "ack_seconds": ack,
            "overhead_seconds": overhead,
            "polls_per_turn": polls_summary,
            "slack_calls": dict(slack_calls),
            "openai_calls": dict(openai_calls),
            "log_digest": digest,
            "exit_code": phases.exit_code,
            "failed": failed,
        }
        args.json.write_text(json.dumps(as_json(figures), indent=2) + "\n")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(sys.argv[1:] if argv is None else argv))
