"""`assistant-bridge feedback` as a user runs it: counts per assistant, the latest votes with
links to the answers, `--since` and `--limit`, and a clear word when there is none."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage import feedback
from storage.db import Database
from storage.migrate import migrate
from storage.models import Feedback
from tests.bot.cli_helpers import cli_env, run_cli

ANSWER_IN_THREAD = ("D0DMU1", "1700000100.000200", "1700000000.000100")
ANSWER_AT_TOP = ("C0CHAN", "1700000300.000400", None)


def vote(answer: tuple[str, str, str | None], user: str, up: bool, assistant: str) -> Feedback:
    channel, ts, thread_ts = answer
    return Feedback(
        team_id="T0TEST",
        channel_id=channel,
        message_ts=ts,
        thread_ts=thread_ts,
        user_id=user,
        vote="up" if up else "down",
        turn_id=1,
        assistant=assistant,
    )


def store_votes(database_url: str, db: Engine) -> None:
    async def record() -> None:
        database = Database(database_url)
        try:
            for one in (
                vote(ANSWER_AT_TOP, "U3", False, "editor"),
                vote(ANSWER_IN_THREAD, "U1", True, "tutor"),
                vote(ANSWER_IN_THREAD, "U2", False, "tutor"),
                vote(ANSWER_AT_TOP, "U1", True, "editor"),
            ):
                async with database.session() as session:
                    await feedback.record_vote(session=session, vote=one)
        finally:
            await database.close()

    migrate(database_url)
    asyncio.run(record())
    with db.begin() as connection:  # U3's vote is from January
        connection.execute(
            text("UPDATE feedback SET voted_at = :old WHERE user_id = 'U3'"),
            {"old": "2026-01-15 09:30:00.000000"},
        )


def test_feedback_prints_counts_per_assistant_and_links_to_the_latest_votes(
    database_url: str, db: Engine, tmp_path: Path
) -> None:
    store_votes(database_url, db)
    result = run_cli("feedback", env=cli_env(database_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Feedback on answers:"
    assert [line.split() for line in lines[1:4]] == [
        ["assistant", "up", "down"],
        ["editor", "1", "1"],
        ["tutor", "1", "1"],
    ]
    assert lines[5] == "Latest 4 vote(s), newest first:"
    latest = [line.split() for line in lines[6:]]
    assert [(row[3], row[4], row[5]) for row in latest] == [
        ("editor", "U1", "https://slack.com/archives/C0CHAN/p1700000300000400"),
        (
            "tutor",
            "U2",
            "https://slack.com/archives/D0DMU1/p1700000100000200"
            "?thread_ts=1700000000.000100&cid=D0DMU1",
        ),
        (
            "tutor",
            "U1",
            "https://slack.com/archives/D0DMU1/p1700000100000200"
            "?thread_ts=1700000000.000100&cid=D0DMU1",
        ),
        ("editor", "U3", "https://slack.com/archives/C0CHAN/p1700000300000400"),
    ]
    assert latest[-1][:2] == ["2026-01-15", "09:30"]


def test_since_and_limit_narrow_the_report(database_url: str, db: Engine, tmp_path: Path) -> None:
    store_votes(database_url, db)
    env = cli_env(database_url)
    result = run_cli("feedback", "--since", "2026-06-01", "--limit", "1", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Feedback on answers since 2026-06-01 00:00 UTC:"
    assert [line.split() for line in lines[2:4]] == [["editor", "1", "0"], ["tutor", "1", "1"]]
    assert lines[5:] == [lines[5], lines[6]] and len(lines) == 7
    assert "U1" in lines[6] and "editor" in lines[6]
    later = run_cli("feedback", "--since", "2099-01-01", env=env, cwd=tmp_path)
    assert (later.returncode, later.stdout.strip()) == (
        0,
        "No feedback since 2099-01-01 00:00 UTC.",
    )


def test_feedback_on_a_fresh_database_says_there_is_none(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'fresh.db'}")
    result = run_cli("feedback", env=env, cwd=tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, "No feedback on answers yet.")


def test_a_bad_since_or_limit_is_refused_by_name(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'fresh.db'}")
    bad_date = run_cli("feedback", "--since", "last week", env=env, cwd=tmp_path)
    assert bad_date.returncode == 2 and "--since: not a date: 'last week'" in bad_date.stderr
    bad_limit = run_cli("feedback", "--limit", "0", env=env, cwd=tmp_path)
    assert bad_limit.returncode == 2 and "--limit: not a positive whole number" in bad_limit.stderr
