"""Agents API assistants from the command line, as a user meets them: `assistants sync` and
`list`, `serve` syncing at start (two at once create one agent), and `doctor`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from openai import OpenAI

from bot.doctor.report import REQUIRED_SCOPES
from tests.bot.cli_helpers import run_cli
from tests.e2e.harness import OPENAI_KEY, BridgeProcess, base_env, wait_for
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack

FILE = """\
default = "analyst"

[assistants.analyst]
kind = "agent"
model = "gpt-5"
instructions = "Analyse the numbers."
tools = ["web_search"]
description = "Data analyst"

[assistants.analyst.environment]
type = "openai_hosted"
container_size = "small"

[assistants.saved]
agent = "{saved}"

[assistants.tutor]
model = "gpt-5-mini"
"""


@dataclass
class Setup:
    oa: FakeOpenAI
    slack: FakeSlack
    env: dict[str, str]
    workdir: Path
    saved: str

    def cli(self, *args: str) -> tuple[int, str, str]:
        result = run_cli(*args, env=self.env, cwd=self.workdir)
        assert "Traceback" not in result.stderr, result.stderr
        assert OPENAI_KEY not in result.stdout + result.stderr
        return result.returncode, result.stdout, result.stderr


@pytest.fixture
def setup(tmp_path: Path, database_url: str) -> Iterator[Setup]:
    with FakeOpenAI() as oa, FakeSlack() as slack:
        slack.scopes = ",".join(REQUIRED_SCOPES)
        saved = oa.add_agent(model="gpt-5")["id"]
        (tmp_path / "assistants.toml").write_text(FILE.format(saved=saved))
        env = base_env(
            slack_url=slack.url + "/api/", openai_url=oa.url + "/v1", database_url=database_url
        )
        yield Setup(oa, slack, env, tmp_path, saved)


def created_by_bridge(oa: FakeOpenAI) -> list[str]:
    return [a["id"] for a in oa.agents() if a["metadata"].get("assistant_bridge") == "analyst"]


def test_sync_creates_the_agent_then_changes_nothing(setup: Setup) -> None:
    code, out, _ = setup.cli("assistants", "sync")
    assert code == 0
    [agent_id] = created_by_bridge(setup.oa)
    assert out.splitlines() == [f"analyst  created  {agent_id}", f"saved    exists   {setup.saved}"]
    code, out, _ = setup.cli("assistants", "sync")
    assert code == 0
    assert out.splitlines()[0] == f"analyst  unchanged  {agent_id}"
    assert setup.oa.calls("POST", r"^/v1/agents/") == []
    assert created_by_bridge(setup.oa) == [agent_id]


def test_list_shows_each_agent_its_id_or_that_it_is_not_synced(setup: Setup) -> None:
    code, out, _ = setup.cli("assistants", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["*", "analyst", "gpt-5", "Data", "analyst", "(default)"]
    assert lines[2].split() == ["saved", setup.saved]
    assert [lines[1], lines[3]] == [
        "    agent (defined here); not synced yet: run assistant-bridge assistants sync; "
        "environment: openai_hosted (small); tools: web_search",
        "    agent (saved at OpenAI); environment: none",
    ]
    setup.cli("assistants", "sync")
    [agent_id] = created_by_bridge(setup.oa)
    code, out, _ = setup.cli("assistants", "list")
    first, second = out.splitlines()[:2]
    assert first.split() == ["*", "analyst", agent_id, "Data", "analyst", "(default)"]
    assert (
        second == "    agent (defined here); environment: openai_hosted (small); tools: web_search"
    )


def test_sync_with_a_key_lacking_the_agents_permissions_says_so(setup: Setup) -> None:
    setup.oa.agents_denied_status = 403
    code, out, err = setup.cli("assistants", "sync")
    assert code == 2 and out == ""
    assert err.splitlines()[-1] + "\n" == (
        "assistant-bridge: error: assistant analyst: creating its agent: the key lacks the "
        "Agents API permissions: give it api.agents.read and api.agents.write (a restricted "
        "key: Agents, Write) (HTTP 403)\n"
    )


def test_sync_with_a_missing_saved_agent_names_it(setup: Setup) -> None:
    text = FILE.format(saved="agent_gone")
    (setup.workdir / "assistants.toml").write_text(text)
    code, _, err = setup.cli("assistants", "sync")
    assert code == 2
    assert "assistant saved: saved agent agent_gone does not exist at OpenAI" in err


def test_two_processes_serving_at_once_create_one_agent(setup: Setup) -> None:
    bridges = [BridgeProcess(workdir=setup.workdir, env=setup.env) for _ in range(2)]
    if "sqlite" in setup.env["DATABASE_URL"]:
        bridges = bridges[:1]  # SQLite takes one serve at a time
    try:
        for bridge in bridges:
            bridge.start(wait=False)
        for bridge in bridges:
            wait_for(bridge._healthy, timeout=30, what=f"bridge health; log:\n{bridge.log()}")
    finally:
        for bridge in bridges:
            bridge.stop()
    assert len(created_by_bridge(setup.oa)) == 1
    assert len(setup.oa.calls("POST", r"^/v1/agents$")) == 1


def test_serve_stops_when_openai_is_down_and_no_agent_is_on_record(setup: Setup) -> None:
    setup.env["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"
    result = run_cli("serve", "--http", env=setup.env, cwd=setup.workdir)
    assert result.returncode == 2
    assert "assistant-bridge: error: assistant analyst: " in result.stderr
    assert "OpenAI is unreachable at http://127.0.0.1:9/v1" in result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_checks_each_agent(setup: Setup) -> None:
    assert setup.cli("migrate")[0] == 0
    code, out, _ = setup.cli("doctor")
    assert code == 0, out
    lines = dict(verdicts_of(out))
    assert lines["assistant analyst"] == (
        "warn",
        "agent not created yet: run assistant-bridge assistants sync (or serve)",
    )
    assert lines["assistant saved"] == (
        "ok",
        f"agent {setup.saved} (model gpt-5), environment none",
    )
    setup.cli("assistants", "sync")
    [agent_id] = created_by_bridge(setup.oa)
    code, out, _ = setup.cli("doctor")
    assert code == 0, out
    assert dict(verdicts_of(out))["assistant analyst"] == (
        "ok",
        f"agent {agent_id} (model gpt-5), environment openai_hosted (small)",
    )


def test_doctor_fails_a_missing_agent_and_says_what_to_do(setup: Setup) -> None:
    setup.cli("assistants", "sync")
    [agent_id] = created_by_bridge(setup.oa)
    (setup.workdir / "assistants.toml").write_text(FILE.format(saved="agent_gone"))
    with OpenAI(api_key=OPENAI_KEY, base_url=setup.oa.url + "/v1") as client:
        client.beta.agents.delete(agent_id)  # as in the dashboard
    code, out, _ = setup.cli("doctor")
    assert code == 1
    lines = dict(verdicts_of(out))
    assert lines["assistant analyst"] == (
        "FAIL",
        f"agent {agent_id} does not exist: run assistant-bridge assistants sync to create it again",
    )
    assert lines["assistant saved"] == (
        "FAIL",
        "agent agent_gone does not exist: fix `agent` in the assistants file (or OPENAI_AGENT_ID)",
    )


def test_doctor_says_when_the_key_lacks_the_agents_permissions(setup: Setup) -> None:
    setup.cli("migrate")
    setup.oa.agents_denied_status = 403
    code, out, _ = setup.cli("doctor")
    assert code == 1
    level, detail = dict(verdicts_of(out))["assistant saved"]
    assert level == "FAIL"
    assert detail.startswith("the key lacks the Agents API permissions: give it api.agents.read")


def verdicts_of(out: str) -> list[tuple[str, tuple[str, str]]]:
    """(check, (level, detail)) per line: doctor prints `LEVEL  check(20)  detail`."""
    rows = []
    for line in out.splitlines():
        level, check, detail = line[:4].strip(), line[6:26].strip(), line[28:]
        rows.append((check, (level, detail)))
    return rows
