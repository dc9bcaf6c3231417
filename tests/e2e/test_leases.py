"""Steps that outlast a lease are done once: the lease is renewed while they run, every
non-idempotent call is fenced, and a step that fails starts over from the database.

LEASE_SECONDS is 3 in these tests (the harness's default), so a step of 9 s outlasts three
leases; a second process sweeps for expired leases every 5 s and would take the turn over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import ON_POSTGRES
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess, wait_for
from tests.e2e.replies import answers, reply_text
from tests.fakes.openai_api import FakeOpenAI, ReplyContext
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback

# Two processes where they can share the database (PostgreSQL); SQLite is one process's.
PROCESSES = [2] if ON_POSTGRES else [1]

SLOW_FUNCTION = """\
default = "helper"

[assistants.helper]
model = "gpt-5-mini"
instructions = "Use the tools."
functions = ["tests.e2e.tool_functions:slow_count"]
"""
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _answer(slack: FakeSlack, channel: str, timeout: float = 40) -> dict[str, object]:
    [post] = slack.wait_for(lambda: answers(slack, channel), timeout=timeout)
    return post


@pytest.mark.parametrize("processes", PROCESSES)
def test_a_slow_upload_to_openai_keeps_its_lease_and_the_turn_creates_one_response(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine, processes: int
) -> None:
    openai.hold_answer_next("POST", r"^/v1/files$", seconds=9)
    slow = slack.add_file("F0SLOW", "slow.pdf", b"%PDF-1.4 slow", "application/pdf")
    bridges = [start_bridge() for _ in range(processes)]
    event = dm_event("U1", "one slow file", subtype="file_share", files=[slow])
    bridges[0].send(event_callback(event))
    openai.wait_for(lambda: openai.files)
    samples = _watch_leases(db, _OPEN_TURN, until=lambda: bool(openai.responses_created()))
    assert reply_text(_answer(slack, event["channel"])).startswith("echo: one slow file")
    _assert_live(samples, "the turn's lease while its file was uploaded")
    assert [f["filename"] for f in openai.files] == ["slow.pdf"], "uploaded once"
    assert len(openai.responses_created()) == 1, "one response for one message"
    assert "taken over" not in _logs(bridges)


@pytest.mark.parametrize("processes", PROCESSES)
def test_a_function_that_takes_most_of_the_lease_keeps_it_and_runs_once(
    start_bridge: StartBridge,
    slack: FakeSlack,
    openai: FakeOpenAI,
    db: Engine,
    tmp_path: Path,
    processes: int,
) -> None:
    tool_log = tmp_path / "tool.log"
    (tmp_path / "assistants.toml").write_text(SLOW_FUNCTION)
    openai.responder = _echo_outputs
    openai.latency = 1.0  # polled a few times first, so the lease is not fresh from the create
    env = {"TOOL_LOG": str(tool_log), "LEASE_SECONDS": "3", "FUNCTION_TIMEOUT_SECONDS": "3"}
    bridges = [start_bridge(**env) for _ in range(processes)]
    events = [dm_event(f"U{n}", f"count {n}") for n in range(3)]
    samples: list[tuple[datetime, datetime | None]] = []
    for n, event in enumerate(events):
        openai.function_calls_next = [
            {"name": "slow_count", "arguments": f'{{"tag": "t{n}", "seconds": 2.8}}'}
        ]
        bridges[n % processes].send(event_callback(event))
        wait_for(lambda n=n: _lines(tool_log) > n, what=f"function call {n}")  # type: ignore[misc]
        samples += _watch_leases(
            db,
            _OPEN_TURN,
            until=lambda n=n: len(openai.responses_created()) > 2 * n + 1,  # type: ignore[misc]
        )
    for n, event in enumerate(events):
        assert reply_text(_answer(slack, event["channel"])) == f"outputs: slowly counted t{n}"
    _assert_live(samples, "the turn's lease while its function ran")
    runs = sorted(line.split(" ", 1)[1] for line in tool_log.read_text().splitlines())
    assert runs == ["slow_count t0", "slow_count t1", "slow_count t2"], "each call ran once"
    assert len(openai.responses_created()) == 6, "one create and one outputs-create per message"


@pytest.mark.parametrize("processes", PROCESSES)
def test_a_failed_write_after_a_create_never_creates_a_second_response(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine, processes: int
) -> None:
    openai.latency = 1.0
    bridges = [start_bridge() for _ in range(processes)]
    disarm = _fail_recording_the_run(db)
    event = dm_event("U1", "answer me once")
    bridges[0].send(event_callback(event))
    wait_for(lambda: "injected failure" in _logs(bridges), what="the injected failure")
    disarm()
    assert reply_text(_answer(slack, event["channel"])) == "echo: answer me once (turn 1)"
    assert len(openai.responses_created()) == 1, "the failed step's response was adopted"
    assert "looked for an unrecorded run" in _logs(bridges)


@pytest.mark.parametrize("processes", PROCESSES)
def test_a_slow_upload_to_slack_keeps_its_lease_and_is_done_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine, processes: int
) -> None:
    openai.generated_files_next = [{"filename": "plot.png", "content": PNG}]
    slack.hold_answer_next("files.getUploadURLExternal", seconds=9)
    bridges = [start_bridge() for _ in range(processes)]
    event = dm_event("U1", "chart it slowly")
    bridges[0].send(event_callback(event))
    _answer(slack, event["channel"])
    samples = _watch_leases(db, _FILE_PART, until=lambda: bool(slack.uploads()))
    wait_for(
        lambda: slack.reactions(event["channel"], event["ts"]) == set(),
        timeout=20,
        what="the delivery to end",
    )
    _assert_live(samples, "the reply's lease while its file was uploaded")
    assert [u.filename for u in slack.uploads()] == ["plot.png"], "uploaded once"
    assert "taken over" not in _logs(bridges)


def _echo_outputs(context: ReplyContext) -> str:
    return "outputs: " + " | ".join(context.tool_outputs)


_OPEN_TURN = "SELECT lease_until FROM turn WHERE status <> 'done'"
_FILE_PART = "SELECT lease_until FROM reply WHERE status = 'pending' AND file_ref IS NOT NULL"


def _watch_leases(
    db: Engine, query: str, *, until: Callable[[], bool], timeout: float = 30
) -> list[tuple[datetime, datetime | None]]:
    """(when, lease_until) of the row `query` finds, sampled every 0.1 s until `until()`."""
    samples: list[tuple[datetime, datetime | None]] = []
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"timed out watching {query}"
        with db.connect() as connection:
            rows = connection.execute(text(query)).all()
        samples += [(datetime.now(UTC), _utc(row[0])) for row in rows]
        time.sleep(0.1)  # the sampling interval, not a wait for something to happen
    return samples


def _assert_live(samples: list[tuple[datetime, datetime | None]], what: str) -> None:
    assert samples, f"nothing sampled: {what}"
    expired = [(at, until) for at, until in samples if until is None or until <= at]
    assert not expired, f"{what} ran out {len(expired)} time(s), first at {expired[0]}"


def _utc(value: object) -> datetime | None:
    """A timestamp column as aware UTC (SQLite hands back text without a zone)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _logs(bridges: list[BridgeProcess]) -> str:
    return "".join(bridge.log() for bridge in bridges)


def _fail_recording_the_run(db: Engine) -> Callable[[], None]:
    """Make the database refuse the write that records a turn's run (after its create
    reached OpenAI), until the returned function is called."""
    message = "expected-traceback: injected failure recording the run"
    with db.begin() as connection:
        connection.execute(text("CREATE TABLE bridge_fault (armed BOOLEAN NOT NULL)"))
        connection.execute(text("INSERT INTO bridge_fault VALUES (TRUE)"))
        if db.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE FUNCTION bridge_fail_start() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF NEW.run_id IS NOT NULL AND OLD.run_id IS NULL "
                    "AND (SELECT armed FROM bridge_fault) "
                    f"THEN RAISE EXCEPTION '{message}'; END IF; RETURN NEW; END $$"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER bridge_fail_start BEFORE UPDATE ON turn "
                    "FOR EACH ROW EXECUTE FUNCTION bridge_fail_start()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER bridge_fail_start BEFORE UPDATE OF run_id ON turn "
                    "WHEN NEW.run_id IS NOT NULL AND OLD.run_id IS NULL "
                    "AND (SELECT armed FROM bridge_fault) "
                    f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
                )
            )

    def disarm() -> None:
        with db.begin() as connection:
            connection.execute(text("UPDATE bridge_fault SET armed = FALSE"))

    return disarm
