"""Settings: every variable is documented where users look for it."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import Settings

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
