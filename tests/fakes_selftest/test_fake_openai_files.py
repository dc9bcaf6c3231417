"""Files API uploads and file references in turn inputs of the fake OpenAI, via the async SDK."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.openai_store import ReplyContext
from tests.fakes_selftest.test_fake_openai_tools import ask, scenario


def test_files_upload_retrieve_download_delete(oa: FakeOpenAI) -> None:
    async def body(sdk: openai.AsyncOpenAI) -> None:
        uploaded = await sdk.files.create(file=("notes.csv", b"a,b\n1,2\n"), purpose="assistants")
        assert uploaded.id.startswith("file-") and uploaded.bytes == 8
        assert (uploaded.filename, uploaded.purpose, uploaded.status) == (
            "notes.csv",
            "assistants",
            "processed",
        )
        assert (await sdk.files.retrieve(uploaded.id)).filename == "notes.csv"
        content = await sdk.files.content(uploaded.id)
        assert content.content == b"a,b\n1,2\n"
        assert content.response.headers["content-type"].startswith("text/csv")
        assert (await sdk.files.delete(uploaded.id)).deleted
        with pytest.raises(openai.NotFoundError, match="No such File object"):
            await sdk.files.retrieve(uploaded.id)
        oa.max_file_bytes = 4
        with pytest.raises(openai.BadRequestError, match="File is too large"):
            await sdk.files.create(file=("big.bin", b"12345"), purpose="user_data")

    kept = oa.add_file("kept.txt", b"x")
    scenario(oa, body)
    assert [(f["id"], f["content"]) for f in oa.files] == [(kept, b"x")]
    forms = [r.form for r in oa.calls("POST", r"^/v1/files$")]
    assert forms == [
        {"purpose": "assistants", "file": "notes.csv"},
        {"purpose": "user_data", "file": "big.bin"},
    ]


def test_input_parts_and_container_file_ids_are_checked_and_exposed(oa: FakeOpenAI) -> None:
    seen: list[ReplyContext] = []

    def responder(context: ReplyContext) -> str:
        seen.append(context)
        return "ok"

    oa.responder = responder
    pdf, png, data = (oa.add_file(n, b"?") for n in ("a.pdf", "b.png", "c.csv"))

    def content(file_id: str) -> Any:
        return [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "read these"},
                    {"type": "input_file", "file_id": file_id},
                    {"type": "input_image", "file_id": png},
                    {"type": "input_image", "image_url": "https://example.com/x.png"},
                ],
            }
        ]

    async def body(sdk: openai.AsyncOpenAI) -> None:
        conversation = await sdk.conversations.create()
        tools: Any = [
            {"type": "code_interpreter", "container": {"type": "auto", "file_ids": [data]}}
        ]
        response = await ask(sdk, conversation.id, content(pdf), tools=tools)
        assert response.output_text == "ok"
        with pytest.raises(openai.BadRequestError, match="No such File object: file-missing"):
            await ask(sdk, conversation.id, content("file-missing"))
        bad_tools: Any = [
            {"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file-gone"]}}
        ]
        with pytest.raises(openai.BadRequestError, match="file-gone"):
            await ask(sdk, conversation.id, "x", tools=bad_tools)
        items = [i async for i in sdk.conversations.items.list(conversation.id, order="asc")]
        assert items[0].type == "message" and items[0].content[2].type == "input_image"

    scenario(oa, body)
    assert len(seen) == 1 and seen[0].user_texts == ["read these"]
    assert seen[0].file_ids == [pdf, png, data]
