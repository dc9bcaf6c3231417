"""Answers streamed into Slack as the model writes them (STREAMING=on), end to end: the real
bridge, the fake OpenAI streaming a background response, the fake Slack keeping streams."""

from __future__ import annotations

import pytest

from tests.conftest import ON_POSTGRES
from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess
from tests.e2e.replies import answers
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback, mention_event
from tests.fakes.slack_store import StreamRec

LONG = " ".join(f"word{i}" for i in range(120))


def ended_stream(slack: FakeSlack, channel: str, count: int = 1) -> list[StreamRec]:
    """Wait until `count` streams in `channel` have ended; return them all."""

    def ended() -> list[StreamRec]:
        streams = slack.streams(channel)
        done = [s for s in streams if s.state != "streaming"]
        return streams if len(done) >= count else []

    return slack.wait_for(ended)


def settle_streamed(bridge: BridgeProcess, slack: FakeSlack) -> None:
    """Answer a sentinel DM end to end (streamed): what was to happen before has happened."""
    sentinel = dm_event("U99", "sentinel")
    assert bridge.send(event_callback(sentinel))[0] == 200
    ended_stream(slack, sentinel["channel"])


def stream_answer(openai: FakeOpenAI, text: str, *, first: float, spread: float) -> None:
    openai.responder = lambda context: text
    openai.stream_first_token = first
    openai.stream_spread = spread
    openai.latency = first + spread


def test_a_dm_answer_streams_as_it_is_written_and_ends_as_the_whole_answer_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, LONG, first=0.3, spread=2.0)
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "tell me a lot")
    bridge.send(event_callback(event))
    [stream] = ended_stream(slack, event["channel"])
    # Text was visible in Slack well before the model's last token.
    assert stream.timeline[0][0] < stream.started_at + 1.0
    shown_early = [length for at, length in stream.timeline if at < stream.timeline[-1][0] - 0.5]
    assert shown_early and 0 < max(shown_early) < len(LONG)
    # In the thread of the question, by the app, ended by it with the feedback buttons.
    assert stream.thread_ts == event["ts"] and stream.ended_by == "app"
    assert slack.visible_text(event["channel"], stream.ts) == LONG
    assert [b["type"] for b in stream.final_blocks or []] == ["context_actions"]
    # Nothing else was posted, and no status poll was needed while the stream flowed.
    assert answers(slack, event["channel"]) == []
    assert openai.calls("GET", r"^/v1/responses/[^/]+$") == []


def test_a_mention_streams_to_the_asker_in_the_mentions_thread(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, "the channel's answer", first=0.2, spread=0.5)
    bridge = start_bridge(STREAMING="on")
    event = mention_event("U7", "<@UBOT> what now?", channel="C1")
    bridge.send(event_callback(event))
    [stream] = ended_stream(slack, "C1")
    assert (stream.thread_ts, stream.recipient_user_id) == (event["ts"], "U7")
    assert stream.recipient_team_id == "T0TEST"
    assert slack.visible_text("C1", stream.ts) == "the channel's answer"


def test_a_dropped_stream_is_resumed_after_its_last_event_and_nothing_is_repeated(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, LONG, first=0.2, spread=1.5)
    openai.drop_streams_after(12, times=1)
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "keep going")
    bridge.send(event_callback(event))
    [stream] = ended_stream(slack, event["channel"])
    assert slack.visible_text(event["channel"], stream.ts) == LONG
    calls = openai.stream_calls
    assert [c.kind for c in calls] == ["create", "resume"]
    assert calls[1].starting_after == 11  # right after the last event read


def test_a_stream_silent_after_a_kill_ends_with_the_whole_answer_after_a_restart(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, LONG, first=0.2, spread=3.0)
    first = start_bridge(STREAMING="on")
    event = dm_event("U1", "a long one")
    first.send(event_callback(event))
    # An append follows the start only once the stream message is recorded (the moment
    # between Slack's answer to chat.startStream and that write is not covered: a start
    # lost there leaves its first words beside the answer; see docs/design.md).
    slack.wait_for(lambda: slack.calls("chat.appendStream"))
    first.kill()  # mid-stream: Slack shows part of the answer
    start_bridge(STREAMING="on")

    def answered() -> bool:
        streams = slack.streams(event["channel"])
        return bool(streams) and slack.visible_text(event["channel"], streams[0].ts) == LONG

    slack.wait_for(answered, timeout=30)
    # One message: the stream the killed process started, ended with the whole answer.
    assert len(slack.streams(event["channel"])) == 1
    assert answers(slack, event["channel"]) == []
    assert len(openai.responses_created()) == 1


def test_slack_rate_limiting_appends_still_ends_with_every_answer_complete_and_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, LONG, first=0.1, spread=1.0)
    slack.rate_limits["chat.appendStream"] = (2, 1.0)
    bridge = start_bridge(STREAMING="on")
    events = [dm_event(f"U{i}", f"question {i}") for i in range(4)]
    for event in events:
        bridge.send(event_callback(event))
    for event in events:
        [stream] = ended_stream(slack, event["channel"])
        assert slack.visible_text(event["channel"], stream.ts) == LONG
        assert answers(slack, event["channel"]) == []
    assert slack.throttled("chat.appendStream")


def test_a_stream_that_slack_ended_early_is_finished_by_an_update(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, LONG, first=0.2, spread=2.0)
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "then Slack ends it")
    bridge.send(event_callback(event))
    [stream] = slack.wait_for(lambda: [s for s in slack.streams(event["channel"]) if s.text])
    slack.expire_stream(event["channel"], stream.ts)  # appends now answer an error
    slack.wait_for(lambda: slack.visible_text(event["channel"], stream.ts) == LONG, timeout=15)
    assert slack.calls("chat.update")
    assert answers(slack, event["channel"]) == []


def test_an_error_event_in_the_stream_gets_the_usual_clear_message(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, LONG, first=0.2, spread=1.0)
    openai.stream_error_after = 8
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "this one fails")
    bridge.send(event_callback(event))

    def says_error() -> bool:
        streams = slack.streams(event["channel"])
        shown = [slack.visible_text(event["channel"], s.ts) for s in streams]
        posted = [p.get("text", "") for p in answers(slack, event["channel"])]
        return any("ran into an error" in text for text in shown + posted)

    slack.wait_for(says_error, timeout=15)


def test_a_server_that_ignores_stream_is_polled_and_answered_as_before(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.stream_ignored = True
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "no stream here")
    bridge.send(event_callback(event))
    slack.wait_for(lambda: answers(slack, event["channel"]))
    assert openai.calls("GET", r"^/v1/responses/[^/]+$")
    assert slack.streams(event["channel"]) == []


def test_streaming_off_posts_when_done(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    bridge = start_bridge(STREAMING="off")
    event = dm_event("U1", "the old way")
    bridge.send(event_callback(event))
    slack.wait_for(lambda: answers(slack, event["channel"]))
    assert slack.streams() == []
    assert openai.stream_calls == []


def test_stop_cancels_the_run_and_keeps_what_was_said_marked_as_stopped(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, LONG, first=0.2, spread=8.0)
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "go on and on")
    channel = event["channel"]
    bridge.send(event_callback(event))
    [stream] = slack.wait_for(lambda: [s for s in slack.streams(channel) if len(s.text) > 20])
    later = dm_event("U1", "and another thing", channel=channel)
    bridge.send(event_callback(later))  # waits for the running turn
    stop = slack.press_stop(channel, event["ts"], user="U1")
    assert bridge.send(event_callback(stop))[0] == 200
    cancels = r"^/v1/responses/[^/]+/cancel$"
    openai.wait_for(lambda: openai.calls("POST", cancels))

    def stopped_text() -> str:
        text = slack.visible_text(channel, stream.ts)
        return text if text.endswith("_Stopped._") else ""

    final = slack.wait_for(stopped_text, timeout=15)
    said = final.removesuffix("\n\n_Stopped._")
    assert said and LONG.startswith(said) and len(said) < len(LONG)
    # The message sent meanwhile still gets its turn, in a stream of its own.
    streams = slack.wait_for(lambda: s if len(s := slack.streams(channel)) == 2 else [])
    assert streams[1].thread_ts == later["ts"]
    # Stop again, after the end: nothing changes, nothing more is cancelled.
    assert bridge.send(event_callback(stop))[0] == 200
    slack.wait_for(lambda: slack.streams(channel)[1].final_blocks)
    assert slack.visible_text(channel, stream.ts) == final
    assert len(openai.calls("POST", cancels)) == 1


def test_stop_pressed_by_someone_else_in_a_channel_changes_nothing(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    text = " ".join(["a channel answer"] * 20)
    stream_answer(openai, text, first=0.2, spread=2.0)
    bridge = start_bridge(STREAMING="on")
    event = mention_event("U7", "<@UBOT> explain", channel="C1")
    bridge.send(event_callback(event))
    slack.wait_for(lambda: [s for s in slack.streams("C1") if s.text])
    stop = slack.press_stop("C1", event["ts"], user="U8")
    assert bridge.send(event_callback(stop))[0] == 200
    [stream] = slack.streams("C1")
    slack.wait_for(lambda: slack.visible_text("C1", stream.ts) == text)
    assert openai.calls("POST", r"^/v1/responses/[^/]+/cancel$") == []


def test_a_refused_resume_falls_back_to_polls_and_still_ends_the_stream_once(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, LONG, first=0.2, spread=1.5)
    openai.drop_streams_after(10, times=None)
    openai.refuse_resumes(1)
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "then the stream is gone")
    bridge.send(event_callback(event))
    [stream] = slack.wait_for(lambda: slack.streams(event["channel"]))
    slack.wait_for(lambda: slack.visible_text(event["channel"], stream.ts) == LONG, timeout=20)
    assert openai.calls("GET", r"^/v1/responses/[^/]+$"), "the polls took over"
    assert len(slack.streams(event["channel"])) == 1 and answers(slack, event["channel"]) == []


@pytest.mark.skipif(not ON_POSTGRES, reason="two processes share a database only on PostgreSQL")
def test_a_takeover_mid_stream_ends_the_same_message_and_the_old_holder_adds_nothing(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, LONG, first=0.2, spread=6.0)
    holder = start_bridge(STREAMING="on")
    event = dm_event("U1", "who ends this?")
    holder.send(event_callback(event))
    [stream] = slack.wait_for(lambda: [s for s in slack.streams(event["channel"]) if s.text])
    start_bridge(STREAMING="on")
    holder.freeze()  # its lease runs out (LEASE_SECONDS=3): the other process takes over
    try:
        slack.wait_for(lambda: slack.visible_text(event["channel"], stream.ts) == LONG, timeout=30)
    finally:
        holder.thaw()
    settle_streamed(holder, slack)
    assert slack.visible_text(event["channel"], stream.ts) == LONG
    assert len(slack.streams(event["channel"])) == 1 and answers(slack, event["channel"]) == []
    assert len(openai.responses_created()) == 2  # this turn's, and the sentinel's


def test_while_the_first_words_are_awaited_slack_shows_thinking_not_the_reaction(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, "a short answer", first=0.5, spread=0.3)
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "hello?")
    bridge.send(event_callback(event))
    ended_stream(slack, event["channel"])
    [status] = [c.params for c in slack.calls("assistant.threads.setStatus")]
    assert (status["channel_id"], status["thread_ts"]) == (event["channel"], event["ts"])
    assert status["status"] and status["loading_messages"]
    assert not slack.calls("reactions.add") and not slack.calls("reactions.remove")


def test_where_slack_refuses_the_status_the_reaction_shows_and_goes(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, "a short answer", first=0.3, spread=0.3)
    slack.fail_next("assistant.threads.setStatus", error="missing_scope")
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "hello?")
    bridge.send(event_callback(event))
    ended_stream(slack, event["channel"])
    slack.wait_for(lambda: slack.calls("reactions.remove"))
    assert len(slack.calls("reactions.add")) == 1


def test_an_answer_longer_than_one_message_streams_its_first_part_and_posts_the_rest(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    answer = "\n\n".join(f"Paragraph {i}. " + "word " * 900 for i in range(4))
    stream_answer(openai, answer, first=0.2, spread=1.5)
    openai.stream_deltas = 60
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "write a book")
    bridge.send(event_callback(event))
    [stream] = ended_stream(slack, event["channel"])
    rest = slack.wait_for(lambda: answers(slack, event["channel"]))
    shown = [slack.visible_text(event["channel"], stream.ts)]
    shown += [slack.visible_text(event["channel"], post["ts"]) for post in rest]
    assert all(post.get("thread_ts") == event["ts"] for post in rest)
    assert " ".join(shown).split() == answer.split()


def test_where_slack_refuses_streams_a_top_level_dm_is_answered_at_the_top_level(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    stream_answer(openai, "posted the old way", first=0.2, spread=0.5)
    slack.stream_refusals["*"] = "channel_type_not_supported"
    bridge = start_bridge(STREAMING="on")
    event = dm_event("U1", "no streams here")
    bridge.send(event_callback(event))
    [post] = slack.wait_for(lambda: answers(slack, event["channel"]))
    assert post.get("thread_ts") is None
    assert slack.visible_text(event["channel"], post["ts"]) == "posted the old way"
