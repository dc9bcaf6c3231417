"""SQLite, the single-process default: one `serve` per database file, and an event loop that
never waits on another process's write lock."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ON_POSTGRES
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess, wait_for
from tests.e2e.replies import posts_in
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback, url_verification

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's locks and its one-process rule")


@contextmanager
def write_lock_held(database_url: str) -> Iterator[None]:
    """Hold SQLite's write lock from another connection, as a `sqlite3` shell would."""
    connection = sqlite3.connect(str(make_url(database_url).database), isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


def _timed(call: Callable[[], tuple[int, str]]) -> tuple[int, float]:
    """The status and how long the answer took; no answer within the client's timeout is
    status 0 and infinitely long."""
    started = time.monotonic()
    try:
        status, _ = call()
    except (TimeoutError, urllib.error.URLError):
        return 0, math.inf
    return status, time.monotonic() - started


def _health(bridge: BridgeProcess) -> int:
    try:
        with urllib.request.urlopen(bridge.url + "/healthz", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_acks_do_not_wait_while_another_process_holds_the_write_lock(
    bridge: BridgeProcess, slack: FakeSlack, database_url: str
) -> None:
    payload = event_callback(dm_event("U1", "sent while the database is locked"))
    stored: list[tuple[int, float]] = []
    with write_lock_held(database_url):
        # The DM's store waits for the lock; nothing else may wait with it.
        sending = threading.Thread(
            target=lambda: stored.append(_timed(lambda: bridge.send(payload)))
        )
        sending.start()
        verifications = []
        until = time.monotonic() + 3.0
        while time.monotonic() < until:
            verifications.append(_timed(lambda: bridge.send(url_verification("c"))))
        sending.join(timeout=15)
    assert all(status == 200 for status, _ in verifications), verifications
    assert max(took for _, took in verifications) < 0.5, verifications
    [(status, took)] = stored
    assert status == 503 and took < 3.0, (status, took)
    # Slack sends it again; with the lock free it is stored and answered.
    assert bridge.send(payload, retry_num=1)[0] == 200
    posts_in(slack, payload["event"]["channel"])
    assert "Traceback" not in bridge.log()


def test_healthz_logs_a_busy_database_once_and_its_return_once(
    bridge: BridgeProcess, database_url: str
) -> None:
    with write_lock_held(database_url):
        assert [_health(bridge) for _ in range(3)] == [503, 503, 503]
    assert [_health(bridge) for _ in range(2)] == [200, 200]
    log = bridge.log()
    assert log.count("the database is unavailable") == 1, log
    assert log.count("the database is available again") == 1, log


def test_a_second_serve_on_the_same_sqlite_file_is_refused_and_short_commands_are_not(
    bridge: BridgeProcess, start_bridge: StartBridge, slack: FakeSlack
) -> None:
    second = start_bridge(wait=False)
    assert second.proc is not None
    wait_for(lambda: second.proc is not None and second.proc.poll() is not None, timeout=20)
    assert second.proc.returncode == 2
    [line] = [line for line in second.log().splitlines() if line.strip()]
    assert line.startswith("assistant-bridge: error: another assistant-bridge serve is using")

    migrate = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        cwd=bridge.workdir,
        env=bridge.env,
        capture_output=True,
        timeout=60,
    )
    assert migrate.returncode == 0, migrate.stderr
    event = dm_event("U1", "still the only one")
    assert bridge.send(event_callback(event))[0] == 200
    posts_in(slack, event["channel"])

    bridge.kill()  # the kernel drops a dead process's lock: the next one starts
    start_bridge()
