"""HTTP plumbing of the fake OpenAI server: recorded requests, bodies in, JSON and bytes out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.openai_shapes import Blob, FormFile, new_id

Form = dict[str, str | FormFile]


@dataclass(frozen=True)
class Recorded:
    """One request as received (header names lower-cased, JSON body decoded or None).

    A multipart/form-data body (a file upload) has `json` None and `form` set: its text
    fields by name, and each file part as its filename.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    form: dict[str, str] | None = None


class BadJson:
    """The body was not valid JSON."""


async def read_body(request: web.Request) -> tuple[Any, Form | None]:
    """The decoded JSON body (or a BadJson), or the fields of a multipart form."""
    if request.content_type == "multipart/form-data":
        form: Form = {}
        try:
            fields = await request.post()
        except ValueError:
            return BadJson(), None
        for key, value in fields.items():
            if isinstance(value, web.FileField):
                form[key] = FormFile(value.filename, value.file.read(), value.content_type)
            else:
                form[key] = value if isinstance(value, str) else value.decode()
        return None, form
    raw = await request.read()
    try:
        return (json.loads(raw) if raw else None), None
    except ValueError:
        return BadJson(), None


def form_summary(form: Form | None) -> dict[str, str] | None:
    if form is None:
        return None
    return {k: v.filename if isinstance(v, FormFile) else v for k, v in form.items()}


def standard_headers() -> dict[str, str]:
    return {
        "x-request-id": new_id("req"),
        "openai-version": "2020-10-01",
        "openai-processing-ms": "12",
    }


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers={**standard_headers(), **(headers or {})},
    )


def blob_response(blob: Blob) -> web.Response:
    return web.Response(
        body=blob.content, content_type=blob.content_type, headers=standard_headers()
    )
