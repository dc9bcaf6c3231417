"""Per-turn instructions: who is asking (name, title), their local time, and where they wrote.

Implements `bot.turns.brief.TurnInstructions`. The asker is the author of the turn's newest
message (the reply goes to its thread). An assistant's `turn_instructions` template replaces
the default one; `turn_instructions = ""` sends none.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.assistants import Assistant
from bot.keys import is_dm
from bot.slack.people import People, Person, Place
from storage.models import InboundMessage

# The default template, one sentence each; a sentence whose facts are unknown is left out.
DEFAULT_SENTENCES = (
    "The person writing to you is {user_name}, {user_title}.",
    "The person writing to you is {user_name}.",
    "Their time zone is {timezone}; their local date and time is {local_time}.",
    "They wrote in {where}.",
)
# What a custom template gets for a fact that is not known (users.info failed, no tz).
UNKNOWN = "unknown"
# The turn's brief waits 1 s for these instructions (`bot.turns.brief.INSTRUCTIONS_SECONDS`):
# a look-up that is slower is not waited for (it goes on and is cached for the next turn).
LOOKUP_WAIT_SECONDS = 0.6
T = TypeVar("T")


@dataclass(frozen=True)
class TurnFacts:
    """The values of the template's placeholders; "" where not known."""

    user_name: str = ""
    user_title: str = ""
    local_time: str = ""
    timezone: str = ""
    where: str = ""

    def as_values(self) -> dict[str, str]:
        return {
            "user_name": self.user_name,
            "user_title": self.user_title,
            "local_time": self.local_time,
            "timezone": self.timezone,
            "where": self.where,
        }


def render_default(facts: TurnFacts) -> str:
    values = facts.as_values()
    said: list[str] = []
    for sentence in DEFAULT_SENTENCES:
        needed = [name for name in values if "{" + name + "}" in sentence]
        if not all(values[name] for name in needed):
            continue
        if sentence.startswith("The person") and any(s.startswith("The person") for s in said):
            continue  # the one with the title was said
        said.append(sentence.format(**values))
    return " ".join(said)


def render_custom(template: str, facts: TurnFacts) -> str:
    values = {name: value or UNKNOWN for name, value in facts.as_values().items()}
    return template.format(**values)


def local_zone(person: Person) -> tuple[timezone | ZoneInfo, str] | None:
    """The user's zone and its name: users.info `tz` (IANA), else a fixed `tz_offset`."""
    if person.timezone:
        try:
            return ZoneInfo(person.timezone), person.timezone
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if person.tz_offset is not None:
        zone = timezone(timedelta(seconds=person.tz_offset))
        return zone, zone.tzname(None) or "UTC"
    return None


def where_of(message: InboundMessage, place: Place | None) -> str:
    if is_dm(message.key) or (place is not None and place.is_im):
        return "a direct message"
    channel = f"#{place.name}" if place is not None and place.name else "a channel"
    in_thread = message.reply_thread_ts not in (None, message.message_ts)
    return f"a thread in {channel}" if in_thread else channel


async def _soon(lookup: asyncio.Future[T] | asyncio.Task[T]) -> T | None:
    try:
        return await asyncio.wait_for(asyncio.shield(lookup), LOOKUP_WAIT_SECONDS)
    except TimeoutError:
        return None


class SlackTurnInstructions:
    """Fills the assistant's template (or the default) from users.info and conversations.info."""

    def __init__(self, people: People, *, now: Callable[[], datetime] | None = None) -> None:
        self.people = people
        self.now = now or (lambda: datetime.now(UTC))

    async def facts(self, message: InboundMessage) -> TurnFacts:
        in_dm = is_dm(message.key)
        person_lookup = asyncio.ensure_future(self.people.person(message.user_id))
        place = None
        if not in_dm:
            place = await _soon(asyncio.ensure_future(self.people.place(message.channel_id)))
        person = await _soon(person_lookup)
        facts = TurnFacts(where=where_of(message, place))
        if person is None:
            return facts
        zone = local_zone(person)
        local = self.now().astimezone(zone[0]) if zone else None
        return TurnFacts(
            user_name=person.name,
            user_title=person.title,
            # "Tuesday, 1 December 2026, 22:09": unambiguous in any locale.
            local_time=f"{local:%A}, {local.day} {local:%B %Y, %H:%M}" if local else "",
            timezone=zone[1] if zone else "",
            where=facts.where,
        )

    async def for_turn(self, queued: list[InboundMessage], assistant: Assistant) -> str | None:
        if not queued or assistant.turn_instructions == "":
            return None
        facts = await self.facts(queued[-1])
        if assistant.turn_instructions is None:
            return render_default(facts) or None
        return render_custom(assistant.turn_instructions, facts)
