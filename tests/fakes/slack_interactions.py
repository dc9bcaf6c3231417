"""Interactivity payloads Slack posts to the request URL, as the form Slack sends.

The shapes are bolt-python's own test payloads (slackapi/bolt-python,
tests/scenario_tests_async/test_block_actions.py, test_view_submission.py,
test_view_closed.py, test_shortcut.py, test_block_suggestion.py,
test_attachment_actions.py, test_dialogs.py), with this suite's team and app ids.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from tests.fakes.slack_store import APP_ID, TEAM_ID
from tests.fakes.slack_ts import next_ts

_TEAM = {
    "id": TEAM_ID,
    "domain": "workspace-domain",
    "enterprise_id": "E111",
    "enterprise_name": "Sandbox Org",
}
_USER = {"id": "W111", "username": "primary-owner", "name": "primary-owner", "team_id": TEAM_ID}


def interactive_form(payload: dict[str, Any]) -> bytes:
    """`payload=<JSON>`, form-encoded, as Slack posts interactivity."""
    return f"payload={quote(json.dumps(payload))}".encode()


def _view(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "V111",
        "team_id": TEAM_ID,
        "type": "modal",
        "blocks": [
            {
                "type": "input",
                "block_id": "hspI",
                "label": {"type": "plain_text", "text": "Label"},
                "optional": False,
                "element": {"type": "plain_text_input", "action_id": "maBWU"},
            }
        ],
        "private_metadata": "This is for you!",
        "callback_id": "view-id",
        "state": state,
        "hash": "1596530361.3wRYuk3R",
        "title": {"type": "plain_text", "text": "My App"},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": {"type": "plain_text", "text": "Cancel"},
        "submit": {"type": "plain_text", "text": "Submit"},
        "previous_view_id": None,
        "root_view_id": "V111",
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": TEAM_ID,
        "bot_id": "B111",
    }


BLOCK_ACTIONS: dict[str, Any] = {
    "type": "block_actions",
    "user": _USER,
    "api_app_id": APP_ID,
    "token": "verification_token",
    "container": {
        "type": "message",
        "message_ts": "111.222",
        "channel_id": "C111",
        "is_ephemeral": True,
    },
    "trigger_id": "111.222.valid",
    "team": _TEAM,
    "channel": {"id": "C111", "name": "test-channel"},
    "response_url": "https://hooks.slack.com/actions/T111/111/random-value",
    "actions": [
        {
            "action_id": "a",
            "block_id": "b",
            "text": {"type": "plain_text", "text": "Button", "emoji": True},
            "value": "click_me_123",
            "type": "button",
            "action_ts": "1596530385.194939",
        }
    ],
}


def feedback_press(
    message: dict[str, Any],
    *,
    channel: str,
    value: str,
    user: str = "U0USER",
    action_id: str = "feedback",
    block_id: str = "feedback",
    text: str = "👍",
) -> dict[str, Any]:
    """A `block_actions` payload for a press on a `feedback_buttons` element of `message`
    (a message as the fake stores it): the action carries the pressed button's `value` and
    `text` (bolt-js FeedbackButtonsAction: type, action_id, block_id, action_ts, value, text);
    `container` names the message, `message` is the message itself."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": channel,
        "is_ephemeral": False,
    }
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    return {
        **BLOCK_ACTIONS,
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
        "container": container,
        "channel": {"id": channel, "name": f"chan-{channel.lower()}"},
        "message": message,
        "state": {"values": {}},
        "actions": [
            {
                "type": "feedback_buttons",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": text, "emoji": True},
                "action_ts": next_ts(),
            }
        ],
    }


VIEW_SUBMISSION: dict[str, Any] = {
    "type": "view_submission",
    "team": _TEAM,
    "user": _USER,
    "api_app_id": APP_ID,
    "token": "verification_token",
    "trigger_id": "111.222.valid",
    "view": _view({"values": {"hspI": {"maBWU": {"type": "plain_text_input", "value": "test"}}}}),
    "response_urls": [],
}

VIEW_CLOSED: dict[str, Any] = {
    "type": "view_closed",
    "team": _TEAM,
    "user": _USER,
    "api_app_id": APP_ID,
    "token": "verification_token",
    "view": _view({"values": {}}),
    "response_urls": [],
}

GLOBAL_SHORTCUT: dict[str, Any] = {
    "type": "shortcut",
    "token": "verification_token",
    "action_ts": "111.111",
    "team": {**_TEAM, "enterprise_name": "Org Name"},
    "user": {"id": "W111", "username": "primary-owner", "team_id": TEAM_ID},
    "callback_id": "test-shortcut",
    "trigger_id": "111.111.xxxxxx",
}

MESSAGE_SHORTCUT: dict[str, Any] = {
    "type": "message_action",
    "token": "verification_token",
    "action_ts": "1583637157.207593",
    "team": {**_TEAM, "domain": "test-test", "enterprise_name": "Org Name"},
    "user": {"id": "W111", "name": "test-test"},
    "channel": {"id": "C111", "name": "dev"},
    "callback_id": "test-shortcut",
    "trigger_id": "111.222.xxx",
    "message_ts": "1583636382.000300",
    "message": {
        "client_msg_id": "zzzz-111-222-xxx-yyy",
        "type": "message",
        "text": "<@W222> test",
        "user": "W111",
        "ts": "1583636382.000300",
        "team": TEAM_ID,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "d7eJ",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "user", "user_id": "U222"},
                            {"type": "text", "text": " test"},
                        ],
                    }
                ],
            }
        ],
    },
    "response_url": "https://hooks.slack.com/app/T111/111/xxx",
}

BLOCK_SUGGESTION: dict[str, Any] = {
    "type": "block_suggestion",
    "user": _USER,
    "container": {"type": "view", "view_id": "V111"},
    "api_app_id": APP_ID,
    "token": "verification_token",
    "action_id": "es_a",
    "block_id": "es_b",
    "value": "search word",
    "team": _TEAM,
    "view": _view({"values": {}}),
}

ATTACHMENT_ACTION: dict[str, Any] = {
    "type": "interactive_message",
    "actions": [
        {"name": "channel_list", "type": "select", "selected_options": [{"value": "C111"}]}
    ],
    "callback_id": "pick_channel_for_fun",
    "team": {"id": TEAM_ID, "domain": "hooli-hq"},
    "channel": {"id": "C222", "name": "triage-random"},
    "user": {"id": "U111", "name": "gbelson"},
    "action_ts": "1520966872.245369",
    "message_ts": "1520965348.000538",
    "attachment_id": "1",
    "token": "verification_token",
    "is_app_unfurl": True,
    "original_message": {
        "text": "",
        "username": "Belson Bot",
        "bot_id": "B111",
        "attachments": [
            {
                "callback_id": "pick_channel_for_fun",
                "text": "Choose a channel",
                "id": 1,
                "color": "2b72cb",
                "actions": [
                    {
                        "id": "1",
                        "name": "channel_list",
                        "text": "Public channels",
                        "type": "select",
                        "data_source": "channels",
                    }
                ],
                "fallback": "Choose a channel",
            }
        ],
        "type": "message",
        "subtype": "bot_message",
        "ts": "1520965348.000538",
    },
    "response_url": "https://hooks.slack.com/actions/T111/111/xxxx",
    "trigger_id": "111.222.valid",
}

DIALOG_SUBMISSION: dict[str, Any] = {
    "type": "dialog_submission",
    "token": "verification_token",
    "action_ts": "1596603334.328193",
    "team": _TEAM,
    "user": {"id": "W111", "name": "primary-owner", "team_id": TEAM_ID},
    "channel": {"id": "C111", "name": "test-channel"},
    "submission": {"loc_origin": "Tokyo", "loc_destination": "Osaka", "types": "FE-459"},
    "callback_id": "dialog-callback-id",
    "response_url": "https://hooks.slack.com/app/T111/111/xxx",
    "state": "Limo",
}

# Every kind above, by its `type`.
UNHANDLED_PAYLOADS: dict[str, dict[str, Any]] = {
    payload["type"]: payload
    for payload in (
        BLOCK_ACTIONS,
        VIEW_SUBMISSION,
        VIEW_CLOSED,
        GLOBAL_SHORTCUT,
        MESSAGE_SHORTCUT,
        BLOCK_SUGGESTION,
        ATTACHMENT_ACTION,
        DIALOG_SUBMISSION,
    )
}
