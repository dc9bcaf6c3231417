"""The agent view through the real Bolt app: suggested prompts on opening the Messages tab,
a title for each new DM thread, and never a wait on Slack before the ack."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.assistants import DEFAULT_PROMPTS, Assistant, Assistants, SuggestedPrompt
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import app_home_opened_event, dm_event, slash_command_form
from tests.handlers.agent_view_app import agent_view_app

TUTOR_PROMPTS = (
    SuggestedPrompt(title="Solve an equation", message="Solve 3x + 11 = 14 step by step."),
    SuggestedPrompt(title="Explain a proof", message="Explain why √2 is irrational."),
)
EDITOR_PROMPTS = (SuggestedPrompt(title="Tighten a paragraph", message="Make this shorter:"),)
ASSISTANTS = Assistants(
    by_name={
        "tutor": Assistant(name="tutor", model="gpt-5-mini", prompts=TUTOR_PROMPTS),
        "editor": Assistant(name="editor", model="gpt-4.1", prompts=EDITOR_PROMPTS),
        "plain": Assistant(name="plain", model="gpt-4.1"),
    },
    default_name="tutor",
)


def as_sent(prompts: tuple[SuggestedPrompt, ...]) -> list[dict[str, str]]:
    return [{"title": p.title, "message": p.message} for p in prompts]


def test_opening_the_messages_tab_sets_the_prompts_of_the_assistant_the_dm_uses(
    slack: FakeSlack, database_url: str
) -> None:
    async def scenario() -> list[Any]:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            seen = []
            for choice in (None, "editor", "plain"):
                if choice is not None:
                    used = await bridge.command(
                        slash_command_form(
                            "/assistant", f"use {choice}", user_id="U1", channel_id="D0DMU1"
                        )
                    )
                    assert f"*{choice}*" in used
                assert await bridge.send_event(app_home_opened_event("U1")) == 200
                await bridge.settle()
                seen.append(slack.suggested_prompts("D0DMU1")[-1])
            return seen

    tutor, editor, plain = asyncio.run(scenario())
    assert tutor["prompts"] == as_sent(TUTOR_PROMPTS)
    assert editor["prompts"] == as_sent(EDITOR_PROMPTS)
    assert plain["prompts"] == as_sent(DEFAULT_PROMPTS)
    # The agent view's prompts belong to the DM: a thread_ts would make the call fail silently.
    assert all("thread_ts" not in call for call in (tutor, editor, plain))


def test_the_home_tab_sets_no_prompts_and_another_users_choice_is_not_yours(
    slack: FakeSlack, database_url: str
) -> None:
    async def scenario() -> None:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            await bridge.command(
                slash_command_form("/assistant", "use editor", user_id="U2", channel_id="D0DMU2")
            )
            await bridge.send_event(app_home_opened_event("U1", tab="home"))
            await bridge.send_event(app_home_opened_event("U1"))
            await bridge.settle()

    asyncio.run(scenario())
    [call] = slack.suggested_prompts()
    assert (call["channel_id"], call["prompts"]) == ("D0DMU1", as_sent(TUTOR_PROMPTS))


def test_the_ack_does_not_wait_for_slacks_answer_and_a_failure_is_not_retried(
    slack: FakeSlack, database_url: str
) -> None:
    method = "assistant.threads.setSuggestedPrompts"

    async def scenario() -> tuple[bool, int]:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            slack.hold_answer_next(method, 30)
            assert await bridge.send_event(app_home_opened_event("U1")) == 200
            await bridge.until(lambda: slack.calls(method))
            [held] = bridge.tasks
            answered = held.done()  # acked, and the call still waits for Slack's answer
            held.cancel()
            slack.fail_next(method, error="channel_not_found")
            assert await bridge.send_event(app_home_opened_event("U1")) == 200
            await asyncio.gather(*bridge.tasks, return_exceptions=True)
            return answered, len(slack.calls(method))

    answered, calls = asyncio.run(scenario())
    assert answered is False
    assert calls == 2  # the held one and the failed one: neither tried again


def test_a_new_dm_thread_gets_a_plain_short_title_once_and_a_reply_gets_none(
    slack: FakeSlack, database_url: str
) -> None:
    first = dm_event(
        "U1", "<@UBOT> *Plan* the _Q3_ offsite, see <https://example.com/doc|the doc> please"
    )

    async def scenario() -> None:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            await bridge.send_event(first, event_id="EvFIRST")
            await bridge.send_event(first, event_id="EvFIRST")  # Slack's retry
            await bridge.send_event(dm_event("U1", "and the budget?", thread_ts=first["ts"]))
            await bridge.settle()

    asyncio.run(scenario())
    sessions = slack.sessions()
    assert sessions == {
        (first["channel"], first["ts"]): {
            "title": "Plan the Q3 offsite, see the doc please",
            "status": "active",
        }
    }
    assert len(slack.session_calls()) == 1


def test_a_new_thread_is_titled_in_one_call_and_renamed_only_if_slack_refuses_that(
    slack: FakeSlack, database_url: str
) -> None:
    first = dm_event("U1", "Summarise " + "the quarterly numbers " * 6)
    second = dm_event("U1", "Plan the offsite")

    async def scenario() -> None:
        async with agent_view_app(slack, database_url, ASSISTANTS) as bridge:
            await bridge.send_event(first)
            await bridge.settle()
            await bridge.app.client.agents_sessions_setStatus(
                channel_id=second["channel"], thread_ts=second["ts"], status="processing"
            )
            slack.fail_next("agents.sessions.setStatus", error="invalid_arguments")
            await bridge.send_event(second)
            await bridge.settle()

    asyncio.run(scenario())
    titled = slack.sessions()[(first["channel"], first["ts"])]
    assert titled["title"] == "Summarise the quarterly numbers the quarterly numbers the…"
    assert len(titled["title"]) <= 60 and titled["status"] == "active"
    calls = [c.method for c in slack.calls() if c.method.startswith("agents.sessions.")]
    # One call for the new thread; a refused one falls back to renaming its session.
    assert calls == [
        "agents.sessions.setStatus",
        "agents.sessions.setStatus",
        "agents.sessions.setStatus",
        "agents.sessions.rename",
    ]
    assert slack.sessions()[(second["channel"], second["ts"])]["title"] == "Plan the offsite"
