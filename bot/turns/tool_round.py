"""A turn's pending tool round, as stored in `turn.tool_state` (JSON).

The outputs are stored before they are sent, so a process that takes the turn over after a
crash sends the same outputs again instead of running the functions twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bot.functions.calls import ToolCall, ToolOutput


@dataclass
class ToolState:
    """The calls the run `run_id` asked for, and the outputs computed for them."""

    run_id: str
    calls: tuple[ToolCall, ...]
    outputs: dict[str, ToolOutput] = field(default_factory=dict)

    def answers(self, calls: tuple[ToolCall, ...]) -> bool:
        """True if every one of `calls` already has an output here."""
        return bool(calls) and all(call.call_id in self.outputs for call in calls)

    def ordered_outputs(self) -> list[ToolOutput]:
        return [self.outputs[call.call_id] for call in self.calls if call.call_id in self.outputs]

    def to_json(self) -> str:
        return json.dumps(
            {
                "run_id": self.run_id,
                "calls": [
                    {"call_id": c.call_id, "name": c.name, "arguments": c.arguments}
                    for c in self.calls
                ],
                "outputs": [
                    {"call_id": o.call_id, "output": o.output, "ok": o.ok}
                    for o in self.outputs.values()
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> ToolState | None:
        if not text:
            return None
        data = json.loads(text)
        calls = tuple(ToolCall(**call) for call in data.get("calls", []))
        outputs = {o["call_id"]: ToolOutput(**o) for o in data.get("outputs", [])}
        return cls(run_id=str(data["run_id"]), calls=calls, outputs=outputs)
