"""Delivery against the fake Slack: earlier posts and uploads are found however far back
the history runs and never confused with an earlier turn's, and a delivery keeps nothing
of a turn in memory once it ends, however it ends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.backends.citations import GeneratedFile
from bot.config import Settings
from bot.slack.client import build_client
from bot.slack.delivery import Deliverer
from bot.slack.poster import SlackPoster
from bot.slack.status import StatusBoard
from storage import finish, inbox
from storage.db import Database
from storage.migrate import migrate
from storage.models import Reply, Turn
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_ts import next_ts
from tests.turn_rows import dm_message, open_turn_over_pending

OWNER = "me"
LEASE = timedelta(seconds=30)
CHART = GeneratedFile("cfile_chart", "chart.png", "cntr_1")


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
        assert fake.server_errors() == []


@dataclass
class Rig:
    db: Database
    poster: SlackPoster
    status: StatusBoard
    deliverer: Deliverer


@asynccontextmanager
async def rig(
    database_url: str,
    slack: FakeSlack,
    *,
    files: dict[str, bytes] | None = None,
    max_remembered: int = 10_000,
) -> AsyncIterator[Rig]:
    """The real Deliverer, StatusBoard and SlackPoster, on the fake Slack; the assistant's
    files are served from `files` (by file id)."""
    settings = Settings(
        slack_bot_token=slack.bot_token,
        slack_signing_secret="secret",
        openai_api_key="sk-test",
        slack_api_url=slack.url + "/api/",
        database_url=database_url,
    )
    served = files or {}

    async def download(file: GeneratedFile, *, max_bytes: int) -> bytes:
        if file.file_id not in served:
            raise RuntimeError(f"a bug: {file.file_id} was never made")
        return served[file.file_id]

    db = Database(database_url)
    async with aiohttp.ClientSession() as http:
        poster = SlackPoster(build_client(settings, http))
        status = StatusBoard(db=db, poster=poster, max_remembered=max_remembered)
        deliverer = Deliverer(
            db=db, poster=poster, owner=OWNER, lease=LEASE, download=download, status=status
        )
        try:
            yield Rig(db, poster, status, deliverer)
        finally:
            await db.close()


async def open_turn(db: Database, *, user: str = "U1", thread_ts: str | None = None) -> Turn:
    """A DM from `user` (channel D<user>) and the turn over it, held by this process."""
    async with db.session() as session:
        await inbox.enqueue_message(
            session=session, message=dm_message(user, next_ts(), thread_ts=thread_ts)
        )
        return await open_turn_over_pending(session, key=f"user:T/{user}", owner=OWNER, lease=LEASE)


async def finished_turn(
    db: Database,
    *,
    thread_ts: str | None = None,
    parts: tuple[str, ...] = (),
    files: tuple[GeneratedFile, ...] = (),
) -> tuple[Turn, list[Reply]]:
    turn = await open_turn(db, thread_ts=thread_ts)
    async with db.session(single=True) as session:
        added = await finish.finish_turn(
            session=session,
            turn=turn,
            owner=OWNER,
            outcome="completed",
            parts=list(parts),
            files=[json.dumps(asdict(file)) for file in files],
            lease=LEASE,
            polls=1,
        )
    return turn, added


def reply_row(db: Engine, reply_id: int | None) -> tuple[str, str | None]:
    with db.connect() as connection:
        row = connection.execute(
            text("SELECT status, posted_ts FROM reply WHERE id = :id"), {"id": reply_id}
        ).one()
    return str(row[0]), row[1]


# Earlier posts, however far back --------------------------------------------------------
def test_a_post_that_reached_slack_is_found_on_a_later_page_of_the_channel(
    database_url: str, db: Engine, slack: FakeSlack
) -> None:
    migrate(database_url)

    async def scenario() -> tuple[int | None, str]:
        async with rig(database_url, slack) as r:
            turn, [part] = await finished_turn(r.db, parts=("the answer",))
            assert part.id is not None and turn.id is not None
            # The first try reached Slack but its answer was lost: the part is not marked
            # posted, and 250 messages came after it before delivery was tried again.
            first = await r.poster.post_reply(
                channel="DU1", thread_ts=None, markdown="the answer", reply_id=part.id
            )
            for n in range(250):
                slack.add_message("DU1", f"later message {n}")
            await r.deliverer.deliver(turn.id)
            return part.id, first

    reply_id, first = asyncio.run(scenario())
    assert [post["ts"] for post in slack.posts("DU1")] == [first]
    assert reply_row(db, reply_id) == ("posted", first)
    assert len(slack.calls("conversations.history")) == 2  # newest first: found on page 2


def test_a_post_that_reached_slack_is_found_on_a_later_page_of_a_busy_thread(
    database_url: str, db: Engine, slack: FakeSlack
) -> None:
    migrate(database_url)
    root = f"{time.time() - 3600:.6f}"  # an hour-old thread
    slack.add_message("DU1", "the question", ts=root)

    async def scenario() -> tuple[int | None, str]:
        async with rig(database_url, slack) as r:
            turn, [part] = await finished_turn(r.db, thread_ts=root, parts=("the answer",))
            assert part.id is not None and turn.id is not None and part.sending_at is not None
            # 250 replies landed in the seconds between the part's creation and its post
            # (Slack's clock a little behind ours), so it is on the thread's second page.
            start = part.sending_at.timestamp() - 2.0
            for n in range(250):
                ts = f"{start + n / 1000:.6f}"
                slack.add_message("DU1", f"reply {n}", ts=ts, thread_ts=root)
            first = await r.poster.post_reply(
                channel="DU1", thread_ts=root, markdown="the answer", reply_id=part.id
            )
            await r.deliverer.deliver(turn.id)
            return part.id, first

    reply_id, first = asyncio.run(scenario())
    assert [post["ts"] for post in slack.posts("DU1")] == [first]
    assert reply_row(db, reply_id) == ("posted", first)
    assert len(slack.calls("conversations.replies")) == 2


# Uploads: this part's, not an earlier turn's of the same name -----------------------------
def test_an_earlier_turns_upload_of_the_same_name_does_not_stop_this_turns_upload(
    database_url: str, db: Engine, slack: FakeSlack
) -> None:
    migrate(database_url)
    root = slack.add_message("DU1", "chart it")
    new_chart = b"\x89PNG new chart" + b"\x00" * 200

    async def scenario() -> int | None:
        async with rig(database_url, slack, files={CHART.file_id: new_chart}) as r:
            # The previous turn's chart.png, a moment ago in the same thread.
            await r.poster.upload_file(
                channel="DU1", thread_ts=root, filename="chart.png", content=b"\x89PNG old"
            )
            turn, [part] = await finished_turn(r.db, thread_ts=root, files=(CHART,))
            assert turn.id is not None
            await r.deliverer.deliver(turn.id)  # a retry: it looks before it uploads
            return part.id

    reply_id = asyncio.run(scenario())
    old, new = slack.uploads()
    assert (old.filename, old.content) == ("chart.png", b"\x89PNG old")
    assert (new.filename, new.content, new.thread_ts) == ("chart.png", new_chart, root)
    assert reply_row(db, reply_id) == ("posted", new.file_id)


def test_this_parts_own_upload_is_found_beside_an_earlier_one_of_the_same_name(
    database_url: str, db: Engine, slack: FakeSlack
) -> None:
    migrate(database_url)
    root = slack.add_message("DU1", "chart it")
    new_chart = b"\x89PNG new chart" + b"\x00" * 200

    async def scenario() -> int | None:
        async with rig(database_url, slack, files={CHART.file_id: new_chart}) as r:
            await r.poster.upload_file(
                channel="DU1", thread_ts=root, filename="chart.png", content=b"\x89PNG old"
            )
            turn, [part] = await finished_turn(r.db, thread_ts=root, files=(CHART,))
            assert turn.id is not None
            # The first try uploaded it; the answer was lost before it was recorded.
            await r.poster.upload_file(
                channel="DU1", thread_ts=root, filename="chart.png", content=new_chart
            )
            await r.deliverer.deliver(turn.id)
            return part.id

    reply_id = asyncio.run(scenario())
    _earlier, new = slack.uploads()  # nothing uploaded a third time
    assert new.content == new_chart
    assert reply_row(db, reply_id) == ("posted", new.file_id)


# Nothing of a turn stays in memory once its delivery ends ---------------------------------
@pytest.mark.parametrize(
    ("error", "status"),
    [("internal_error", "pending"), ("invalid_blocks", "failed")],
    ids=["postponed", "failed for good"],
)
def test_a_delivery_that_stops_early_keeps_nothing_of_the_turn_in_memory(
    error: str, status: str, database_url: str, db: Engine, slack: FakeSlack
) -> None:
    migrate(database_url)

    def status_lines() -> int:
        return len([m for m in slack.messages("DU1") if m["text"] == "_Running code…_"])

    async def scenario() -> tuple[int | None, bool, bool, int]:
        async with rig(database_url, slack) as r:
            turn, parts = await finished_turn(r.db, parts=("first", "second"))
            assert turn.id is not None
            await r.status.show(turn, "running code")
            assert r.status.remembers(turn.id)
            slack.fail_next("chat.postMessage", error=error)
            await r.deliverer.deliver_new(parts, [])
            state = r.deliverer.in_flight(turn.id), r.status.remembers(turn.id), status_lines()
            if status == "pending":
                # The sweep's retry posts the answer and finds the line in the database.
                await r.deliverer.deliver(turn.id)
                assert status_lines() == 0
            return parts[0].id, *state

    reply_id, delivering, remembered, lines = asyncio.run(scenario())
    assert (delivering, remembered) == (False, False)
    if status == "pending":
        assert lines == 1  # until the answer is posted
        assert [m["text"] for m in slack.messages("DU1")] == ["first", "second"]
    else:
        assert lines == 0  # the turn's reply is given up: its status line goes too
        assert reply_row(db, reply_id)[0] == "failed"


def test_a_delivery_that_raises_keeps_nothing_of_the_turn_in_memory(
    database_url: str, slack: FakeSlack
) -> None:
    migrate(database_url)
    lost = GeneratedFile("cfile_never_made", "ghost.png", "cntr_1")

    async def scenario() -> tuple[bool, bool]:
        async with rig(database_url, slack) as r:
            turn, parts = await finished_turn(r.db, parts=("the answer",), files=(lost,))
            assert turn.id is not None
            await r.status.show(turn, "running code")
            with pytest.raises(RuntimeError, match="a bug"):
                await r.deliverer.deliver_new(parts, [])
            return r.deliverer.in_flight(turn.id), r.status.remembers(turn.id)

    assert asyncio.run(scenario()) == (False, False)


def test_status_lines_remembered_are_bounded_and_a_forgotten_one_is_still_deleted(
    database_url: str, slack: FakeSlack
) -> None:
    migrate(database_url)

    async def scenario() -> list[bool]:
        async with rig(database_url, slack, max_remembered=2) as r:
            opened = [await open_turn(r.db, user=user) for user in ("U1", "U2", "U3")]
            for turn in opened:
                await r.status.show(turn, "running code")
            remembered = [r.status.remembers(turn.id or 0) for turn in opened]
            # A delivery that made the turn itself asks the database only for forgotten lines.
            await r.status.clear(opened[0].id or 0, channel="DU1", look_up=False)
            return remembered

    assert asyncio.run(scenario()) == [False, True, True]
    assert slack.messages("DU1") == []
    assert len(slack.messages("DU2")) == len(slack.messages("DU3")) == 1
