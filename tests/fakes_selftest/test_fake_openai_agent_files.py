"""The fake OpenAI's Agents API environment files, through the real SDK with strict
validation: a hosted session's `environment.files`, the environment Files API (create, list,
the SDK's upload helper), the environment's retrieve, and their errors."""

from __future__ import annotations

import base64
from typing import Any

import openai
import pytest

from tests.fakes.openai_api import FakeOpenAI
from tests.fakes_selftest.test_fake_openai_agents import sdk_for

NONE: Any = {"type": "none"}


def hosted(*files: Any) -> Any:
    return {"type": "openai_hosted", "files": list(files)}


def inline(path: str, content: bytes) -> Any:
    return {"type": "inline", "path": path, "data": base64.b64encode(content).decode()}


def test_hosted_session_keeps_its_files(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    upload = sdk.files.create(file=("notes.txt", b"some notes"), purpose="user_data")
    env: Any = hosted(
        {"type": "file_id", "file_id": upload.id, "path": "/workspace/in/notes.txt"},
        inline("/workspace/data.csv", b"a,b\n1,2\n"),
    )
    session = sdk.beta.agents.sessions.create(environment=env, agent={"model": "gpt-5-mini"})
    environment = session.environment
    assert environment.type == "openai_hosted"
    by_path = {f.path: f for f in environment.files}
    notes, data = by_path["/workspace/in/notes.txt"], by_path["/workspace/data.csv"]
    assert notes.type == "file_id" and notes.file_id == upload.id and notes.size_bytes == 10
    assert data.type == "inline" and data.size_bytes == 8 and notes.id != data.id
    assert sdk.beta.agents.sessions.retrieve(session.id).environment == environment
    [shown] = oa.agent_sessions()
    assert shown["environment"]["id"] == environment.id
    assert shown["request"]["environment"]["files"][1]["path"] == "/workspace/data.csv"
    assert oa.agent_environment_files(environment.id) == [
        {
            "path": "/workspace/data.csv",
            "type": "inline",
            "file_id": None,
            "size_bytes": 8,
            "content": b"a,b\n1,2\n",
        },
        {
            "path": "/workspace/in/notes.txt",
            "type": "file_id",
            "file_id": upload.id,
            "size_bytes": 10,
            "content": b"some notes",
        },
    ]
    info = sdk.beta.agents.environments.retrieve(environment.id)
    assert info.id == environment.id and info.status == "ready"
    assert sorted(f.path for f in info.files) == sorted(by_path)


def test_hosted_session_files_are_checked(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    agent: Any = {"model": "gpt-5-mini"}
    good = inline("/workspace/ok.txt", b"ok")
    cases: list[tuple[Any, str]] = [
        (inline("/tmp/x.txt", b"x"), "environment.files[1].path"),
        (inline("/workspace/../etc/passwd", b"x"), "environment.files[1].path"),
        (inline("/workspace/.codex/config", b"x"), "environment.files[1].path"),
        (inline("/workspace/ok.txt", b"again"), "environment.files[1].path"),
        (
            {"type": "inline", "path": "/workspace/b", "data": "not base64!"},
            "environment.files[1].data",
        ),
        (
            {"type": "file_id", "file_id": "file-nope", "path": "/workspace/b"},
            "environment.files[1].file_id",
        ),
        ({"type": "url", "path": "/workspace/b"}, "environment.files[1].type"),
    ]
    for bad, param in cases:
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.beta.agents.sessions.create(environment=hosted(good, bad), agent=agent)
        assert refused.value.param == param, bad
    with pytest.raises(openai.BadRequestError) as first:
        sdk.beta.agents.sessions.create(environment=hosted(inline("x.txt", b"")), agent=agent)
    assert first.value.param == "environment.files[0].path"
    assert oa.agent_sessions() == []


def test_environment_files_create_replace_and_list(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    session = sdk.beta.agents.sessions.create(
        environment=hosted(inline("/workspace/a.txt", b"one")), agent={"model": "gpt-5-mini"}
    )
    env_id = session.environment.id  # type: ignore[union-attr]
    files = sdk.beta.agents.environments.files
    made = files.create(
        env_id, type="inline", data=base64.b64encode(b"two!").decode(), path="/workspace/a.txt"
    )
    assert (made.environment_id, made.object, made.path, made.size_bytes) == (
        env_id,
        "agent.environment.file",
        "/workspace/a.txt",
        4,
    )
    upload = sdk.files.create(file=("r.md", b"# readme"), purpose="user_data")
    files.create(env_id, type="file_id", file_id=upload.id, path="/workspace/docs/r.md")
    staged = files.upload(env_id, file=("b.bin", b"\x00\x01"), path="/workspace/docs/b.bin")
    assert staged.file.size_bytes == 2 and staged.uploaded_file_id != upload.id
    everything = ["/workspace/docs/r.md", "/workspace/docs/b.bin", "/workspace/a.txt"]
    assert [f.path for f in files.list(env_id)] == everything
    assert [f.path for f in files.list(env_id, order="asc")] == everything[::-1]
    first = files.list(env_id, limit=2)
    assert [f.path for f in first.data] == everything[:2] and first.has_more
    assert [f.path for f in files.list(env_id, limit=2)] == everything  # auto-paging
    assert [f.path for f in files.list(env_id, path="/workspace/docs")] == everything[:2]
    assert [(f["path"], f["content"]) for f in oa.agent_environment_files(env_id)] == [
        ("/workspace/a.txt", b"two!"),
        ("/workspace/docs/b.bin", b"\x00\x01"),
        ("/workspace/docs/r.md", b"# readme"),
    ]


def test_environment_files_errors(oa: FakeOpenAI) -> None:
    sdk = sdk_for(oa)
    session = sdk.beta.agents.sessions.create(
        environment={"type": "openai_hosted"}, agent={"model": "gpt-5-mini"}
    )
    env_id = session.environment.id  # type: ignore[union-attr]
    files = sdk.beta.agents.environments.files
    with pytest.raises(openai.BadRequestError) as bad_path:
        files.create(env_id, type="inline", data="", path="/etc/passwd")
    assert bad_path.value.param == "path"
    with pytest.raises(openai.BadRequestError) as bad_file:
        files.create(env_id, type="file_id", file_id="file-nope", path="/workspace/x")
    assert bad_file.value.param == "file_id"
    with pytest.raises(openai.BadRequestError) as bad_data:
        files.create(env_id, type="inline", data="@@", path="/workspace/x")
    assert bad_data.value.param == "data"
    for call in (
        lambda: files.create("env_nope", type="inline", data="", path="/workspace/x"),
        lambda: files.list("env_nope"),
        lambda: sdk.beta.agents.environments.retrieve("env_nope"),
    ):
        with pytest.raises(openai.NotFoundError) as unknown:
            call()
        assert unknown.value.code == "not_found"
    none = sdk.beta.agents.sessions.create(environment=NONE, agent={"model": "gpt-5"}, input="x")
    assert none.environment.type == "none"
    assert oa.agent_environment_files(env_id) == []
    with pytest.raises(KeyError):
        oa.agent_environment_files("env_nope")
