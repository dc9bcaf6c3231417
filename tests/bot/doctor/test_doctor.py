"""`assistant-bridge doctor` against the local fakes: all ok, or each broken part named."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.doctor.checks import required_variables
from bot.doctor.report import REQUIRED_SCOPES
from bot.errors import ConfigError
from tests.bot.cli_helpers import TWO_ASSISTANTS
from tests.e2e.harness import (
    APP_TOKEN,
    BOT_TOKEN,
    OPENAI_KEY,
    SIGNING_SECRET,
    base_env,
    free_port,
)
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Setup:
    """A good setup: fakes, environment, assistants file and database; tests break one part."""

    slack: FakeSlack
    oa: FakeOpenAI
    env: dict[str, str]
    workdir: Path
    db: Engine
    args: list[str] = field(default_factory=list)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=90,
        )

    def migrate(self) -> None:
        result = self.cli("migrate")
        assert result.returncode == 0, result.stderr

    def assistants_file(self, text: str) -> None:
        (self.workdir / "assistants.toml").write_text(text)


@pytest.fixture
def setup(tmp_path: Path, database_url: str, db: Engine) -> Iterator[Setup]:
    with FakeSlack() as slack, FakeOpenAI() as oa:
        slack.scopes = ",".join(REQUIRED_SCOPES)
        oa.add_assistant("asst_legacy1", model="gpt-4o", name="Legacy")
        env = base_env(
            slack_url=slack.url + "/api/", openai_url=oa.url + "/v1", database_url=database_url
        )
        found = Setup(slack, oa, env, tmp_path, db)
        found.assistants_file(TWO_ASSISTANTS)
        yield found


def verdicts(result: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
    """(level, rest of the line) for each printed line."""
    return [(line[:4].strip(), line[4:].strip()) for line in result.stdout.splitlines() if line]


def assert_no_secret(result: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in (BOT_TOKEN, SIGNING_SECRET, OPENAI_KEY, *secrets):
        assert secret not in result.stdout and secret not in result.stderr


def test_a_good_setup_passes_every_check(setup: Setup) -> None:
    setup.migrate()
    result = setup.cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = verdicts(result)
    assert lines and all(level == "ok" for level, _ in lines), result.stdout
    text = result.stdout
    for check in ("environment", "signing secret", "slack token", "slack scopes", "openai key"):
        assert check in text
    assert "team Test" in text and "bot user bridge" in text
    assert "assistant tutor" in text and "model gpt-5-mini" in text
    assert "assistant legacy" in text and "asst_legacy1" in text
    assert "database" in text and "migrations" in text
    assert_no_secret(result)


@dataclass(frozen=True)
class Broken:
    check: str
    expected: str
    breaks: Callable[[Setup], None]
    migrate: bool = True


def _bad_slack_token(s: Setup) -> None:
    s.env["SLACK_BOT_TOKEN"] = "xoxb-not-the-right-one"


def _missing_scope(s: Setup) -> None:
    s.slack.scopes = ",".join(x for x in REQUIRED_SCOPES if x != "reactions:write")


def _no_signing_secret(s: Setup) -> None:
    del s.env["SLACK_SIGNING_SECRET"]


def _socket_mode_without_app_token(s: Setup) -> None:
    s.args.append("--socket")


def _socket_mode_with_a_refused_app_token(s: Setup) -> None:
    s.env["SLACK_APP_TOKEN"] = "xapp-refused-K4J8"
    s.args.append("--socket")


def _bad_openai_key(s: Setup) -> None:
    s.oa.api_key = "sk-the-only-accepted-key"
    s.env["OPENAI_API_KEY"] = "sk-doctor-secret-Z9Q7"


def _openai_unreachable(s: Setup) -> None:
    s.env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{free_port()}/v1"


def _unknown_model(s: Setup) -> None:
    s.assistants_file(TWO_ASSISTANTS.replace('"gpt-5-mini"', '"gpt-9-imaginary"'))


def _unknown_assistant_id(s: Setup) -> None:
    s.assistants_file(TWO_ASSISTANTS.replace("asst_legacy1", "asst_gone"))


def _invalid_assistants_file(s: Setup) -> None:
    s.assistants_file(TWO_ASSISTANTS.replace("model =", "modle ="))


def _unmigrated_database(s: Setup) -> None:
    with s.db.connect():  # the database exists (a SQLite file, a schema), without tables
        pass


def _unreachable_database(s: Setup) -> None:
    s.env["DATABASE_URL"] = f"postgres://nobody:pw-Q8Z3@127.0.0.1:{free_port()}/nowhere"


BROKEN = {
    "bad slack token": Broken("slack token", "invalid_auth", _bad_slack_token),
    "missing scope": Broken("slack scopes", "missing reactions:write", _missing_scope),
    "no signing secret": Broken("signing secret", "SLACK_SIGNING_SECRET", _no_signing_secret),
    "socket mode, no app token": Broken(
        "app token", "SLACK_APP_TOKEN is not set", _socket_mode_without_app_token
    ),
    "socket mode, refused app token": Broken(
        "app token",
        "apps.connections.open failed: invalid_auth",
        _socket_mode_with_a_refused_app_token,
    ),
    "bad openai key": Broken("openai key", "OpenAI rejected the key (401)", _bad_openai_key),
    "openai unreachable": Broken(
        "openai key", "OpenAI is unreachable at http://127.0.0.1:", _openai_unreachable
    ),
    "unknown model": Broken(
        "assistant tutor", "model gpt-9-imaginary does not exist", _unknown_model
    ),
    "unknown asst_ id": Broken(
        "assistant legacy", "assistant asst_gone does not exist", _unknown_assistant_id
    ),
    "invalid assistants file": Broken(
        "assistants",
        "assistants.toml:4: assistants.tutor.modle: unknown key 'modle'",
        _invalid_assistants_file,
    ),
    "database not migrated": Broken(
        "migrations", "run assistant-bridge migrate", _unmigrated_database, migrate=False
    ),
    "database unreachable": Broken(
        "database", "cannot use postgresql+psycopg://nobody:***@127.0.0.1:", _unreachable_database
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_setup_fails_and_names_the_problem(case: str, setup: Setup) -> None:
    broken = BROKEN[case]
    if broken.migrate:
        setup.migrate()
    broken.breaks(setup)
    result = setup.cli("doctor", *setup.args)
    assert result.returncode == 1, result.stdout + result.stderr
    failures = [rest for level, rest in verdicts(result) if level == "FAIL"]
    assert any(rest.startswith(broken.check) and broken.expected in rest for rest in failures), (
        result.stdout
    )
    # Every other part was still checked: each check printed its line.
    for check in ("environment", "slack token", "openai key", "database"):
        assert check in result.stdout
    assert "Traceback" not in result.stderr
    assert_no_secret(result, "xoxb-not-the-right-one", "Z9Q7", "pw-Q8Z3", "K4J8")


def test_socket_mode_checks_the_app_token_with_slack(setup: Setup) -> None:
    setup.migrate()
    setup.env["SLACK_APP_TOKEN"] = APP_TOKEN
    result = setup.cli("doctor", "--socket")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("ok", "app token             SLACK_APP_TOKEN accepted by apps.connections.open") in (
        verdicts(result)
    )
    assert len(setup.slack.calls("apps.connections.open")) == 1
    assert_no_secret(result, APP_TOKEN)


def test_sdk_retries_leave_the_table_alone(setup: Setup) -> None:
    setup.migrate()
    setup.slack.drop_next("auth.test")  # slack_sdk's connection retry answers it
    setup.oa.fail_next("GET", r"/models$", 500)  # openai's own retry answers it
    result = setup.cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(setup.slack.calls("auth.test")) == 2, "retried after the dropped connection"
    assert len(setup.oa.calls("GET", r"/models$")) == 2, "retried after the 500"
    assert result.stderr == ""
    assert all(level == "ok" for level, _ in verdicts(result)), result.stdout


def test_a_model_being_shut_down_is_a_warning_not_a_failure(setup: Setup) -> None:
    setup.migrate()
    setup.oa.model_extra["gpt-4o"] = {"shutdown_date": "2026-12-01"}
    setup.assistants_file(TWO_ASSISTANTS.replace('"gpt-5-mini"', '"gpt-4o"'))
    result = setup.cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = [rest for level, rest in verdicts(result) if level == "warn"]
    assert warnings == ["assistant tutor       model gpt-4o shuts down on 2026-12-01"], (
        result.stdout
    )


def test_a_missing_sqlite_file_is_reported_and_not_created(setup: Setup, tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    setup.env["DATABASE_URL"] = f"sqlite:///{missing}"
    result = setup.cli("doctor")
    assert result.returncode == 1
    assert "no such file: run assistant-bridge migrate" in result.stdout
    assert not missing.exists()


def test_required_scopes_are_the_bot_scopes_of_the_manifest() -> None:
    manifest = (ROOT / "slack-manifest.yml").read_text()
    block = re.search(r"^oauth_config:\n  scopes:\n    bot:\n((?:      - .*\n)+)", manifest, re.M)
    assert block is not None, "the manifest's oauth_config.scopes.bot list"
    scopes = re.findall(r"^      - ([\w:.]+)", block.group(1), re.M)
    assert sorted(scopes) == sorted(REQUIRED_SCOPES)
    assert len(set(REQUIRED_SCOPES)) == len(REQUIRED_SCOPES)


@pytest.mark.parametrize("http", [True, False])
def test_the_environment_check_needs_what_serve_needs(http: bool) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.model_validate({}).require(http=http)
    named = re.findall(r"[A-Z_]{6,}", str(raised.value))
    assert sorted(named) == sorted(required_variables(http=http))
