"""Per-turn instructions: the default template, an assistant's own, off, and bad templates."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.assistants import Assistant, parse_assistants_file
from bot.errors import ConfigError
from bot.slack.people import People
from bot.slack.turn_instructions import SlackTurnInstructions
from storage.models import InboundMessage
from tests.fakes.slack_api import FakeSlack

NOW = datetime(2026, 12, 1, 21, 9, tzinfo=UTC)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.users["U0ANA"] = {
            "tz": "America/Sao_Paulo",
            "tz_offset": -10800,
            "profile": {"display_name": "Ana Lima", "title": "Data analyst"},
        }
        yield fake


def _message(
    key: str, channel: str, *, ts: str = "1.000100", thread: str | None = None
) -> InboundMessage:
    return InboundMessage(
        key=key,
        team_id="T0TEST",
        channel_id=channel,
        user_id="U0ANA",
        message_ts=ts,
        reply_thread_ts=thread,
        text="hi",
    )


def _instructions(slack: FakeSlack, message: InboundMessage, assistant: Assistant) -> str | None:
    async def scenario() -> str | None:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/")
        made = SlackTurnInstructions(People(client), now=lambda: NOW)
        return await made.for_turn([message], assistant)

    return asyncio.run(scenario())


DM = _message("user:T0TEST/U0ANA", "D0DMU0ANA")
TOP_LEVEL = _message("channel:T0TEST/C0GENERAL", "C0GENERAL", thread="1.000100")
IN_THREAD = _message("channel:T0TEST/C0GENERAL", "C0GENERAL", ts="2.000100", thread="1.000100")


def test_the_default_names_the_asker_their_local_time_and_a_dm(slack: FakeSlack) -> None:
    assert _instructions(slack, DM, Assistant(name="a")) == (
        "The person writing to you is Ana Lima, Data analyst. Their time zone is "
        "America/Sao_Paulo; their local date and time is Tuesday, 1 December 2026, 18:09. "
        "They wrote in a direct message."
    )
    assert slack.calls("conversations.info") == []  # a DM needs no look-up


def test_the_default_names_the_channel_or_the_thread_in_it(slack: FakeSlack) -> None:
    top = _instructions(slack, TOP_LEVEL, Assistant(name="a"))
    threaded = _instructions(slack, IN_THREAD, Assistant(name="a"))
    assert top is not None and top.endswith("They wrote in #chan-c0general.")
    assert threaded is not None and threaded.endswith("They wrote in a thread in #chan-c0general.")


def test_users_info_failing_leaves_out_the_person_not_the_place(slack: FakeSlack) -> None:
    slack.fail_next("users.info", error="ratelimited", status=429)
    assert _instructions(slack, IN_THREAD, Assistant(name="a")) == (
        "They wrote in a thread in #chan-c0general."
    )


def test_an_assistants_template_replaces_the_default_and_empty_turns_it_off(
    slack: FakeSlack,
) -> None:
    own = Assistant(
        name="a",
        turn_instructions="Hi {user_name} ({user_title}) at {local_time} {timezone}, in {where}.",
    )
    assert _instructions(slack, DM, own) == (
        "Hi Ana Lima (Data analyst) at Tuesday, 1 December 2026, 18:09 America/Sao_Paulo, "
        "in a direct message."
    )
    assert _instructions(slack, DM, Assistant(name="a", turn_instructions="")) is None
    slack.fail_next("users.info")
    unknown = Assistant(name="a", turn_instructions="{user_name} in {where}")
    assert _instructions(slack, DM, unknown) == "unknown in a direct message"


def test_a_template_is_read_from_the_file_and_unknown_placeholders_refused(tmp_path: Path) -> None:
    path = tmp_path / "assistants.toml"
    path.write_text('[assistants.a]\nmodel = "m"\nturn_instructions = "Asked by {user_name}"\n')
    assert parse_assistants_file(path).default.turn_instructions == "Asked by {user_name}"
    path.write_text('[assistants.a]\nmodel = "m"\nturn_instructions = "Hi {user_email}"\n')
    with pytest.raises(ConfigError, match=r"unknown placeholder \{user_email\}"):
        parse_assistants_file(path)
    path.write_text('[assistants.a]\nmodel = "m"\nturn_instructions = "Hi {user_name"\n')
    with pytest.raises(ConfigError, match="not a valid template"):
        parse_assistants_file(path)
