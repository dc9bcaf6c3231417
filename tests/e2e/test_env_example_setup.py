"""The README's own setup: `cp .env.example .env`, fill in the required values, run."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from bot.doctor.report import REQUIRED_SCOPES
from tests.bot.cli_helpers import run_cli
from tests.e2e.harness import BOT_TOKEN, OPENAI_KEY, SIGNING_SECRET, BridgeProcess
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def fill_in(env_file: Path, values: dict[str, str]) -> None:
    """Set `NAME=` lines of a copied `.env.example` as a user would in an editor; each line
    keeps its comment, every other line stays as it was."""
    text = env_file.read_text()
    for name, value in values.items():
        text, count = re.subn(rf"^{name}=", f"{name}={value}", text, flags=re.M)
        assert count == 1, name
    env_file.write_text(text)


def test_a_copied_env_example_with_the_required_values_runs_every_command(
    slack: FakeSlack, openai: FakeOpenAI, tmp_path: Path
) -> None:
    slack.scopes = ",".join(REQUIRED_SCOPES)
    # Nothing of the bridge's in the real environment: only what any shell has.
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env["PYTHONPATH"] = str(ROOT)
    bridge = BridgeProcess(workdir=tmp_path, env=env)
    del bridge.env["PORT"]  # its port comes from .env below, as a user's would
    env_file = tmp_path / ".env"
    shutil.copyfile(ROOT / ".env.example", env_file)
    assert env_file.read_bytes() == (ROOT / ".env.example").read_bytes()
    fill_in(
        env_file,
        {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "OPENAI_API_KEY": OPENAI_KEY,
            "SLACK_API_URL": slack.url + "/api/",
            "OPENAI_BASE_URL": openai.url + "/v1",
            "PORT": str(bridge.port),
        },
    )

    listed = run_cli("assistants", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].startswith("* default  gpt-5-mini")

    try:
        bridge.start()  # waits for GET /healthz on the port to answer 200
    finally:
        bridge.stop()
    log = bridge.log()
    assert "Traceback" not in log
    assert all(secret not in log for secret in (BOT_TOKEN, SIGNING_SECRET, OPENAI_KEY))

    checked = run_cli("doctor", env=env, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "invalid environment" not in checked.stderr
    assert checked.stdout.startswith("ok    environment")
