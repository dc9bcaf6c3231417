"""The fake's context window: a create whose rendered input passes `Knobs.context_limit`
characters fails with the real API's `context_length_exceeded` 400 — unless the request's
own context settings keep it within, as the real API's do:

- `context_management: [{"type": "compaction", ...}]` (server-side compaction): the items
  before this response's input are replaced by one short compaction item;
- `truncation: "auto"`: the oldest of those items are dropped until the input fits.

Neither can cut the response's own input: a single input larger than the limit fails anyway.
The size counted is the JSON of the instructions and the items (the fake has no tokenizer).
"""

from __future__ import annotations

import json

from tests.fakes.openai_shapes import ApiError, JsonDict

# The real API's answer to an input past the model's context window.
CONTEXT_FULL_MESSAGE = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)
# What a compaction item stands for in the fake's count (it is encrypted and short).
COMPACTED_SIZE = 200


def _size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def compacts(body: JsonDict) -> bool:
    """The request asks for server-side compaction."""
    entries = body.get("context_management") or []
    return any(isinstance(e, dict) and e.get("type") == "compaction" for e in entries)


def check_context(
    limit: int | None, body: JsonDict, prior: list[JsonDict], items: list[JsonDict]
) -> str | None:
    """Raise the 400 a create past the context window gets; else how it fit: None (as it
    is), "compacted" or "truncated"."""
    if limit is None:
        return None
    own = _size(body.get("instructions") or "") + _size(items)
    history = _size(prior) if prior else 0
    if own + history <= limit:
        return None
    if own <= limit:
        if compacts(body) and own + COMPACTED_SIZE <= limit:
            return "compacted"
        if body.get("truncation") == "auto":
            return "truncated"
    raise ApiError(400, CONTEXT_FULL_MESSAGE, param="input", code="context_length_exceeded")
