"""Fixtures: one fresh fake OpenAI and fake Slack server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def oa() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.latency = 0.05
        yield fake
        assert fake.server_errors() == []


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
        assert fake.server_errors() == []
