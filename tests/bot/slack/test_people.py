"""users.info / conversations.info through the fake Slack: cached, shared, failures tolerated."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.people import People, Person, Place
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def _people(slack: FakeSlack, *, timeout: float = 3.0) -> People:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/")
    return People(client, timeout=timeout)


def test_a_person_is_their_display_name_title_and_time_zone(slack: FakeSlack) -> None:
    slack.users["U0ANA"] = {
        "real_name": "Ana Lima",
        "tz": "America/Sao_Paulo",
        "tz_offset": -10800,
        "profile": {"display_name": "Ana Lima", "title": "Data analyst"},
    }
    slack.users["U0BO"] = {"profile": {"display_name": "", "real_name": "Bo Berg"}}

    async def scenario() -> tuple[Person | None, Person | None]:
        people = _people(slack)
        return await people.person("U0ANA"), await people.person("U0BO")

    ana, bo = asyncio.run(scenario())
    assert ana == Person("U0ANA", "Ana Lima", "Data analyst", "America/Sao_Paulo", -10800)
    # An empty display name (common) falls back to the real name.
    assert bo is not None and bo.name == "Bo Berg"


def test_lookups_at_once_share_one_call_and_later_ones_the_cache(slack: FakeSlack) -> None:
    async def scenario() -> list[Person | None]:
        people = _people(slack)
        first = await asyncio.gather(*(people.person("U0ANA") for _ in range(5)))
        return [*first, await people.person("U0ANA")]

    found = asyncio.run(scenario())
    assert all(p is not None and p.user_id == "U0ANA" for p in found)
    assert len(slack.calls("users.info")) == 1


def test_a_failed_or_rate_limited_lookup_is_no_person_and_is_asked_again(
    slack: FakeSlack,
) -> None:
    slack.fail_next("users.info", error="user_not_visible")
    slack.fail_next("users.info", status=429, headers={"Retry-After": "30"})

    async def scenario() -> list[Person | None]:
        people = _people(slack)
        return [await people.person("U0ANA") for _ in range(3)]

    failed, limited, answered = asyncio.run(scenario())
    assert failed is None and limited is None
    assert answered is not None and answered.name == "u0ana"
    assert len(slack.calls("users.info")) == 3


def test_a_slow_lookup_gives_up_within_its_timeout(slack: FakeSlack) -> None:
    slack.hold_answer_next("users.info", 5.0)

    async def scenario() -> tuple[Person | None, float]:
        people = _people(slack, timeout=0.3)
        started = asyncio.get_running_loop().time()
        found = await people.person("U0ANA")
        return found, asyncio.get_running_loop().time() - started

    found, took = asyncio.run(scenario())
    assert found is None
    assert took < 2.0


def test_a_place_is_the_channel_name_or_a_dm(slack: FakeSlack) -> None:
    async def scenario() -> tuple[Place | None, Place | None, dict[str, str]]:
        people = _people(slack)
        names = await people.names({"U0ANA", "U0BO"})
        return await people.place("C0GENERAL"), await people.place("D0DMU0ANA"), names

    channel, dm, names = asyncio.run(scenario())
    assert channel == Place("C0GENERAL", "chan-c0general")
    assert dm is not None and dm.is_im
    assert names == {"U0ANA": "u0ana", "U0BO": "u0bo"}
