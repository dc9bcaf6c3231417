"""The fake Slack pages conversations.history and .replies as Slack does: opaque cursors
that slack_sdk's own page iteration follows, `has_more`, and a cursor that survives new
messages arriving between two page reads."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.slack_api import FakeSlack


def web(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test-token", base_url=slack.url + "/api/")


def test_history_pages_newest_first_and_slack_sdk_follows_the_cursor(slack: FakeSlack) -> None:
    for n in range(7):
        slack.add_message("C1", f"m{n}")
    # slack_sdk's iteration reuses one response object: read each page as it comes.
    pages = [
        ([m["text"] for m in page["messages"]], page["has_more"], page["response_metadata"])
        for page in web(slack).conversations_history(channel="C1", limit=3)
    ]
    assert [texts for texts, _, _ in pages] == [["m6", "m5", "m4"], ["m3", "m2", "m1"], ["m0"]]
    assert [more for _, more, _ in pages] == [True, True, False]
    cursor = pages[0][2]["next_cursor"]
    assert cursor and not cursor.isdigit()  # opaque, as Slack's are
    assert pages[-1][2]["next_cursor"] == ""


def test_a_message_posted_between_two_page_reads_does_not_shift_the_cursor(
    slack: FakeSlack,
) -> None:
    for n in range(7):
        slack.add_message("C1", f"m{n}")
    client = web(slack)
    first = client.conversations_history(channel="C1", limit=3)
    slack.add_message("C1", "late")  # lands on top of the newest-first history
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_history(channel="C1", limit=3, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m3", "m2", "m1"]


def test_a_bad_cursor_is_refused(slack: FakeSlack) -> None:
    slack.add_message("C1", "m")
    with pytest.raises(SlackApiError) as caught:
        web(slack).conversations_history(channel="C1", cursor="not-a-cursor")
    assert caught.value.response["error"] == "invalid_cursor"
