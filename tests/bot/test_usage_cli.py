"""`assistant-bridge usage` as a user runs it: a table with totals and CSV, by each grouping,
`--since`, and exit 0 also with nothing recorded."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage import usage
from storage.db import Database
from storage.migrate import migrate
from storage.models import UsageRecord
from tests.bot.cli_helpers import cli_env, run_cli


def record(run_id: str, **fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "run_id": run_id,
        "turn_id": 1,
        "team_id": "T1",
        "channel_id": "D1",
        "user_id": "U1",
        "key": "user:T1/U1",
        "assistant": "tutor",
        "backend": "responses",
        "model": "gpt-5-mini",
        "input_tokens": 1200,
        "cached_tokens": 1000,
        "output_tokens": 30,
        "reasoning_tokens": 10,
        "tool_calls": 1,
        "recorded_at": datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
    }
    return UsageRecord.model_validate(values | fields)


def store_usage(database_url: str) -> None:
    async def write() -> None:
        database = Database(database_url)
        try:
            async with database.session() as session:
                for one in (
                    record("resp_1"),
                    record("resp_2", tool_calls=0, recorded_at=datetime(2026, 12, 1, tzinfo=UTC)),
                    record(
                        "run_3",
                        assistant="legacy",
                        backend="assistants",
                        user_id="U2",
                        channel_id="C1",
                        recorded_at=datetime(2026, 12, 1, 8, tzinfo=UTC),
                    ),
                ):
                    await usage.record_usage(session=session, record=one)
        finally:
            await database.close()

    migrate(database_url)
    asyncio.run(write())


def test_the_table_sums_per_assistant_with_totals(database_url: str, tmp_path: Path) -> None:
    store_usage(database_url)
    result = run_cli("usage", env=cli_env(database_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Token usage by assistant:"
    assert lines[1].split() == [
        "assistant",
        "runs",
        "input",
        "cached",
        "output",
        "reasoning",
        "tool_calls",
    ]
    assert lines[2].split() == ["legacy", "1", "1,200", "1,000", "30", "10", "1"]
    assert lines[3].split() == ["tutor", "2", "2,400", "2,000", "60", "20", "1"]
    assert set(lines[4].replace(" ", "")) == {"-"}
    assert lines[5].split() == ["total", "3", "3,600", "3,000", "90", "30", "2"]


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        ("assistant", {"legacy": "1", "tutor": "2"}),
        ("user", {"T1/U1": "2", "T1/U2": "1"}),
        ("channel", {"T1/C1": "1", "T1/D1": "2"}),
        ("day", {"2026-11-30": "1", "2026-12-01": "2"}),
    ],
)
def test_csv_by_each_grouping(
    by: str, groups: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    store_usage(database_url)
    result = run_cli("usage", "--by", by, "--csv", env=cli_env(database_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [by, "runs", "input", "cached", "output", "reasoning", "tool_calls"]
    assert {row[by]: row["runs"] for row in rows} == groups
    assert sum(int(row["input"]) for row in rows) == 3600


def test_since_keeps_the_later_usage(database_url: str, tmp_path: Path) -> None:
    store_usage(database_url)
    args = ("usage", "--since", "2026-12-01", "--by", "user", "--csv")
    result = run_cli(*args, env=cli_env(database_url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "T1/U1,1,1200,1000,30,10,0",
        "T1/U2,1,1200,1000,30,10,1",
    ]
    table = run_cli("usage", "--since", "2026-12-01", env=cli_env(database_url), cwd=tmp_path)
    assert table.stdout.splitlines()[0] == "Token usage by assistant since 2026-12-01 00:00 UTC:"


def test_nothing_recorded_says_so_and_exits_0(database_url: str, tmp_path: Path) -> None:
    table = run_cli("usage", env=cli_env(database_url), cwd=tmp_path)
    assert (table.returncode, table.stdout.strip()) == (0, "No usage recorded.")
    as_csv = run_cli("usage", "--csv", env=cli_env(database_url), cwd=tmp_path)
    assert (as_csv.returncode, as_csv.stdout.strip()) == (
        0,
        "assistant,runs,input,cached,output,reasoning,tool_calls",
    )


def test_a_bad_grouping_or_date_is_refused(database_url: str, tmp_path: Path) -> None:
    assert (
        run_cli("usage", "--by", "model", env=cli_env(database_url), cwd=tmp_path).returncode == 2
    )
    bad = run_cli("usage", "--since", "yesterday", env=cli_env(database_url), cwd=tmp_path)
    assert bad.returncode == 2 and "not a date" in bad.stderr
