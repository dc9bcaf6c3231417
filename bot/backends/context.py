"""What a Responses create carries to keep a conversation within the model's context.

An assistant's `context` (assistants file) picks how; the default is "compact":
- "compact": server-side compaction (`context_management: [{"type": "compaction",
  "compact_threshold": N}]`): past N rendered tokens the server replaces the older turns
  with an encrypted compaction item that carries their state forward (OpenAI guide
  "Compaction"), so a months-long conversation keeps its gist. `truncation: "auto"` is sent
  too, as the backstop for a single turn that is still too large.
- "truncate": only `truncation: "auto"`: the API drops the oldest items of the
  conversation until the input fits the model's context window (otherwise a 400).
- "off": neither (the API's default `truncation: "disabled"`): an overflow fails with
  `context_length_exceeded`.
A retry after `context_length_exceeded` forces `truncation: "auto"` whatever the mode.
Every create also carries `prompt_cache_key` (one per conversation, so its turns hit the
same prompt cache) and `safety_identifier` (a hash of team and user) when the brief has them.
"""

from __future__ import annotations

from typing import Any

from bot.assistants import Assistant
from bot.backends.base import TurnBrief

# Rendered tokens past which the server compacts: below the smallest context window of
# the current models (128k), so compaction comes before truncation would.
COMPACT_THRESHOLD = 100_000


def brief_fields(assistant: Assistant, brief: TurnBrief) -> dict[str, Any]:
    """The create's context, cache and safety fields for this assistant and turn."""
    fields: dict[str, Any] = {}
    if assistant.context == "compact":
        fields["context_management"] = [
            {"type": "compaction", "compact_threshold": COMPACT_THRESHOLD}
        ]
    if assistant.context != "off" or brief.force_truncation:
        fields["truncation"] = "auto"
    if brief.cache_key:
        fields["prompt_cache_key"] = brief.cache_key
    if brief.safety_id:
        fields["safety_identifier"] = brief.safety_id
    return fields
