"""Which messages this process gave the "working" reaction, so delivery removes only those.

With STREAMING=on the status while an answer is awaited is Slack's own "is thinking…"
(`assistant.threads.setStatus`); the reaction is the fallback where Slack refuses that, so
most answered messages have none to remove and no call is spent on them.
"""

from __future__ import annotations

from collections import OrderedDict

# Past this many, the oldest are forgotten (their reaction stays: cosmetic).
MAX_REMEMBERED = 10_000


class ReactedMessages:
    """The (channel, ts) of messages given the reaction here, bounded."""

    def __init__(self, max_remembered: int = MAX_REMEMBERED) -> None:
        self._reacted: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._max = max_remembered

    def add(self, channel: str, ts: str) -> None:
        self._reacted[(channel, ts)] = None
        if len(self._reacted) > self._max:
            self._reacted.popitem(last=False)

    def take(self, channel: str, ts: str) -> bool:
        """Whether the message got the reaction here (forgotten now: it is being removed)."""
        if (channel, ts) not in self._reacted:
            return False
        del self._reacted[(channel, ts)]
        return True
