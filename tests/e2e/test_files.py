"""Files both ways: attachments from Slack reach OpenAI attached to the turn; files the
assistant makes reach Slack as uploads; citations read as footnotes; tool status shows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.e2e.conftest import StartBridge
from tests.e2e.harness import BridgeProcess, wait_for
from tests.e2e.replies import posts_in, reply_text
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_events import dm_event, event_callback, mention_event

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CSV = b"month,sales\njan,10\nfeb,12\n"


def shared(slack: FakeSlack, *files: tuple[str, str, bytes, str]) -> list[dict[str, Any]]:
    """Files a user attached: registered at the fake Slack, as the event carries them."""
    return [slack.add_file(file_id, name, content, mime) for file_id, name, content, mime in files]


def input_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for item in body["input"] for part in item.get("content") or []]


def test_a_pdf_and_an_image_from_slack_reach_openai_attached_to_the_turn(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    files = shared(
        slack,
        ("F0PDF", "report.pdf", PDF, "application/pdf"),
        ("F0PNG", "chart.png", PNG, "image/png"),
    )
    event = dm_event("U1", "summarise these", subtype="file_share", files=files)
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])

    uploaded = {f["filename"]: f for f in openai.files}
    assert uploaded["report.pdf"]["content"] == PDF
    assert uploaded["chart.png"]["content"] == PNG
    assert {f["purpose"] for f in uploaded.values()} == {"user_data"}
    [body] = openai.responses_created()
    parts = input_parts(body)
    assert {"type": "input_text", "text": "summarise these"} in parts
    assert {"type": "input_file", "file_id": uploaded["report.pdf"]["id"]} in parts
    image = {"type": "input_image", "file_id": uploaded["chart.png"]["id"], "detail": "auto"}
    assert image in parts  # `detail` is required by OpenAI's published spec


def test_a_message_with_only_a_file_is_answered(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    files = shared(slack, ("F0CSV", "sales.csv", CSV, "text/csv"))
    event = dm_event("U1", "", subtype="file_share", files=files)
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])
    [body] = openai.responses_created()
    assert [part["type"] for part in input_parts(body)] == ["input_file"]
    assert slack.ephemerals() == []


def test_an_oversized_or_unreadable_file_is_refused_by_name_and_the_rest_still_goes(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    bridge = start_bridge(MAX_FILE_MB="1")
    files = shared(
        slack,
        ("F0BIG", "huge.pdf", b"%PDF" + b"0" * 1_100_000, "application/pdf"),
        ("F0ZIP", "archive.zip", b"PK\x03\x04", "application/zip"),
        ("F0OK", "notes.txt", b"fine", "text/plain"),
    )
    event = dm_event("U1", "read what you can", subtype="file_share", files=files)
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])

    [hint] = slack.ephemerals(event["channel"])
    assert "huge.pdf" in hint["text"] and "1 MB" in hint["text"]
    assert "archive.zip" in hint["text"]
    assert "notes.txt" not in hint["text"]
    assert [f["filename"] for f in openai.files] == ["notes.txt"]
    [body] = openai.responses_created()
    assert [part["type"] for part in input_parts(body)] == ["input_text", "input_file"]


def test_files_for_an_assistants_api_assistant_go_as_attachments_and_image_content(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.add_assistant("asst_files", model="gpt-4o")
    bridge = start_bridge(OPENAI_ASSISTANT_ID="asst_files")
    files = shared(
        slack,
        ("F0PDF", "report.pdf", PDF, "application/pdf"),
        ("F0CSV", "sales.csv", CSV, "text/csv"),
        ("F0PNG", "chart.png", PNG, "image/png"),
    )
    event = dm_event("U1", "look", subtype="file_share", files=files)
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])

    ids = {f["filename"]: f["id"] for f in openai.files}
    purposes = {f["filename"]: f["purpose"] for f in openai.files}
    assert purposes == {
        "report.pdf": "assistants",
        "sales.csv": "assistants",
        "chart.png": "vision",
    }
    [run] = openai.runs_created()
    [message] = run["additional_messages"]
    assert message["attachments"] == [
        {"file_id": ids["report.pdf"], "tools": [{"type": "file_search"}]},
        {"file_id": ids["sales.csv"], "tools": [{"type": "code_interpreter"}]},
    ]
    assert {"type": "image_file", "image_file": {"file_id": ids["chart.png"]}} in message["content"]


def test_a_generated_image_and_csv_are_uploaded_into_the_reply_thread(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.generated_files_next = [
        {"filename": "plot.png", "content": PNG},
        {"filename": "table.csv", "content": CSV},
    ]
    event = mention_event("U1", "chart it", channel="C0CHART")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, "C0CHART")
    uploads = wait_for(lambda: slack.uploads() if len(slack.uploads()) == 2 else None)
    assert {(u.filename, u.content, u.channel, u.thread_ts) for u in uploads} == {
        ("plot.png", PNG, "C0CHART", event["ts"]),
        ("table.csv", CSV, "C0CHART", event["ts"]),
    }
    assert "sandbox:" not in reply_text(post)
    assert "plot.png (attached)" in reply_text(post)


def test_files_made_by_an_assistants_api_run_are_uploaded(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.add_assistant("asst_files", model="gpt-4o")
    bridge = start_bridge(OPENAI_ASSISTANT_ID="asst_files")
    openai.generated_files_next = [
        {"filename": "plot.png", "content": PNG},
        {"filename": "table.csv", "content": CSV},
    ]
    event = dm_event("U1", "chart it")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    uploads = wait_for(lambda: slack.uploads() if len(slack.uploads()) == 2 else None)
    assert sorted((u.content, u.channel) for u in uploads) == sorted(
        [(PNG, event["channel"]), (CSV, event["channel"])]
    )
    assert "table.csv (attached)" in reply_text(post)


def test_a_crash_before_an_upload_is_recorded_does_not_upload_it_twice(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, db: Engine
) -> None:
    openai.generated_files_next = [{"filename": "plot.png", "content": PNG}]
    slack.hold_answer_next("files.completeUploadExternal", seconds=30)
    first = start_bridge()
    event = dm_event("U1", "chart once")
    first.send(event_callback(event))
    wait_for(lambda: slack.uploads(), what="the upload to complete")
    first.kill()  # uploaded, but the bridge never heard, so the part is not marked posted
    assert _file_part_status(db) == "pending"

    second = start_bridge()
    # A look in the channel, a download from OpenAI and maybe a sweep: allow for a loaded machine.
    wait_for(lambda: _file_part_status(db) == "posted", timeout=30, what="the part to be settled")
    assert len(slack.uploads()) == 1
    assert "was already uploaded" in second.log()


def _file_part_status(db: Engine) -> str | None:
    with db.connect() as connection:
        return connection.execute(
            text("SELECT status FROM reply WHERE file_ref IS NOT NULL")
        ).scalar_one_or_none()


def test_citations_of_searched_files_read_as_footnotes(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.citations_next = [{"filename": "handbook.pdf"}, {"filename": "policy.docx"}]
    event = dm_event("U1", "what does the handbook say?")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    text = reply_text(post)
    assert "[1]" in text and "[2]" in text
    assert "**Sources**" in text
    assert "1. handbook.pdf" in text and "2. policy.docx" in text
    assert "【" not in text


def test_citations_in_an_assistants_api_answer_read_as_footnotes(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.add_assistant("asst_search", model="gpt-4o")
    bridge = start_bridge(OPENAI_ASSISTANT_ID="asst_search")
    openai.citations_next = [{"filename": "handbook.pdf"}]
    event = dm_event("U1", "what does the handbook say?")
    bridge.send(event_callback(event))
    [post] = posts_in(slack, event["channel"])
    text = reply_text(post)
    assert "【" not in text and "†" not in text
    assert " [1]" in text
    assert text.endswith("**Sources**\n1. handbook.pdf")


@pytest.mark.parametrize("api", ["responses", "assistants"])
def test_the_user_sees_that_code_is_running_and_the_status_goes_when_the_answer_comes(
    api: str, start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    env = {}
    if api == "assistants":
        openai.add_assistant("asst_code", model="gpt-4o", tools=[{"type": "code_interpreter"}])
        env["OPENAI_ASSISTANT_ID"] = "asst_code"
    bridge = start_bridge(**env)
    openai.latency = 2.0
    openai.activity_next = ["code_interpreter"]
    event = dm_event("U1", "compute something")
    bridge.send(event_callback(event))
    [status] = slack.wait_for(lambda: slack.posts(event["channel"]))
    assert status["text"] == "_Running code…_"
    [answer] = posts_in(slack, event["channel"])
    assert reply_text(answer).startswith("echo: compute something")
    wait_for(
        lambda: all("Running code" not in m["text"] for m in slack.messages(event["channel"])),
        what="the status message to go",
    )


HOSTED = """\
default = "analyst"

[assistants.analyst]
model = "gpt-5-mini"
tools = ["code_interpreter", "file_search", "web_search"]
vector_store_ids = ["vs_handbook"]

[assistants.legacy]
id = "asst_hosted"
tools = ["file_search"]
vector_store_ids = ["vs_legacy"]
"""


def test_hosted_tools_take_each_backends_form_and_code_interpreter_gets_the_files(
    start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI, tmp_path: Path
) -> None:
    (tmp_path / "assistants.toml").write_text(HOSTED)
    openai.add_assistant("asst_hosted", model="gpt-4o")
    bridge = start_bridge()
    files = shared(slack, ("F0CSV", "sales.csv", CSV, "text/csv"))
    event = dm_event("U1", "analyse", subtype="file_share", files=files)
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])
    [csv] = openai.files
    [body] = openai.responses_created()
    assert body["tools"] == [
        {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [csv["id"]]}},
        {"type": "file_search", "vector_store_ids": ["vs_handbook"]},
        {"type": "web_search"},
    ]

    (tmp_path / "assistants.toml").write_text(HOSTED.replace('"analyst"', '"legacy"', 1))
    bridge.kill()
    bridge = start_bridge()
    other = dm_event("U2", "search the old way")
    bridge.send(event_callback(other))
    posts_in(slack, other["channel"])
    [thread] = openai.calls("POST", r"^/v1/threads$")
    assert thread.json["tool_resources"] == {"file_search": {"vector_store_ids": ["vs_legacy"]}}
    [run] = openai.runs_created()
    assert run["tools"] == [{"type": "file_search"}]


@pytest.mark.parametrize("api", ["responses", "assistants"])
def test_a_generated_file_over_max_file_mb_becomes_a_note_and_one_under_it_is_uploaded(
    api: str, start_bridge: StartBridge, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    env = {"MAX_FILE_MB": "1"}
    if api == "assistants":
        openai.add_assistant("asst_files", model="gpt-4o")
        env["OPENAI_ASSISTANT_ID"] = "asst_files"
    bridge = start_bridge(**env)
    big = b"month,sales\n" + b"jan,10\n" * 160_000  # 1.1 MB
    openai.generated_files_next = [
        {"filename": "big.csv", "content": big},
        {"filename": "plot.png", "content": PNG},
    ]
    event = dm_event("U1", "chart it")
    bridge.send(event_callback(event))
    answer, note = posts_in(slack, event["channel"], 2)
    assert reply_text(answer).startswith("echo: chart it")
    assert (
        reply_text(note)
        == "_I couldn't attach big.csv here (it is over the 1 MB limit for files)._"
    )
    [upload] = wait_for(lambda: slack.uploads(), what="the small file's upload")
    assert upload.content == PNG  # (an Assistants image is named by its file id)
    wait_for(lambda: slack.reactions(event["channel"], event["ts"]) == set(), what="done sign")
    assert "big.csv is larger than MAX_FILE_MB" in bridge.log()


def test_an_app_without_files_write_posts_a_note_instead_of_the_file(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    openai.generated_files_next = [{"filename": "plot.png", "content": PNG}]
    slack.fail_next("files.getUploadURLExternal", error="missing_scope")
    event = dm_event("U1", "chart it")
    bridge.send(event_callback(event))
    answer, note = posts_in(slack, event["channel"], 2)
    assert reply_text(answer).startswith("echo: chart it")
    assert (
        reply_text(note)
        == "_I couldn't attach plot.png here (the Slack app may not upload files)._"
    )
    assert slack.uploads() == []
    wait_for(lambda: slack.reactions(event["channel"], event["ts"]) == set(), what="done sign")
    assert "lacks files:write" in bridge.log()


def test_the_bot_token_goes_only_to_slack_for_downloads(
    bridge: BridgeProcess, slack: FakeSlack, openai: FakeOpenAI
) -> None:
    elsewhere = {
        **slack.add_file("F0ODD", "odd.pdf", PDF, "application/pdf"),
        "url_private": "https://files.example.com/odd.pdf",
        "url_private_download": "https://files.example.com/odd.pdf?download=1",
    }
    event = dm_event("U1", "read it", subtype="file_share", files=[elsewhere])
    bridge.send(event_callback(event))
    posts_in(slack, event["channel"])
    [hint] = slack.wait_for(lambda: slack.ephemerals(event["channel"]))
    assert "odd.pdf: its link does not point at Slack" in hint["text"]
    assert openai.files == []
