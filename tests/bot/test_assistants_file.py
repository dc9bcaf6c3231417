"""The assistants file as a user meets it: `assistants list`, and `serve` refusing a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.cli_helpers import TWO_ASSISTANTS, cli_env, run_cli


def cli_env_in(tmp_path: Path) -> dict[str, str]:
    return cli_env(f"sqlite:///{tmp_path / 'bridge.db'}")


def place(text: str, where: str, tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """Write the file as `assistants.toml` in the working directory, or elsewhere named by
    ASSISTANTS_FILE; returns (file, working directory)."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    if where == "cwd":
        path = workdir / "assistants.toml"
    else:
        (tmp_path / "conf").mkdir()
        path = tmp_path / "conf" / "assistants.toml"
        env["ASSISTANTS_FILE"] = str(path)
    path.write_text(text)
    return path, workdir


@pytest.mark.parametrize("where", ["cwd", "ASSISTANTS_FILE"])
def test_assistants_list_shows_each_assistant_and_marks_the_default(
    where: str, tmp_path: Path
) -> None:
    env = cli_env_in(tmp_path)
    path, workdir = place(TWO_ASSISTANTS, where, tmp_path, env)
    result = run_cli("assistants", "list", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split() for line in lines[:2]] == [
        ["legacy", "asst_legacy1", "Legacy", "helper"],
        ["*", "tutor", "gpt-5-mini", "Math", "tutor", "(default)"],
    ]
    assert lines[0].startswith("  legacy") and lines[1].startswith("* tutor")
    assert lines[2] == f"source: {path}"


def test_assistants_list_without_a_file_shows_the_environments_assistant(
    tmp_path: Path,
) -> None:
    env = {**cli_env_in(tmp_path), "OPENAI_MODEL": "gpt-4.1"}
    result = run_cli("assistants", "list", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "* default  gpt-4.1  gpt-4.1 assistant (default)",
        "source: environment",
    ]


GOOD_HEAD = 'default = "tutor"\n\n[assistants.tutor]\n'
INVALID = {
    "unknown key": (
        GOOD_HEAD + 'model = "gpt-5-mini"\nmodle = "gpt-5"\n',
        ":5: assistants.tutor.modle: unknown key 'modle'",
    ),
    "neither model nor id": (
        GOOD_HEAD + 'description = "no model"\n',
        ":3: assistants.tutor: give either `model` (Responses API) or `id` (asst_…), not both",
    ),
    "both model and id": (
        GOOD_HEAD + 'model = "gpt-5-mini"\nid = "asst_abc"\n',
        ":3: assistants.tutor: give either `model` (Responses API) or `id` (asst_…), not both",
    ),
    "default naming nothing": (
        'default = "nobody"\n\n[assistants.tutor]\nmodel = "gpt-5-mini"\n',
        ":1: file: default = 'nobody' names no assistant (there are: tutor)",
    ),
    "bad TOML line": (
        GOOD_HEAD + "model = gpt-5-mini\n",
        ": not valid TOML: Invalid value (at line 4, column 9)",
    ),
    "web_search on the Assistants API": (
        GOOD_HEAD + 'id = "asst_abc"\ntools = ["web_search"]\n',
        ":3: assistants.tutor: web_search is a Responses API tool; an `id` assistant cannot use it",
    ),
    "bad tool name": (
        GOOD_HEAD + 'model = "gpt-5-mini"\ntools = ["web_search", "web_browse"]\n',
        ":5: assistants.tutor.tools.1: Input should be 'code_interpreter', 'file_search', "
        "'web_search' or 'computer_use'",
    ),
    "several assistants, no default": (
        '[assistants.tutor]\nmodel = "gpt-5-mini"\n\n[assistants.plain]\nmodel = "gpt-4.1"\n',
        ':1: file: several assistants and no default: add default = "NAME" (one of: plain, tutor)',
    ),
    "a name with a space": (
        'default = "tutor"\n\n[assistants.tutor]\nmodel = "gpt-5-mini"\n\n'
        '[assistants."math tutor"]\nmodel = "gpt-5-mini"\n',
        ":6: assistants.'math tutor': not a name `/assistant use NAME` can take (one word, "
        "without &, < or >)",
    ),
    "a name Slack escapes": (
        'default = "q&a"\n\n[assistants."q&a"]\nmodel = "gpt-5-mini"\n',
        ":3: assistants.'q&a': not a name `/assistant use NAME` can take",
    ),
    "five suggested prompts": (
        GOOD_HEAD
        + 'model = "gpt-5-mini"\nprompts = ['
        + ", ".join(['{ title = "T", message = "M" }'] * 5)
        + "]\n",
        ":5: assistants.tutor.prompts: Slack shows at most 4 suggested prompts, not 5",
    ),
    "a suggested prompt without its message": (
        GOOD_HEAD + 'model = "gpt-5-mini"\nprompts = [{ title = "Hello" }]\n',
        ":5: assistants.tutor.prompts.0.message: missing 'message'",
    ),
    "file_search without vector stores": (
        GOOD_HEAD + 'model = "gpt-5-mini"\ntools = ["code_interpreter", "file_search"]\n',
        ":5: assistants.tutor.tools: file_search needs `vector_store_ids = [...]`: the stores it "
        "searches",
    ),
}


@pytest.mark.parametrize("where", ["cwd", "ASSISTANTS_FILE"])
@pytest.mark.parametrize("case", list(INVALID))
def test_serve_refuses_an_invalid_file_naming_file_line_and_reason(
    case: str, where: str, tmp_path: Path
) -> None:
    text, expected = INVALID[case]
    env = cli_env_in(tmp_path)
    path, workdir = place(text, where, tmp_path, env)
    result = run_cli("serve", env=env, cwd=workdir)
    assert result.returncode == 2, result.stderr
    assert f"assistant-bridge: error: {path}{expected}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "bridge.db").exists(), "nothing started before the check"


def test_a_default_naming_nothing_points_at_its_own_line(tmp_path: Path) -> None:
    env = cli_env_in(tmp_path)
    text = '# our assistants\ndefault = "nobody"\n\n[assistants.tutor]\nmodel = "gpt-5-mini"\n'
    path, workdir = place(text, "cwd", tmp_path, env)
    result = run_cli("serve", env=env, cwd=workdir)
    assert f"{path}:2: " in result.stderr


def test_a_missing_assistants_file_is_named(tmp_path: Path) -> None:
    env = {**cli_env_in(tmp_path), "ASSISTANTS_FILE": str(tmp_path / "nope.toml")}
    result = run_cli("assistants", "list", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert f"ASSISTANTS_FILE {tmp_path / 'nope.toml'}: no such file" in result.stderr


@pytest.mark.parametrize(
    ("ref", "named"),
    [
        ("acme_missing.tools:lookup", "acme_missing"),
        ("bot.builtin_functions:no_such_function", "no_such_function"),
        ("not a reference", "package.module:function"),
    ],
)
def test_serve_refuses_a_function_it_cannot_import_naming_the_line(
    ref: str, named: str, tmp_path: Path
) -> None:
    env = cli_env_in(tmp_path)
    text = GOOD_HEAD + f'model = "gpt-5-mini"\nfunctions = [\n  "{ref}",\n]\n'
    path, workdir = place(text, "cwd", tmp_path, env)
    result = run_cli("serve", env=env, cwd=workdir)
    assert result.returncode == 2, result.stderr
    assert f"assistant-bridge: error: {path}:5: assistants.tutor.functions: " in result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_assistants_list_shows_the_tools_and_functions_each_assistant_offers(
    tmp_path: Path,
) -> None:
    env = cli_env_in(tmp_path)
    text = (
        GOOD_HEAD
        + 'model = "gpt-5-mini"\ntools = ["code_interpreter", "web_search"]\n'
        + 'functions = ["bot.builtin_functions:current_time", "bot.builtin_functions:who_am_i"]\n'
        + '\n[assistants.plain]\nmodel = "gpt-4.1"\n'
    )
    _, workdir = place(text, "cwd", tmp_path, env)
    result = run_cli("assistants", "list", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "  plain  gpt-4.1",
        "* tutor  gpt-5-mini  (default)",
        "    tools: code_interpreter, web_search; functions: current_time, who_am_i",
    ]


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    env = cli_env_in(tmp_path)
    path, workdir = place("", "cwd", tmp_path, env)
    path.write_bytes(GOOD_HEAD.encode() + b'model = "gpt-5-mini"\ndescription = "caf\xe9"\n')
    result = run_cli("serve", env=env, cwd=workdir)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        f"assistant-bridge: error: {path}: not valid UTF-8 (line 5: invalid continuation byte)\n"
    )


@pytest.mark.parametrize(
    ("table", "shown"),
    [
        ('model = "gpt-5-mini"\ndescription = "Math tutor"\n', ["gpt-5-mini", "Math tutor"]),
        # file_search is accepted where it has something to search: an `id` assistant
        # searches the vector stores it has on the server (and attached files).
        ('id = "asst_abc"\ntools = ["file_search"]\n', ["asst_abc"]),
        (
            'model = "gpt-5-mini"\ntools = ["file_search"]\nvector_store_ids = ["vs_1"]\n',
            ["gpt-5-mini"],
        ),
    ],
)
def test_a_single_assistant_is_the_default_without_naming_it(
    table: str, shown: list[str], tmp_path: Path
) -> None:
    env = cli_env_in(tmp_path)
    path, workdir = place("[assistants.tutor]\n" + table, "cwd", tmp_path, env)
    result = run_cli("assistants", "list", env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["*", "tutor", *" ".join(shown).split(), "(default)"]
    assert lines[-1] == f"source: {path}"
