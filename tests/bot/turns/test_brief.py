"""A turn's brief: the safety id is a hash, and slow or failing instructions never hold it up."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from bot.assistants import Assistant
from bot.turns.brief import cache_key, instructions_for, safety_id
from storage.models import Conversation, InboundMessage

ASSISTANT = Assistant(name="a", model="gpt-4.1")


class Source:
    """Turn instructions that answer after `delay` seconds, or raise."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay, self.fail = delay, fail

    async def for_turn(self, queued: list[InboundMessage], assistant: Assistant) -> str | None:
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("users.info exploded")
        return f"The user asks from {assistant.name}."


def test_the_safety_id_is_a_sha256_of_team_and_user_never_the_raw_ids() -> None:
    found = safety_id("T123", "U456")
    assert found == hashlib.sha256(b"T123:U456").hexdigest()
    assert "T123" not in found and "U456" not in found
    assert safety_id("T123", "U457") != found


def test_the_cache_key_is_the_conversations_openai_id() -> None:
    assert cache_key(Conversation(id=7, key="k", openai_id="conv_abc")) == "conv_abc"  # type: ignore[call-arg]
    assert cache_key(Conversation(id=7, key="k")) == "bridge-conversation-7"  # type: ignore[call-arg]


def test_instructions_that_answer_in_time_are_used() -> None:
    text = asyncio.run(instructions_for(Source(), [], ASSISTANT, turn_id=1))
    assert text == "The user asks from a."


@pytest.mark.parametrize("source", [Source(delay=5.0), Source(fail=True)])
def test_slow_or_failing_instructions_are_skipped_quickly(source: Source) -> None:
    started = time.monotonic()
    skipped = asyncio.run(instructions_for(source, [], ASSISTANT, turn_id=1, seconds=0.2))
    assert skipped is None
    assert time.monotonic() - started < 2.0
