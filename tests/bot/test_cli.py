"""The command line as a user meets it: clear errors before anything starts, migrations."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

from tests.bot.cli_helpers import cli_env, run_cli
from tests.e2e.harness import BOT_TOKEN, OPENAI_KEY, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("missing", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPENAI_API_KEY"])
def test_serve_names_a_missing_required_variable(missing: str, tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'x.db'}")
    del env[missing]
    result = run_cli("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert missing in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.db").exists(), "nothing started before the check"


def test_socket_mode_needs_the_app_token_not_the_signing_secret(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'x.db'}")
    del env["SLACK_SIGNING_SECRET"]
    result = run_cli("serve", "--socket", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token-secret", "SLACK_BOT_TOKEN must be a bot token"),
        ("PORT", "eighty", "PORT"),
        ("CHANNEL_SCOPE", "galaxy", "CHANNEL_SCOPE"),
        ("OPENAI_ASSISTANT_ID", "legacy", "OPENAI_ASSISTANT_ID must be an Assistants API id"),
    ],
)
def test_serve_rejects_a_malformed_variable_without_echoing_it(
    name: str, value: str, expected: str, tmp_path: Path
) -> None:
    env = {**cli_env(f"sqlite:///{tmp_path / 'x.db'}"), name: value}
    result = run_cli("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "xoxp-user-token-secret" not in result.stderr


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'x.db'}")
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "OPENAI_API_KEY"):
        del env[name]
    (tmp_path / ".env").write_text(
        f"SLACK_BOT_TOKEN={BOT_TOKEN}\nOPENAI_API_KEY={OPENAI_KEY}\nPORT=notaport\n"
    )
    result = run_cli("serve", env=env, cwd=tmp_path)
    # The .env values were read: the first problem left is the malformed PORT from it.
    assert "PORT" in result.stderr and "SLACK_BOT_TOKEN" not in result.stderr


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    env = cli_env(f"postgres://nobody@127.0.0.1:{port}/nowhere")
    result = run_cli("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert f"cannot use the database at postgresql+psycopg://nobody@127.0.0.1:{port}" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_migrate_creates_the_schema_and_is_idempotent(
    database_url: str, db: Engine, tmp_path: Path
) -> None:
    env = cli_env(database_url)
    for _ in range(2):
        result = run_cli("migrate", env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    tables = set(inspect(db).get_table_names())
    assert {"conversation", "inbound_message", "turn", "reply", "bot_thread"} <= tables


def test_the_console_script_and_python_m_bot_are_the_same_program(tmp_path: Path) -> None:
    result = run_cli("--help", env=cli_env("sqlite://"), cwd=tmp_path)
    assert result.returncode == 0
    assert "serve" in result.stdout and "migrate" in result.stdout
    assert (ROOT / "pyproject.toml").read_text().count('assistant-bridge = "bot.cli:main"') == 1


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**cli_env(f"sqlite:///{tmp_path / 'x.db'}"), "PORT": str(port)}
        result = run_cli("serve", "--http", env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    # The log lines of the migrations before it, then the error: one line, the last.
    assert (
        result.stderr.splitlines()[-1] == f"assistant-bridge: error: port {port} is already in use"
    )
    assert result.stderr.count("assistant-bridge: error:") == 1
    assert "Traceback" not in result.stderr
