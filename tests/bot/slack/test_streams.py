"""Answers streamed into the fake Slack through the real AsyncWebClient (built as the bridge
builds it): the first text shows at once, and whatever happens on the way the message ends
reading exactly as the reply part, once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.slack.client import build_client
from bot.slack.pacing import APPEND, StreamPacer
from bot.slack.poster import REPLY_EVENT_TYPE, SlackPoster
from bot.slack.render import fallback_text, markdown_blocks
from bot.slack.streams import LiveAnswer, end_stream
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_store import TEAM_ID

DM, THREAD = "D0DMU1", "1710000000.000100"
FEEDBACK = [
    {
        "type": "context_actions",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": "feedback",
                "positive_button": {"text": {"type": "plain_text", "text": "👍"}, "value": "up"},
                "negative_button": {"text": {"type": "plain_text", "text": "👎"}, "value": "down"},
            }
        ],
    }
]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.add_message(DM, "question", ts=THREAD, user="U1")
        yield fake
        assert fake.server_errors() == []


@asynccontextmanager
async def bridge_client(slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    """The bridge's own client (with its retry handlers), on the fake Slack."""
    settings = Settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret="secret",
        openai_api_key="sk-test",
        slack_api_url=slack.url + "/api/",
    )
    async with aiohttp.ClientSession() as http:
        yield build_client(settings, http)


class Starts:
    """on_started: the ts Slack answered, and what had been called by then."""

    def __init__(self, slack: FakeSlack, *, hold: float = 0.0) -> None:
        self.slack, self.hold = slack, hold
        self.ts: list[str] = []
        self.calls_by_then: list[str] = []

    async def __call__(self, ts: str) -> None:
        self.ts.append(ts)
        await asyncio.sleep(self.hold)  # a slow database write
        self.calls_by_then = [c.method for c in self.slack.calls()]


def answer_in(
    client: AsyncWebClient,
    pacer: StreamPacer,
    starts: Callable[[str], Any],
    *,
    thread_ts: str = THREAD,
    **tuning: Any,
) -> LiveAnswer:
    return LiveAnswer(
        client,
        pacer,
        team_id=TEAM_ID,
        channel=DM,
        thread_ts=thread_ts,
        recipient_user_id=None,
        on_started=starts,
        **tuning,
    )


async def until(check: Callable[[], object], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def methods(slack: FakeSlack) -> list[str]:
    return [c.method for c in slack.calls() if c.method.startswith("chat.")]


def metadata(reply_id: int) -> dict[str, Any]:
    return {"event_type": REPLY_EVENT_TYPE, "event_payload": {"reply_id": reply_id}}


def test_the_first_text_shows_at_once_and_the_stop_carries_the_rest(slack: FakeSlack) -> None:
    async def scenario() -> tuple[str | None, float, str | None]:
        async with bridge_client(slack) as client:
            starts = Starts(slack)
            # Appends would wait 30 s: what shows comes with the start, at once.
            answer = answer_in(client, StreamPacer(), starts, flush_interval=30, flush_chars=10**6)
            began = time.monotonic()
            answer.write("Hel")
            await until(lambda: slack.messages(DM, THREAD)[1:] != [])
            latency = time.monotonic() - began
            answer.write("lo, world")
            ts = await answer.finish("Hello, world", reply_id=7, extra_blocks=FEEDBACK)
            found = await SlackPoster(client).find_reply(
                channel=DM, thread_ts=THREAD, reply_id=7, since=time.time() - 60
            )
            assert starts.ts == [ts]
            return ts, latency, found

    ts, latency, found = asyncio.run(scenario())
    assert ts is not None and found == ts  # delivery's look-up knows the part is there
    assert latency < 5.0
    assert methods(slack) == ["chat.startStream", "chat.stopStream"]
    stop = slack.calls("chat.stopStream")[0].params
    assert stop["chunks"] == [{"type": "markdown_text", "text": "lo, world"}]
    assert slack.visible_text(DM, ts) == "Hello, world"
    message = slack.messages(DM, THREAD)[1]
    assert message["metadata"] == metadata(7) and message["blocks"][-1:] == FEEDBACK
    rec = slack.stream(DM, ts)
    assert rec is not None and rec.timeline[1][1] == 3  # "Hel" was visible first


def test_appends_are_coalesced_and_wait_for_on_started(slack: FakeSlack) -> None:
    words = [f"w{n} " for n in range(50)]

    async def scenario() -> tuple[str | None, float, Starts]:
        async with bridge_client(slack) as client:
            starts = Starts(slack, hold=0.3)
            pacer = StreamPacer(append_per_minute=1200)  # one stream: 0.05 s apart at most
            answer = answer_in(client, pacer, starts, flush_interval=0.1, flush_chars=60)
            for word in words:
                answer.write(word)
                await asyncio.sleep(0.02)  # the model's pace, past on_started's 0.3 s
            finishing = time.monotonic()
            ts = await answer.finish("".join(words), reply_id=1, extra_blocks=[])
            return ts, finishing, starts

    ts, finishing, starts = asyncio.run(scenario())
    assert ts is not None
    # Nothing else went to Slack while on_started was still recording the ts.
    assert [m for m in starts.calls_by_then if m.startswith("chat.")] == ["chat.startStream"]
    appends = slack.calls("chat.appendStream")
    assert 2 <= len(appends) <= 15  # 50 writes, few calls
    rec = slack.stream(DM, ts)
    assert rec is not None and rec.text == "".join(words)
    # The text grew in steps while the model was still writing.
    assert len([n for t, n in rec.timeline if t < finishing and 0 < n < len(rec.text)]) >= 2
    assert methods(slack).count("chat.update") == 0


def test_a_re_rendered_answer_is_stopped_and_updated_to_its_part(slack: FakeSlack) -> None:
    final = "The **final** answer [1]\n\n**Sources**\n1. example.com"

    async def scenario() -> str | None:
        async with bridge_client(slack) as client:
            answer = answer_in(client, StreamPacer(), Starts(slack))
            answer.write("The draft")
            await until(lambda: answer.shown == "The draft")
            return await answer.finish(final, reply_id=3, extra_blocks=FEEDBACK)

    ts = asyncio.run(scenario())
    assert ts is not None
    assert methods(slack) == ["chat.startStream", "chat.stopStream", "chat.update"]
    assert slack.visible_text(DM, ts) == final
    message = slack.messages(DM, THREAD)[1]
    assert message["blocks"] == markdown_blocks(final) + FEEDBACK
    assert message["text"] == fallback_text(final) and message["metadata"] == metadata(3)


def test_a_stream_that_expired_mid_answer_is_updated_to_the_whole_part(slack: FakeSlack) -> None:
    async def scenario() -> tuple[str | None, LiveAnswer]:
        async with bridge_client(slack) as client:
            answer = answer_in(client, StreamPacer(), Starts(slack), flush_interval=0.05)
            answer.write("Part one. ")
            await until(lambda: answer.ts is not None and answer.shown == "Part one. ")
            assert answer.ts is not None
            slack.expire_stream(DM, answer.ts)
            answer.write("Part two.")
            await until(lambda: answer.broken)
            ts = await answer.finish("Part one. Part two.", reply_id=4, extra_blocks=[])
            return ts, answer

    ts, answer = asyncio.run(scenario())
    assert ts is not None and answer.shown == "Part one. "
    assert slack.visible_text(DM, ts) == "Part one. Part two."
    rec = slack.stream(DM, ts)
    assert rec is not None and rec.state == "expired"
    assert methods(slack).count("chat.update") == 1


def test_a_refused_start_leaves_the_part_to_be_posted(slack: FakeSlack) -> None:
    slack.stream_refusals["*"] = "messages_tab_disabled"

    async def scenario() -> tuple[str | None, Starts]:
        async with bridge_client(slack) as client:
            starts = Starts(slack)
            answer = answer_in(client, StreamPacer(), starts)
            answer.write("Hello")
            await until(lambda: answer.broken)
            answer.write(" more")
            return await answer.finish("Hello more", reply_id=5, extra_blocks=[]), starts

    ts, starts = asyncio.run(scenario())
    assert ts is None and starts.ts == []
    assert methods(slack) == ["chat.startStream"]
    assert slack.messages(DM, THREAD)[1:] == []


def test_429s_on_appends_pause_every_stream_of_the_workspace(slack: FakeSlack) -> None:
    """Slack allows 2 appends a second here (Retry-After: 1): the 429 one stream gets holds
    back the other stream too, and both answers still end whole and exact."""
    slack.rate_limits["chat.appendStream"] = (2, 1.0)
    second_thread = slack.add_message(DM, "another question", user="U1")
    texts = {THREAD: "", second_thread: ""}
    throttled_at: list[float] = []
    paused_for: list[float] = []
    pacer = StreamPacer(append_per_minute=6000)  # more than this workspace allows

    async def write_for(answer: LiveAnswer, thread: str) -> None:
        for n in range(80):
            piece = f"{thread[-3:]}-{n} "
            texts[thread] += piece
            answer.write(piece)
            if not throttled_at and slack.throttled():
                throttled_at.append(time.monotonic())
                paused_for.append(pacer.wait_time(TEAM_ID, APPEND))
            await asyncio.sleep(0.025)

    async def scenario() -> dict[str, str | None]:
        async with bridge_client(slack) as client:
            tuning: dict[str, Any] = {"flush_interval": 0.05, "flush_chars": 1}
            answers = {
                t: answer_in(client, pacer, Starts(slack), thread_ts=t, **tuning) for t in texts
            }
            await asyncio.gather(*(write_for(a, t) for t, a in answers.items()))
            return {
                t: await a.finish(texts[t], reply_id=n, extra_blocks=[])
                for n, (t, a) in enumerate(answers.items())
            }

    ended = asyncio.run(scenario())
    assert throttled_at, "Slack's limit was never reached"
    # The pacer saw the 429 (slack_sdk's handler did not sleep it away inside the call).
    assert 0.5 < paused_for[0] <= 1.0
    # Unpaused, two streams flushing every 0.05 s would meet dozens of 429s in 2 s; paused,
    # a 429 comes about once a second (the calls in flight when the window fills).
    assert len(slack.throttled("chat.appendStream")) <= 6
    for thread, ts in ended.items():
        assert ts is not None and slack.visible_text(DM, ts) == texts[thread]
        rec = slack.stream(DM, ts)
        assert rec is not None
        during_pause = [
            t for t, _ in rec.timeline if throttled_at[0] + 0.1 < t < throttled_at[0] + 0.8
        ]
        assert during_pause == []  # neither stream appended while the workspace waited


def test_no_stream_starts_once_the_start_budget_is_spent(slack: FakeSlack) -> None:
    pacer = StreamPacer(start_per_minute=1)
    later_thread = slack.add_message(DM, "again", user="U1")

    async def scenario() -> tuple[str | None, str | None, bool]:
        async with bridge_client(slack) as client:
            first = answer_in(client, pacer, Starts(slack))
            first.write("First")
            await until(lambda: first.ts is not None)
            allowed = pacer.may_start(TEAM_ID)
            second = answer_in(client, pacer, Starts(slack), thread_ts=later_thread)
            second.write("Second")
            ended_second = await second.finish("Second", reply_id=2, extra_blocks=[])
            return await first.finish("First", reply_id=1, extra_blocks=[]), ended_second, allowed

    first_ts, second_ts, allowed = asyncio.run(scenario())
    assert first_ts is not None and second_ts is None and not allowed
    assert methods(slack).count("chat.startStream") == 1
    assert pacer.may_start("T0OTHER")  # another workspace's budget is its own


def test_task_cards_start_the_stream_and_end_in_their_last_state(slack: FakeSlack) -> None:
    sources = [("https://example.com/a", "Example A")]

    async def scenario() -> str | None:
        async with bridge_client(slack) as client:
            answer = answer_in(client, StreamPacer(), Starts(slack), flush_interval=30)
            answer.task("s1", "Searching the web", "in_progress", sources)
            await until(lambda: answer.ts is not None)
            answer.write("Found it.")
            answer.task("s1", "Searching the web", "complete", sources)
            return await answer.finish("Found it.", reply_id=6, extra_blocks=[])

    ts = asyncio.run(scenario())
    assert ts is not None
    rec = slack.stream(DM, ts)
    assert rec is not None
    assert rec.tasks["s1"]["status"] == "complete"
    assert rec.tasks["s1"]["sources"] == [
        {"type": "url", "url": "https://example.com/a", "text": "Example A"}
    ]
    assert slack.visible_text(DM, ts) == "Found it." and "chat.update" not in methods(slack)


def test_end_stream_ends_a_live_or_stopped_stream_the_same_way_each_time(slack: FakeSlack) -> None:
    final = "The whole answer."

    async def scenario() -> list[tuple[str, Any]]:
        seen: list[tuple[str, Any]] = []
        async with bridge_client(slack) as client:
            answer = answer_in(client, StreamPacer(), Starts(slack))
            answer.write("The who")
            await until(lambda: answer.shown == "The who")
            await answer.abort()  # this process gave the turn up
            assert answer.ts is not None
            for _ in range(2):  # a takeover, then a retry of it
                ts = await end_stream(
                    client,
                    channel=DM,
                    ts=answer.ts,
                    markdown=final,
                    reply_id=8,
                    extra_blocks=FEEDBACK,
                )
                seen.append((slack.visible_text(DM, ts), slack.messages(DM, THREAD)[1]["blocks"]))
            rec = slack.stream(DM, answer.ts)
            assert rec is not None and (rec.state, rec.ended_by) == ("stopped", "app")
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == seen[1] == (final, markdown_blocks(final) + FEEDBACK)
    assert slack.messages(DM, THREAD)[1]["metadata"] == metadata(8)


def test_end_stream_after_a_finish_gives_the_same_text(slack: FakeSlack) -> None:
    async def scenario() -> str:
        async with bridge_client(slack) as client:
            answer = answer_in(client, StreamPacer(), Starts(slack))
            answer.write("Done")
            await until(lambda: answer.ts is not None)
            ts = await answer.finish("Done.", reply_id=9, extra_blocks=[])
            assert ts is not None and slack.visible_text(DM, ts) == "Done."
            return await end_stream(
                client, channel=DM, ts=ts, markdown="Done.", reply_id=9, extra_blocks=[]
            )

    ts = asyncio.run(scenario())
    assert slack.visible_text(DM, ts) == "Done."
    assert len(slack.messages(DM, THREAD)) == 2


def test_the_stream_never_holds_more_than_one_message(slack: FakeSlack) -> None:
    text = "".join(f"line {n:03d}\n" for n in range(30))  # 270 characters

    async def scenario() -> tuple[str | None, str | None]:
        async with bridge_client(slack) as client:
            long = answer_in(
                client, StreamPacer(), Starts(slack), max_chars=100, flush_interval=0.02
            )
            for n in range(0, len(text), 30):
                long.write(text[n : n + 30])
                await asyncio.sleep(0.03)
            exact = await long.finish(text[:100], reply_id=10, extra_blocks=[])
            other_thread = slack.add_message(DM, "again", user="U1")
            cut = answer_in(
                client, StreamPacer(), Starts(slack), thread_ts=other_thread, max_chars=100
            )
            cut.write(text)
            await until(lambda: cut.ts is not None)
            # The part ends at a line break before the limit: the message is updated to it.
            return exact, await cut.finish(text[:90], reply_id=11, extra_blocks=[])

    exact, cut = asyncio.run(scenario())
    assert exact is not None and cut is not None
    for ts, expected in ((exact, text[:100]), (cut, text[:90])):
        rec = slack.stream(DM, ts)
        assert rec is not None and max(n for _, n in rec.timeline) <= 100
        assert slack.visible_text(DM, ts) == expected


def test_a_large_answer_goes_in_calls_of_at_most_12000_characters(slack: FakeSlack) -> None:
    text = "x" * 25_000

    async def scenario() -> tuple[str | None, bool]:
        async with bridge_client(slack) as client:
            answer = answer_in(
                client, StreamPacer(), Starts(slack), max_chars=30_000, flush_interval=0.02
            )
            answer.write(text)
            await until(lambda: len(answer.shown) == len(text) or answer.broken)
            broken = answer.broken
            return await answer.finish(text, reply_id=12, extra_blocks=[]), broken

    ts, broken = asyncio.run(scenario())
    assert ts is not None and not broken
    sizes = [
        sum(len(c.get("text", "")) for c in call.params["chunks"])
        for call in slack.calls()
        if call.method in ("chat.startStream", "chat.appendStream")
    ]
    assert sizes == [12_000, 12_000, 1_000]
    assert slack.visible_text(DM, ts) == text


def test_a_failing_on_started_stops_the_appends_and_finish_still_ends_the_message(
    slack: FakeSlack,
) -> None:
    async def failing(ts: str) -> None:
        raise RuntimeError("database is gone")

    async def scenario() -> str | None:
        async with bridge_client(slack) as client:
            answer = answer_in(client, StreamPacer(), failing, flush_interval=0.01)
            answer.write("Hello")
            await until(lambda: answer.broken)
            answer.write(" world")
            return await answer.finish("Hello world", reply_id=13, extra_blocks=[])

    ts = asyncio.run(scenario())
    assert ts is not None
    assert methods(slack) == ["chat.startStream", "chat.stopStream", "chat.update"]
    assert slack.visible_text(DM, ts) == "Hello world"
