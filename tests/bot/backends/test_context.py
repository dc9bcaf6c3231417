"""What each `context` setting puts in a Responses create, and how a bad one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.assistants import Assistant, parse_assistants_file
from bot.backends.base import TurnBrief
from bot.backends.context import COMPACT_THRESHOLD, brief_fields
from bot.errors import ConfigError

COMPACTION = [{"type": "compaction", "compact_threshold": COMPACT_THRESHOLD}]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ("compact", {"context_management": COMPACTION, "truncation": "auto"}),
        ("truncate", {"truncation": "auto"}),
        ("off", {}),
    ],
)
def test_each_context_setting_maps_to_its_request_fields(
    context: str, expected: dict[str, object]
) -> None:
    assistant = Assistant(name="a", model="gpt-4.1", context=context)  # type: ignore[arg-type]
    assert brief_fields(assistant, TurnBrief()) == expected


def test_a_retry_forces_truncation_even_with_context_off() -> None:
    assistant = Assistant(name="a", model="gpt-4.1", context="off")
    assert brief_fields(assistant, TurnBrief(force_truncation=True)) == {"truncation": "auto"}


def test_the_cache_key_and_safety_id_are_sent_when_the_brief_has_them() -> None:
    brief = TurnBrief(cache_key="conv_1", safety_id="ab" * 32)
    fields = brief_fields(Assistant(name="a", model="gpt-4.1", context="off"), brief)
    assert fields == {"prompt_cache_key": "conv_1", "safety_identifier": "ab" * 32}


def test_the_assistants_file_takes_context_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[assistants.a]\nmodel = "gpt-4.1"\ncontext = "truncate"\n')
    assert parse_assistants_file(good).default.context == "truncate"
    plain = tmp_path / "plain.toml"
    plain.write_text('[assistants.a]\nmodel = "gpt-4.1"\n')
    assert parse_assistants_file(plain).default.context == "compact"
    bad = tmp_path / "bad.toml"
    bad.write_text('[assistants.a]\nmodel = "gpt-4.1"\ncontext = "forever"\n')
    with pytest.raises(ConfigError) as refused:
        parse_assistants_file(bad)
    assert str(refused.value).startswith(f"{bad}:3: assistants.a.context: ")
    assert "'compact', 'truncate' or 'off'" in str(refused.value)
