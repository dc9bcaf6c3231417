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


def _list_under(manifest: str, key: str) -> list[str]:
    """The `- item` entries of the YAML list under the line `key:` (comments dropped)."""
    lines = manifest.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{key}:")
    items = []
    for line in lines[start + 1 :]:
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        if not stripped.startswith("- "):
            break
        items.append(stripped.removeprefix("- ").strip())
    return items


def test_every_event_the_bridge_listens_for_is_subscribed() -> None:
    manifest = (ROOT / "slack-manifest.yml").read_text()
    subscribed = set(_list_under(manifest, "bot_events"))
    listened = set()
    for module in (ROOT / "handlers").glob("*.py"):
        listened |= set(re.findall(r'@app\.event\("([a-z_]+)"\)', module.read_text()))
    # `message` is one listener for DMs and the channels the bot is in.
    expected = (listened - {"message"}) | {"message.im", "message.channels", "message.groups"}
    assert {"app_home_opened", "agent_session_stopped", "app_mention"} <= listened
    assert expected <= subscribed, expected - subscribed


def test_the_agent_views_methods_have_their_scopes_and_interactivity_reaches_the_bridge() -> None:
    manifest = (ROOT / "slack-manifest.yml").read_text()
    scopes = set(_list_under(manifest, "bot"))
    # From each method's reference page (docs.slack.dev/reference/methods/…).
    needed = {
        "assistant.threads.setSuggestedPrompts": "assistant:write",
        "agents.sessions.rename": "chat:write",
        "agents.sessions.setStatus": "chat:write",
        "chat.postEphemeral": "chat:write",
    }
    assert {scope for scope in needed.values() if scope not in scopes} == set()
    urls = re.findall(r"^\s*(?:request_url|url): (\S+)$", manifest, re.M)
    assert len(urls) == 3 and all(url.endswith("/slack/events") for url in urls), urls
    assert re.search(r"^  interactivity:\n    is_enabled: true\n", manifest, re.M)
    assert re.search(r"^  agent_view:\n", manifest, re.M), "features.agent_view"
    assert "messages_tab_enabled: true" in manifest


def test_the_message_shortcut_is_declared_with_the_callback_the_bridge_handles() -> None:
    from handlers.shortcuts import CALLBACK_ID

    manifest = (ROOT / "slack-manifest.yml").read_text()
    declared = re.search(
        r"^  shortcuts:\n    - name: (.+)\n      type: message\n      callback_id: (\S+)",
        manifest,
        re.M,
    )
    assert declared is not None, "features.shortcuts with a message shortcut"
    assert declared.group(2) == CALLBACK_ID
    # conversations.open (the DM the answer goes to) needs im:write; conversations.replies,
    # channels:history / groups:history; the note goes through response_url (no scope).
    assert {"im:write", "channels:history", "groups:history"} <= set(_list_under(manifest, "bot"))
