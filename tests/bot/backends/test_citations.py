"""Answers for Slack: citations numbered once per source, generated files listed once."""

from __future__ import annotations

from typing import Any

import pytest

from bot.backends.citations import (
    Answer,
    GeneratedFile,
    cited_file_ids,
    from_assistant_messages,
    from_response_output,
)

JsonDict = dict[str, Any]


# Responses API ----------------------------------------------------------------------------
def message(*parts: JsonDict, item_id: str = "msg_1") -> JsonDict:
    """An assistant `message` output item, as `response.model_dump()` gives it."""
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": list(parts),
    }


def output_text(text: str, *annotations: JsonDict) -> JsonDict:
    return {"type": "output_text", "text": text, "annotations": list(annotations), "logprobs": []}


def file_citation(text: str, after: str, file_id: str, filename: str) -> JsonDict:
    return {
        "type": "file_citation",
        "file_id": file_id,
        "filename": filename,
        "index": text.index(after) + len(after),
    }


def url_citation(text: str, cited: str, url: str, title: str) -> JsonDict:
    start = text.index(cited)
    return {
        "type": "url_citation",
        "start_index": start,
        "end_index": start + len(cited),
        "url": url,
        "title": title,
    }


def container_citation(text: str, cited: str, file_id: str, filename: str) -> JsonDict:
    start = text.index(cited)
    return {
        "type": "container_file_citation",
        "container_id": "cntr_68a1",
        "file_id": file_id,
        "filename": filename,
        "start_index": start,
        "end_index": start + len(cited),
    }


REASONING: JsonDict = {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": None}
FILE_SEARCH: JsonDict = {
    "id": "fs_1",
    "type": "file_search_call",
    "status": "completed",
    "queries": ["vacation policy"],
    "results": None,
}
HANDBOOK = "Staff get 25 days of leave. Unused days carry over until March."
PRICES = "Prices rose 3% in May ([reuters.com](https://www.reuters.com/markets/)). See also BLS."
CHART = "Here is the chart: [Download the chart](sandbox:/mnt/data/sales_by_month.png). Done."
PLAIN = [
    "Just an answer.",
    "Markdown **stays** as it is:\n\n- one\n- two\n\n```python\nprint('[1]')\n```\n",
    "  leading and trailing whitespace  \n\n",
    "Brackets [like this] and (this), 【not a marker】.",
]


@pytest.mark.parametrize("text", PLAIN)
def test_responses_text_without_annotations_is_unchanged(text: str) -> None:
    assert from_response_output([REASONING, message(output_text(text))]) == Answer(text, ())


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        pytest.param(
            [
                FILE_SEARCH,
                message(
                    output_text(
                        HANDBOOK,
                        file_citation(HANDBOOK, "leave.", "file-Hb1", "handbook.pdf"),
                        file_citation(HANDBOOK, "March.", "file-Po2", "policy 2024.docx"),
                    )
                ),
            ],
            "Staff get 25 days of leave. [1] Unused days carry over until March. [2]"
            "\n\n**Sources**\n1. handbook.pdf\n2. policy 2024.docx",
            id="file_citation",
        ),
        pytest.param(
            [
                message(
                    output_text(
                        HANDBOOK,
                        file_citation(HANDBOOK, "leave.", "file-Hb1", "handbook.pdf"),
                        file_citation(HANDBOOK, "March.", "file-Hb1", "handbook.pdf"),
                        file_citation(HANDBOOK, "March.", "file-Hb1", "handbook.pdf"),
                        file_citation(HANDBOOK, "March.", "file-Po2", "policy.pdf"),
                    )
                )
            ],
            "Staff get 25 days of leave. [1] Unused days carry over until March. [1] [2]"
            "\n\n**Sources**\n1. handbook.pdf\n2. policy.pdf",
            id="same file cited again: one number, no repeat at the same spot",
        ),
        pytest.param(
            [
                message(
                    output_text(
                        HANDBOOK,
                        file_citation(HANDBOOK, "leave. ", "file-Hb1", "handbook.pdf"),
                        file_citation(HANDBOOK, "leave. ", "file-Po2", "policy.pdf"),
                        {**file_citation(HANDBOOK, "", "file-Hb1", "handbook.pdf"), "index": 0},
                    )
                )
            ],
            "[1] Staff get 25 days of leave. [1] [2] Unused days carry over until March."
            "\n\n**Sources**\n1. handbook.pdf\n2. policy.pdf",
            id="citations placed after a space keep the words apart",
        ),
        pytest.param(
            [
                message(
                    output_text(
                        PRICES,
                        url_citation(
                            PRICES,
                            "[reuters.com](https://www.reuters.com/markets/)",
                            "https://www.reuters.com/markets/",
                            "Markets [live] | Reuters",
                        ),
                        url_citation(
                            PRICES, "BLS", "https://www.bls.gov/cpi/", "Consumer Price Index"
                        ),
                    )
                )
            ],
            "Prices rose 3% in May ([reuters.com](https://www.reuters.com/markets/) [1])."
            " See also BLS [2]."
            "\n\n**Sources**\n1. [Markets (live) | Reuters](https://www.reuters.com/markets/)"
            "\n2. [Consumer Price Index](https://www.bls.gov/cpi/)",
            id="url_citation, also over a link to that url",
        ),
        pytest.param(
            [
                message(
                    output_text(
                        "See the guide.",
                        {
                            "type": "url_citation",
                            "start_index": 8,
                            "end_index": 13,
                            "url": "https://example.com/a (b)",
                            "title": "",
                        },
                    )
                )
            ],
            "See the guide [1]."
            "\n\n**Sources**\n1. [https://example.com/a (b)](https://example.com/a%20%28b%29)",
            id="url_citation without a title, url with spaces and parens",
        ),
    ],
)
def test_responses_citations(output: list[JsonDict], expected: str) -> None:
    answer = from_response_output(output)
    assert answer.text == expected
    assert answer.files == ()


def test_responses_parts_share_one_numbering_and_one_sources_list() -> None:
    first = "Leave is 25 days."
    second = "Carry-over ends in March, says the policy."
    third = "Inflation data: BLS."
    output = [
        REASONING,
        message(
            output_text(first, file_citation(first, "days.", "file-Hb1", "handbook.pdf")),
            output_text(second, file_citation(second, "policy.", "file-Hb1", "handbook.pdf")),
        ),
        {"id": "ws_1", "type": "web_search_call", "status": "completed"},
        message(
            output_text(third, url_citation(third, "BLS", "https://www.bls.gov/", "BLS")),
            {"type": "refusal", "refusal": "not shown"},
            item_id="msg_2",
        ),
        {"id": "msg_u", "type": "message", "role": "user", "content": []},
    ]
    assert from_response_output(output).text == (
        "Leave is 25 days. [1]\n\nCarry-over ends in March, says the policy. [1]"
        "\n\nInflation data: BLS [2]."
        "\n\n**Sources**\n1. handbook.pdf\n2. [BLS](https://www.bls.gov/)"
    )


def test_responses_container_files_are_attached_once_in_order() -> None:
    second = "Also the data: sandbox:/mnt/data/sales.csv and the chart again."
    output = [
        message(
            output_text(
                CHART,
                container_citation(
                    CHART,
                    "[Download the chart](sandbox:/mnt/data/sales_by_month.png)",
                    "cfile_1",
                    "sales_by_month.png",
                ),
            ),
            output_text(
                second,
                container_citation(second, "sandbox:/mnt/data/sales.csv", "cfile_2", "sales.csv"),
                container_citation(second, "chart", "cfile_1", "sales_by_month.png"),
            ),
        )
    ]
    assert from_response_output(output) == Answer(
        "Here is the chart: sales_by_month.png (attached). Done."
        "\n\nAlso the data: sales.csv (attached) and the chart again.",
        (
            GeneratedFile("cfile_1", "sales_by_month.png", "cntr_68a1"),
            GeneratedFile("cfile_2", "sales.csv", "cntr_68a1"),
        ),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Chart: ![Sales](sandbox:/mnt/data/chart.png)",
            "Chart: chart.png (attached)",
            id="image link, annotated elsewhere",
        ),
        pytest.param(
            "[Get it](sandbox:/mnt/data/out%20file.xlsx).",
            "out file.xlsx.",
            id="link to a file no annotation names: no dead link, no false claim",
        ),
        pytest.param(
            "Saved to sandbox:/mnt/data/chart.png.",
            "Saved to chart.png (attached).",
            id="bare path",
        ),
    ],
)
def test_responses_leftover_sandbox_links(text: str, expected: str) -> None:
    # The annotation's offsets cover no link (they sometimes point at 0..0).
    citation = {
        "type": "container_file_citation",
        "container_id": "cntr_1",
        "file_id": "cfile_9",
        "filename": "chart.png",
        "start_index": 0,
        "end_index": 0,
    }
    answer = from_response_output([message(output_text(text, citation))])
    assert answer.text == expected
    assert answer.files == (GeneratedFile("cfile_9", "chart.png", "cntr_1"),)


def test_responses_bad_offsets_do_not_break_the_text() -> None:
    text = "Short."
    notes = [
        {"type": "file_citation", "file_id": "f1", "filename": "a.pdf", "index": 999},
        {"type": "url_citation", "start_index": -5, "end_index": None, "url": "https://a.b/"},
        {"type": "file_path", "file_id": "f2", "index": 0},
        {"type": "something_new", "index": 2},
        "not an annotation",
    ]
    answer = from_response_output(
        [message({"type": "output_text", "text": text, "annotations": notes})]
    )
    assert answer.text == (
        "Short. [1] [2]\n\n**Sources**\n1. [https://a.b/](https://a.b/)\n2. a.pdf"
    )


# Assistants API ---------------------------------------------------------------------------
def thread_message(*content: JsonDict, role: str = "assistant") -> JsonDict:
    """A thread message object, as `message.model_dump()` gives it."""
    return {
        "id": "msg_abc",
        "object": "thread.message",
        "created_at": 1710000000,
        "thread_id": "thread_abc",
        "role": role,
        "content": list(content),
        "assistant_id": "asst_abc",
        "run_id": "run_abc",
        "attachments": [],
        "metadata": {},
    }


def text_part(value: str, *annotations: JsonDict) -> JsonDict:
    return {"type": "text", "text": {"value": value, "annotations": list(annotations)}}


def marker(value: str, text: str, file_id: str) -> JsonDict:
    start = value.index(text)
    return {
        "type": "file_citation",
        "text": text,
        "start_index": start,
        "end_index": start + len(text),
        "file_citation": {"file_id": file_id},
    }


def file_path(value: str, text: str, file_id: str) -> JsonDict:
    start = value.index(text)
    return {
        "type": "file_path",
        "text": text,
        "start_index": start,
        "end_index": start + len(text),
        "file_path": {"file_id": file_id},
    }


NAMES = {"file-Hb1": "handbook.pdf", "file-Po2": "policy.pdf"}
TWICE = "Leave: 25 days 【4:0†source】【4:3†source】"
CITED = (
    "Staff get 25 days of leave【4:0†source】. Unused days carry over【4:1†source】【4:2†source】."
)


@pytest.mark.parametrize("text", PLAIN)
def test_assistants_text_without_annotations_is_unchanged(text: str) -> None:
    answer = from_assistant_messages([thread_message(text_part(text))], filenames=NAMES)
    assert answer == Answer(text, ())


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        pytest.param(
            [
                text_part(
                    CITED,
                    marker(CITED, "【4:0†source】", "file-Hb1"),
                    marker(CITED, "【4:1†source】", "file-Hb1"),
                    marker(CITED, "【4:2†source】", "file-Po2"),
                )
            ],
            "Staff get 25 days of leave [1]. Unused days carry over [1] [2]."
            "\n\n**Sources**\n1. handbook.pdf\n2. policy.pdf",
            id="file_citation markers",
        ),
        pytest.param(
            [
                text_part(
                    TWICE,
                    marker(TWICE, "【4:0†source】", "file-Hb1"),
                    marker(TWICE, "【4:3†source】", "file-Hb1"),
                )
            ],
            "Leave: 25 days [1]\n\n**Sources**\n1. handbook.pdf",
            id="same file twice in a row: one marker; no double space",
        ),
        pytest.param(
            [
                text_part(
                    "Per the memo【7:0†source】.",
                    marker("Per the memo【7:0†source】.", "【7:0†source】", "file-Zz9"),
                )
            ],
            "Per the memo [1].\n\n**Sources**\n1. file-Zz9",
            id="file name unknown: the id",
        ),
        pytest.param(
            [
                text_part(
                    "Shifted【4:0†source】 text.",
                    {
                        **marker("Shifted【4:0†source】 text.", "【4:0†source】", "file-Hb1"),
                        "start_index": 3,
                    },
                )
            ],
            "Shifted [1] text.\n\n**Sources**\n1. handbook.pdf",
            id="offsets off: found by the marker text",
        ),
        pytest.param(
            [
                text_part(
                    "A quote【1:0†source】",
                    {
                        "type": "future_annotation",
                        "text": "quote",
                        "start_index": 2,
                        "end_index": 7,
                    },
                )
            ],
            "A quote【1:0†source】",
            id="unknown annotation type left alone",
        ),
    ],
)
def test_assistants_citations(parts: list[JsonDict], expected: str) -> None:
    answer = from_assistant_messages([thread_message(*parts)], filenames=NAMES)
    assert answer == Answer(expected, ())


def test_assistants_files_from_file_path_and_image_file() -> None:
    first = "Done. [Download the CSV](sandbox:/mnt/data/summary.csv) and the chart below."
    second = "Again: [summary](sandbox:/mnt/data/summary.csv)"
    messages = [
        thread_message(text_part("Ignore me", marker("Ignore me", "me", "file-U")), role="user"),
        thread_message(
            text_part(first, file_path(first, "sandbox:/mnt/data/summary.csv", "file-Csv")),
            {"type": "image_file", "image_file": {"file_id": "file-Img", "detail": None}},
        ),
        thread_message(
            text_part(second, file_path(second, "sandbox:/mnt/data/summary.csv", "file-Csv")),
            {"type": "image_file", "image_file": {"file_id": "file-Img"}},
        ),
    ]
    assert from_assistant_messages(messages, filenames=NAMES) == Answer(
        "Done. summary.csv (attached) and the chart below.\n\nAgain: summary.csv (attached)",
        (GeneratedFile("file-Csv", "summary.csv"), GeneratedFile("file-Img", "file-Img.png")),
    )


def test_assistants_image_only_answer() -> None:
    messages = [thread_message({"type": "image_file", "image_file": {"file_id": "file-Img"}})]
    assert from_assistant_messages(messages, filenames={}) == Answer(
        "", (GeneratedFile("file-Img", "file-Img.png"),)
    )


def test_cited_file_ids_in_order_once_each_assistant_only() -> None:
    second = "More【5:0†source】 and a file: [x](sandbox:/mnt/data/x.csv)"
    messages = [
        thread_message(
            text_part("Q【1:0†source】", marker("Q【1:0†source】", "【1:0†source】", "file-User")),
            role="user",
        ),
        thread_message(
            text_part(
                CITED,
                marker(CITED, "【4:0†source】", "file-Po2"),
                marker(CITED, "【4:1†source】", "file-Hb1"),
                marker(CITED, "【4:2†source】", "file-Po2"),
            )
        ),
        thread_message(
            text_part(
                second,
                marker(second, "【5:0†source】", "file-New"),
                file_path(second, "sandbox:/mnt/data/x.csv", "file-X"),
            )
        ),
    ]
    assert cited_file_ids(messages) == ["file-Po2", "file-Hb1", "file-New"]
