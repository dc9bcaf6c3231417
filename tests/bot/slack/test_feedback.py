"""The feedback buttons an answer carries, and a press of them read back from Slack's payload."""

from __future__ import annotations

from bot.slack.feedback import FEEDBACK_ACTION_ID, feedback_blocks, read_press
from tests.fakes.slack_interactions import feedback_press


def test_the_buttons_fit_slacks_limits_and_read_back_as_the_press_they_make() -> None:
    [block] = feedback_blocks(turn_id=12, assistant="a" * 100)
    [buttons] = block["elements"]
    assert (block["type"], buttons["type"]) == ("context_actions", "feedback_buttons")
    for which in ("positive_button", "negative_button"):
        assert len(buttons[which]["value"]) <= 2000
        assert len(buttons[which]["text"]["text"]) <= 75
    message = {"ts": "5.5", "thread_ts": "5.0"}
    body = feedback_press(message, channel="C1", value=buttons["negative_button"]["value"])
    pressed = read_press(body, body["actions"][0])
    assert pressed is not None
    assert (pressed.vote, pressed.turn_id, pressed.assistant) == ("down", 12, "a" * 100)
    assert (pressed.channel_id, pressed.message_ts, pressed.thread_ts) == ("C1", "5.5", "5.0")


def test_a_press_on_an_answer_at_the_top_of_a_dm_has_no_thread_and_others_are_not_ours() -> None:
    [block] = feedback_blocks(turn_id=3, assistant="tutor")
    value = block["elements"][0]["positive_button"]["value"]
    body = feedback_press({"ts": "9.9"}, channel="D1", value=value, action_id=FEEDBACK_ACTION_ID)
    pressed = read_press(body, body["actions"][0])
    assert pressed is not None and (pressed.vote, pressed.thread_ts) == ("up", None)
    for foreign in ("positive_feedback", "up", "sideways:3:tutor", ""):
        other = feedback_press({"ts": "9.9"}, channel="D1", value=foreign)
        assert read_press(other, other["actions"][0]) is None
