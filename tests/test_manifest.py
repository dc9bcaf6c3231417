"""slack-manifest.yml: what it turns on says why, for whoever pastes it into Slack."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_manifest_says_why_interactivity_is_on() -> None:
    manifest = (ROOT / "slack-manifest.yml").read_text()
    block = re.search(r"((?:^  #.*\n)+)  interactivity:\n    is_enabled: true\n", manifest, re.M)
    assert block is not None, "a comment right above settings.interactivity"
    comment = " ".join(line.strip(" #") for line in block.group(1).splitlines())
    assert "block_actions" in comment and "200" in comment, comment
