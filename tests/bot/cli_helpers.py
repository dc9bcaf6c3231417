"""Running the CLI as a user does: a subprocess with an environment of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.harness import base_env

TWO_ASSISTANTS = """\
default = "tutor"

[assistants.tutor]
model = "gpt-5-mini"
description = "Math tutor"

[assistants.legacy]
id = "asst_legacy1"
description = "Legacy helper"
"""


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli_env(database_url: str) -> dict[str, str]:
    """A good environment whose Slack and OpenAI are unreachable (nothing is called)."""
    return base_env(
        slack_url="http://127.0.0.1:9/api/",
        openai_url="http://127.0.0.1:9/v1",
        database_url=database_url,
    )
