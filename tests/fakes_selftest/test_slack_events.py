"""Signed Slack requests: signatures agree with slack_sdk, envelopes look like Slack's."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from tests.fakes import slack_events as events
from tests.fakes.slack_api import FakeSlack

SECRET = "signing-secret"


def test_signature_matches_slack_sdk_verifier() -> None:
    body = events.encode(events.event_callback(events.dm_event("U1", "hi")))
    now = int(time.time())
    headers = events.sign(SECRET, body, now)
    verifier = SignatureVerifier(SECRET)
    assert headers["X-Slack-Signature"] == verifier.generate_signature(
        timestamp=str(now), body=body
    )
    assert verifier.is_valid_request(body, headers)
    assert headers["Content-Type"] == "application/json"
    assert not SignatureVerifier("other").is_valid_request(body, headers)


def test_envelopes_and_events_look_like_slack() -> None:
    dm = events.dm_event("U1", "hello")
    mention = events.mention_event("U2", "what's up", channel="C1")
    first, second = events.event_callback(dm), events.event_callback(mention)
    assert first["event_id"] != second["event_id"] and first["type"] == "event_callback"
    assert (dm["channel"], dm["channel_type"]) == ("D0DMU1", "im")
    assert mention["text"].startswith("<@UBOT> ") and mention["type"] == "app_mention"
    assert float(mention["ts"]) > float(dm["ts"])
    form = parse_qs(
        events.slash_command_form(text="reset", user_id="U3", channel_id="D0DMU3").decode()
    )
    assert form["command"] == ["/assistant"] and form["text"] == ["reset"]


def test_post_signed_reaches_a_server(slack: FakeSlack) -> None:
    url = slack.response_url("cmd")
    status, text = events.post_signed(
        url, json.dumps({"text": "done"}).encode(), SECRET, content_type=events.JSON, retry_num=1
    )
    assert (status, text) == (200, "ok")
    assert slack.response_url_posts("cmd") == [{"text": "done"}]
    status, _ = events.post_signed(slack.url + "/nowhere", b"x=1", SECRET, content_type=events.FORM)
    assert status == 404
