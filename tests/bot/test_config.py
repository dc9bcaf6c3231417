"""Settings: every variable is documented where users look for it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.backends import build_client
from bot.config import Settings, load_settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_env_example_and_the_readme() -> None:
    names = {name.upper() for name in Settings.model_fields}
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if re.match(r"^[A-Z_]+=", line)
    }
    readme = (ROOT / "README.md").read_text()
    assert names == example
    assert [name for name in sorted(names) if f"`{name}`" not in readme] == []


REQUIRED = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "OPENAI_API_KEY": "sk-1"}


@pytest.fixture
def empty_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Every setting's variable present and empty, as a copied `.env.example` leaves them;
    monkeypatch puts the process's environment back afterwards."""
    for name in Settings.model_fields:
        monkeypatch.setenv(name.upper(), "")
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_empty_variables_in_the_environment_mean_the_defaults(
    empty_env: pytest.MonkeyPatch,
) -> None:
    settings = load_settings(env_file=None)
    defaults = {name: field.default for name, field in Settings.model_fields.items()}
    assert settings.model_dump() == {**defaults, **{k.lower(): v for k, v in REQUIRED.items()}}


def test_an_empty_openai_base_url_is_openais_own_endpoint(empty_env: pytest.MonkeyPatch) -> None:
    # The SDK reads OPENAI_BASE_URL itself when given none: an empty one must not reach it.
    client = build_client(load_settings(env_file=None))
    assert str(client.base_url) == "https://api.openai.com/v1/"


@pytest.mark.parametrize(
    ("timeout", "lease", "fix"),
    [
        (
            "40",
            "30",
            "raise LEASE_SECONDS to 40 or more (at most 50), or lower "
            "FUNCTION_TIMEOUT_SECONDS to 30 or less",
        ),
        (
            "60",
            "30",
            "lower FUNCTION_TIMEOUT_SECONDS to 30 or less (LEASE_SECONDS can be raised "
            "to at most 50)",
        ),
        ("3.5", "3", "raise LEASE_SECONDS to 3.5 or more"),
    ],
)
def test_a_function_timeout_longer_than_the_lease_is_refused_naming_both(
    timeout: str, lease: str, fix: str, empty_env: pytest.MonkeyPatch
) -> None:
    empty_env.setenv("FUNCTION_TIMEOUT_SECONDS", timeout)
    empty_env.setenv("LEASE_SECONDS", lease)
    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=None)
    assert str(raised.value).startswith(
        f"invalid environment: FUNCTION_TIMEOUT_SECONDS ({timeout}) is longer than "
        f"LEASE_SECONDS ({lease}): a function still running when this process's claim on its "
        "turn runs out could be run again by another process; "
    )
    assert fix in str(raised.value)


@pytest.mark.parametrize(("timeout", "lease"), [("", ""), ("30", "30"), ("3", "3"), ("10", "50")])
def test_a_function_timeout_within_the_lease_is_accepted(
    timeout: str, lease: str, empty_env: pytest.MonkeyPatch
) -> None:
    empty_env.setenv("FUNCTION_TIMEOUT_SECONDS", timeout)
    empty_env.setenv("LEASE_SECONDS", lease)
    settings = load_settings(env_file=None)
    assert settings.function_timeout_seconds <= settings.lease_seconds
