"""The bridge's error hierarchy: what went wrong, in terms a caller can act on."""


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""


class ConfigError(BridgeError):
    """The environment or the assistants file is missing something or malformed."""


class DatabaseUnavailable(BridgeError):
    """The database cannot be reached or opened."""


class BackendError(BridgeError):
    """An OpenAI call failed.

    `transient` says whether trying again later can help (rate limits, 5xx, timeouts,
    a conversation that is busy) or not (bad request, bad key, unknown assistant).
    """

    def __init__(self, message: str, *, transient: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code


class FileTooLarge(BackendError):
    """A file the assistant made is larger than MAX_FILE_MB: read no further, noted instead."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False, code="file_too_large")


class TurnLost(BridgeError):
    """This process no longer holds the turn: its lease ran out and another process may
    have taken it over. Whatever this process knew of the turn is dropped."""
