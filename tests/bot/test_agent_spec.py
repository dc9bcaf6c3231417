"""Agents API assistants in the assistants file and OPENAI_AGENT_ID: each form, each refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.assistants import Assistant, assistants_from_settings, parse_assistants_file
from bot.config import load_settings
from bot.errors import ConfigError
from tests.bot.test_config import empty_env

__all__ = ["empty_env"]

DEFINED = """\
default = "analyst"

[assistants.analyst]
kind = "agent"
model = "gpt-5"
instructions = "Analyse the numbers."
tools = ["web_search"]
reasoning = "high"
functions = ["bot.builtin_functions:current_time"]
description = "Data analyst"
prompts = [{ title = "Sales", message = "How did sales go?" }]
"""
SAVED = '[assistants.saved]\nagent = "agent_abc123"\ndescription = "Made in the dashboard"\n'
HOSTED = """\

[assistants.analyst.environment]
type = "openai_hosted"
container_size = "small"
network = { access = "restricted", allowed_domains = ["pypi.org"] }
packages = { python = ["pandas"] }
desktop = true
"""


def parsed(tmp_path: Path, text: str) -> dict[str, Assistant]:
    path = tmp_path / "assistants.toml"
    path.write_text(text)
    return parse_assistants_file(path).by_name


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "assistants.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        parse_assistants_file(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:"), message
    return message.removeprefix(f"{path}")


def test_a_defined_agent_has_its_definition_and_no_environment(tmp_path: Path) -> None:
    analyst = parsed(tmp_path, DEFINED)["analyst"]
    assert (analyst.kind, analyst.is_agent, analyst.agent_id) == ("agents", True, "")
    assert analyst.session_environment == {"type": "none"}
    assert analyst.functions == ("bot.builtin_functions:current_time",)
    definition = analyst.agent_definition
    assert definition is not None
    body = definition.body()
    assert {key: body[key] for key in ("name", "model", "instructions", "reasoning")} == {
        "name": "analyst",
        "model": "gpt-5",
        "instructions": "Analyse the numbers.",
        "reasoning": {"effort": "high"},
    }
    web, function = body["tools"]
    assert web == {"type": "web_search"}
    assert function["type"] == "function" and function["name"] == "current_time"
    assert set(function) == {"type", "name", "description", "parameters"}
    hash(analyst)  # frozen and hashable, definition included


def test_the_definition_hash_follows_the_definition(tmp_path: Path) -> None:
    first = parsed(tmp_path, DEFINED)["analyst"].agent_definition
    again = parsed(tmp_path, DEFINED)["analyst"].agent_definition
    changed = parsed(tmp_path, DEFINED.replace("Analyse the numbers.", "Analyse."))
    assert first is not None and again is not None
    assert first == again and first.digest == again.digest
    other = changed["analyst"].agent_definition
    assert other is not None and other.digest != first.digest


def test_a_saved_agent_is_named_by_its_id(tmp_path: Path) -> None:
    saved = parsed(tmp_path, DEFINED + "\n" + SAVED)["saved"]
    assert (saved.kind, saved.is_agent, saved.agent_id) == ("agents", True, "agent_abc123")
    assert saved.agent_definition is None
    assert saved.description == "Made in the dashboard"


def test_a_hosted_environment_is_the_session_environment(tmp_path: Path) -> None:
    analyst = parsed(tmp_path, DEFINED + HOSTED)["analyst"]
    assert analyst.session_environment == {
        "type": "openai_hosted",
        "container_size": "small",
        "network": {"access": "restricted", "allowed_domains": ["pypi.org"]},
        "packages": {"python": ["pandas"]},
        "desktop": {"enabled": True},
    }
    assert json.loads(analyst.environment_json) == analyst.session_environment


def test_environment_none_is_no_sandbox(tmp_path: Path) -> None:
    text = DEFINED.replace('description = "Data analyst"', 'environment = "none"')
    assert parsed(tmp_path, text)["analyst"].session_environment == {"type": "none"}


def test_computer_use_is_accepted_with_a_hosted_environment(tmp_path: Path) -> None:
    text = DEFINED.replace('tools = ["web_search"]', 'tools = ["computer_use"]') + HOSTED
    definition = parsed(tmp_path, text)["analyst"].agent_definition
    assert definition is not None and definition.tools[0] == {"type": "computer_use"}


AGENT_HEAD = 'default = "a"\n\n[assistants.a]\nkind = "agent"\nmodel = "gpt-5"\n'
SAVED_HEAD = 'default = "a"\n\n[assistants.a]\nagent = "agent_1"\n'
ENV_HEAD = AGENT_HEAD + '\n[assistants.a.environment]\ntype = "openai_hosted"\n'
REFUSED = {
    "code_interpreter": (
        AGENT_HEAD + 'tools = ["code_interpreter"]\n',
        ":6: assistants.a.tools: code_interpreter is a Responses API tool: an agent runs code in "
        'its environment (add [assistants.NAME.environment] with type = "openai_hosted")',
    ),
    "file_search": (
        AGENT_HEAD + 'tools = ["file_search"]\n',
        ":6: assistants.a.tools: file_search is a Responses API tool",
    ),
    "computer_use without a hosted environment": (
        AGENT_HEAD + 'tools = ["computer_use"]\n',
        ":6: assistants.a.tools: computer_use needs an OpenAI-hosted environment",
    ),
    "an id beside kind": (
        AGENT_HEAD + 'id = "asst_1"\n',
        ":6: assistants.a.id: an agent has no `id`",
    ),
    "vector stores": (
        AGENT_HEAD + 'vector_store_ids = ["vs_1"]\n',
        ":6: assistants.a.vector_store_ids: an agent reads files in its `environment`",
    ),
    "temperature": (
        AGENT_HEAD + "temperature = 0.2\n",
        ":6: assistants.a.temperature: `temperature` is not an Agents API setting",
    ),
    "kind without a model": (
        'default = "a"\n\n[assistants.a]\nkind = "agent"\ninstructions = "x"\n',
        ':4: assistants.a.kind: kind = "agent" needs `model`',
    ),
    "an unknown kind": (
        'default = "a"\n\n[assistants.a]\nkind = "robot"\nmodel = "gpt-5"\n',
        ":4: assistants.a.kind: Input should be 'agent'",
    ),
    "a saved agent and kind": (
        SAVED_HEAD + 'kind = "agent"\nmodel = "gpt-5"\n',
        ':4: assistants.a.agent: give either `agent` (a saved agent\'s id) or kind = "agent"',
    ),
    "a saved agent's model": (
        SAVED_HEAD + 'model = "gpt-5"\n',
        ":5: assistants.a.model: `model` belongs to the saved agent `agent` names",
    ),
    "a saved agent's instructions": (
        SAVED_HEAD + 'instructions = "x"\n',
        ":5: assistants.a.instructions: `instructions` belongs to the saved agent",
    ),
    "a blank agent id": (
        'default = "a"\n\n[assistants.a]\nagent = "  "\n',
        ":4: assistants.a.agent: must be a saved agent's id (not blank, no whitespace)",
    ),
    "an agent id with a space": (
        'default = "a"\n\n[assistants.a]\nagent = "agent 1"\n',
        ":4: assistants.a.agent: must be a saved agent's id (not blank, no whitespace)",
    ),
    "an asst_ id as agent": (
        'default = "a"\n\n[assistants.a]\nagent = "asst_1"\n',
        ':4: assistants.a.agent: asst_… is an Assistants API id: write id = "…" instead',
    ),
    "an environment on a Responses assistant": (
        'default = "a"\n\n[assistants.a]\nmodel = "gpt-5"\nenvironment = "none"\n',
        ':5: assistants.a.environment: only an agent (kind = "agent") has an environment',
    ),
    "computer_use on a Responses assistant": (
        'default = "a"\n\n[assistants.a]\nmodel = "gpt-5"\ntools = ["computer_use"]\n',
        ':5: assistants.a.tools: computer_use is an Agents API tool (kind = "agent")',
    ),
    "an agent's effort on a Responses assistant": (
        'default = "a"\n\n[assistants.a]\nmodel = "gpt-5"\nreasoning = "xhigh"\n',
        ":5: assistants.a.reasoning: 'xhigh' is for agents: give minimal, low, medium or high",
    ),
    "environment text other than none": (
        AGENT_HEAD + 'environment = "hosted"\n',
        ':6: assistants.a.environment: must be "none", or a table with type = "openai_hosted"',
    ),
    "an unknown environment key": (
        ENV_HEAD + 'setup_commands = ["make"]\n',
        ":9: assistants.a.environment.setup_commands: unknown key 'setup_commands'",
    ),
    "an environment without type": (
        AGENT_HEAD + '\n[assistants.a.environment]\ncontainer_size = "small"\n',
        ":7: assistants.a.environment.type: missing 'type'",
    ),
    "a self-hosted environment": (
        AGENT_HEAD + '\n[assistants.a.environment]\ntype = "self_hosted"\n',
        ":8: assistants.a.environment.type: Input should be 'none' or 'openai_hosted'",
    ),
    "a container size": (
        ENV_HEAD + 'container_size = "huge"\n',
        ":9: assistants.a.environment.container_size: Input should be 'small', 'medium' or 'large'",
    ),
    "a network access mode": (
        ENV_HEAD + 'network = { access = "open" }\n',
        ":9: assistants.a.environment.network.access: Input should be 'enabled', 'disabled' or "
        "'restricted'",
    ),
    "domains without restricted access": (
        ENV_HEAD + 'network = { access = "enabled", allowed_domains = ["a.com"] }\n',
        ':9: assistants.a.environment.network: domain lists need access = "restricted"',
    ),
    "allowed and blocked domains": (
        ENV_HEAD
        + 'network = { access = "restricted", allowed_domains = ["a.com"], '
        + 'blocked_domains = ["b.com"] }\n',
        ":9: assistants.a.environment.network: give allowed_domains or blocked_domains, not both",
    ),
    "options on type none": (
        AGENT_HEAD + '\n[assistants.a.environment]\ntype = "none"\ncontainer_size = "small"\n',
        ':7: assistants.a.environment: type = "none" takes no other keys (container_size)',
    ),
    "a prewarmed environment with options": (
        ENV_HEAD + 'environment_id = "env_1"\ncontainer_size = "small"\n',
        ":7: assistants.a.environment: environment_id names a prewarmed environment",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_agent_table_is_refused_with_file_line_and_reason(case: str, tmp_path: Path) -> None:
    text, expected = REFUSED[case]
    message = refusal(tmp_path, text)
    assert message.startswith(expected), message


def test_openai_agent_id_makes_the_default_assistant_a_saved_agent(
    empty_env: pytest.MonkeyPatch,
) -> None:
    empty_env.setenv("OPENAI_AGENT_ID", "agent_env1")
    default = assistants_from_settings(load_settings(env_file=None)).default
    assert (default.kind, default.agent_id, default.is_agent) == ("agents", "agent_env1", True)
    assert default.agent_definition is None and default.session_environment == {"type": "none"}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"OPENAI_AGENT_ID": "agent_1", "OPENAI_ASSISTANT_ID": "asst_1"},
            "invalid environment: OPENAI_ASSISTANT_ID and OPENAI_AGENT_ID are both set",
        ),
        (
            {"OPENAI_AGENT_ID": "asst_1"},
            "invalid environment: OPENAI_AGENT_ID must be an Agents API agent's id",
        ),
        (
            {"OPENAI_AGENT_ID": "agent 1"},
            "invalid environment: OPENAI_AGENT_ID must be a saved agent's id (no whitespace)",
        ),
    ],
)
def test_a_bad_openai_agent_id_is_refused(
    variables: dict[str, str], expected: str, empty_env: pytest.MonkeyPatch
) -> None:
    for name, value in variables.items():
        empty_env.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=None)
    assert str(raised.value).startswith(expected)


@pytest.mark.parametrize("mode", ["compact", "truncate", "off"])
def test_context_is_taken_from_an_agent_as_from_any_kind(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "assistants.toml"
    path.write_text(SAVED_HEAD + f'context = "{mode}"\n')
    assistant = parse_assistants_file(path).default
    assert assistant.kind == "agents" and assistant.context == mode
