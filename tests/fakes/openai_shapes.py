"""JSON shapes shared by the fake OpenAI endpoints: ids, error bodies, list pages."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class FormFile:
    """A file part of a multipart/form-data request."""

    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class ApiRequest:
    """A decoded request as the endpoint functions see it."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    # Fields of a multipart/form-data body (text fields as str, file parts as FormFile).
    form: Mapping[str, str | FormFile] | None = None
    # Header names lower-cased.
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> JsonDict:
        return self.json if isinstance(self.json, dict) else {}


@dataclass(frozen=True)
class Later:
    """An answer that is only ready after `delay` seconds (a blocking, non-background call)."""

    delay: float
    then: Callable[[], JsonDict]


@dataclass(frozen=True)
class Blob:
    """A raw (non-JSON) answer, e.g. a file's content."""

    content: bytes
    content_type: str


@dataclass(frozen=True)
class Streamed:
    """An answer that is a server-sent event stream: the response's events after `after`."""

    response_id: str
    after: int
    kind: str  # "create" | "resume"


@dataclass(frozen=True)
class Accepted:
    """An answer without a body (the Agents API's 202 to input events)."""

    status: int = 202


@dataclass(frozen=True)
class SessionStream:
    """An answer that is an agent session's live event stream, from `position` in its log."""

    session_id: str
    position: int


Result = JsonDict | Later | Blob | Streamed | Accepted | SessionStream


def new_id(prefix: str) -> str:
    """An id in OpenAI's style, e.g. `resp_68c1…` (prefix, underscore, hex)."""
    return f"{prefix}_{secrets.token_hex(24)}"


def error_body(
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> JsonDict:
    """The body every OpenAI error carries: {"error": {message, type, param, code}}."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ApiError(Exception):
    """Raised by an endpoint to answer with an OpenAI error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type_=type_, param=param, code=code)


def not_found(kind: str, object_id: str) -> ApiError:
    return ApiError(404, f"No {kind} found with id '{object_id}'.")


def missing(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


DEFAULT_ERRORS: Mapping[int, JsonDict] = {
    400: error_body("Invalid request."),
    401: error_body(
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    ),
    404: error_body("Not found."),
    408: error_body("Request timed out.", type_="timeout"),
    409: error_body("The request conflicted with another request.", type_="conflict"),
    429: error_body(
        "Rate limit reached for requests. Please try again in 1s.",
        type_="requests",
        code="rate_limit_exceeded",
    ),
    500: error_body(
        "The server had an error while processing your request. Sorry about that!",
        type_="server_error",
    ),
    502: error_body("Bad gateway.", type_="server_error"),
    503: error_body(
        "The engine is currently overloaded, please try again later.", type_="server_error"
    ),
}


def default_error(status: int) -> JsonDict:
    return DEFAULT_ERRORS.get(status, error_body(f"HTTP {status}", type_="server_error"))


def list_page(
    rows: Sequence[JsonDict],
    query: Mapping[str, str],
    *,
    default_order: str = "desc",
) -> JsonDict:
    """A cursor page (`order`, `limit`, `after`, `before`) over rows kept oldest first."""
    order = query.get("order", default_order)
    if order not in ("asc", "desc"):
        raise ApiError(400, f"Invalid value for 'order': '{order}'.", param="order")
    try:
        limit = int(query.get("limit", "20"))
    except ValueError:
        raise ApiError(400, "Invalid value for 'limit'.", param="limit") from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "Invalid 'limit': must be between 1 and 100.", param="limit")
    ordered = list(rows) if order == "asc" else list(reversed(rows))
    ids = [row["id"] for row in ordered]
    for key, cut in (("after", 1), ("before", 0)):
        cursor = query.get(key)
        if cursor is None:
            continue
        if cursor not in ids:
            raise ApiError(400, f"Invalid '{key}': no object with id '{cursor}'.", param=key)
        position = ids.index(cursor)
        ordered = ordered[position + 1 :] if cut else ordered[:position]
        ids = [row["id"] for row in ordered]
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
    }


def texts_of(content: Any) -> list[str]:
    """Plain texts in a message `content` (a string or a list of typed parts)."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            text = part.get("text")
            if isinstance(text, str):
                texts.append(text)
            elif isinstance(text, dict) and isinstance(text.get("value"), str):
                texts.append(text["value"])
    return texts


def estimate_tokens(texts: Sequence[str]) -> int:
    return max(1, sum(len(text.split()) for text in texts))
