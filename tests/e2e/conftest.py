"""End-to-end fixtures: fake Slack and OpenAI servers, and the real bridge as a subprocess."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    APP_TOKEN,
    BOT_TOKEN,
    OPENAI_KEY,
    SIGNING_SECRET,
    BridgeProcess,
    base_env,
)
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

StartBridge = Callable[..., BridgeProcess]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake
        assert fake.server_errors() == []


@pytest.fixture
def openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.latency = 0.2
        yield fake
        assert fake.server_errors() == []


@pytest.fixture
def start_bridge(
    slack: FakeSlack, openai: FakeOpenAI, database_url: str, tmp_path: Path
) -> Iterator[StartBridge]:
    """Start bridges with extra env; all are stopped after the test and their logs checked."""
    started: list[BridgeProcess] = []

    def start(*, wait: bool = True, mode: str = "http", **extra_env: str) -> BridgeProcess:
        env = base_env(
            slack_url=slack.url + "/api/",
            openai_url=openai.url + "/v1",
            database_url=database_url,
        )
        bridge = BridgeProcess(workdir=tmp_path, env={**env, **extra_env}, mode=mode)
        started.append(bridge)
        return bridge.start(wait=wait)

    yield start
    for bridge in started:
        bridge.kill()
        log = bridge.log()
        for secret in (BOT_TOKEN, APP_TOKEN, OPENAI_KEY, SIGNING_SECRET):
            assert secret not in log, "a secret reached the log"
        assert "Traceback" not in log or "expected-traceback" in log, log


@pytest.fixture
def bridge(start_bridge: StartBridge) -> BridgeProcess:
    return start_bridge()
