"""OpenAI errors told in a sentence: by status and code only (OpenAI's messages may echo the
key), for `doctor` and `assistants sync`."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import openai
from openai import AsyncOpenAI

from bot.errors import BridgeError

AGENTS_PERMISSIONS = (
    "the key lacks the Agents API permissions: give it api.agents.read and api.agents.write "
    "(a restricted key: Agents, Write)"
)


class AgentSyncError(BridgeError):
    """A saved agent could not be checked, created or updated; `unreachable`: OpenAI could
    not be reached at all (serve may then start on the agents on record)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def public_base_url(client: AsyncOpenAI) -> str:
    """The client's base URL without any user:password part (the URL itself is not secret)."""
    parts = urlsplit(str(client.base_url))
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def lacks_agents_permissions(exc: openai.OpenAIError) -> bool:
    """403, or the 401 OpenAI gives a restricted key without a scope ("Missing scopes")."""
    if isinstance(exc, openai.PermissionDeniedError):
        return True
    return isinstance(exc, openai.AuthenticationError) and "missing scopes" in str(exc).lower()


def describe_error(exc: openai.OpenAIError, client: AsyncOpenAI) -> str:
    """What went wrong, by status and error code only."""
    if isinstance(exc, openai.AuthenticationError):
        return f"OpenAI rejected the key ({exc.status_code})"
    if isinstance(exc, openai.APIConnectionError):  # also APITimeoutError
        return f"OpenAI is unreachable at {public_base_url(client)} ({type(exc).__name__})"
    if isinstance(exc, openai.APIStatusError):
        code = f", {exc.code}" if isinstance(exc.code, str) else ""
        return f"OpenAI answered HTTP {exc.status_code}{code}"
    return f"OpenAI call failed ({type(exc).__name__})"


def sync_error(
    exc: openai.OpenAIError, client: AsyncOpenAI, name: str, doing: str
) -> AgentSyncError:
    """The AgentSyncError of a failed call for assistant `name` while `doing` something."""
    if lacks_agents_permissions(exc):
        status = getattr(exc, "status_code", "")
        reason = f"{AGENTS_PERMISSIONS} (HTTP {status})"
    else:
        reason = describe_error(exc, client)
    unreachable = isinstance(exc, openai.APIConnectionError)
    return AgentSyncError(f"assistant {name}: {doing}: {reason}", unreachable=unreachable)
