"""`assistant-bridge doctor`: check the whole setup and print one verdict per line."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence

from bot.assistants import Assistant, load_assistants
from bot.backends.agent_start import with_recorded_agents
from bot.backends.checks import OpenAIChecks
from bot.config import Settings
from bot.doctor.checks import (
    Finding,
    check_app_token,
    check_database,
    check_environment,
    check_signing_secret,
    check_slack,
)
from bot.errors import ConfigError

__all__ = ["REQUIRED_SCOPES", "Finding", "doctor", "format_finding", "run_checks"]

# The bot scopes slack-manifest.yml asks for (a test keeps the two lists equal).
REQUIRED_SCOPES = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "channels:read",
    "groups:read",
    "groups:history",
    "im:history",
    "im:read",
    "im:write",
    "chat:write",
    "commands",
    "reactions:write",
    "users:read",
    "files:read",
    "files:write",
)
DEFAULT_TIMEOUT = 15.0


async def _guarded(check: str, work: Awaitable[list[Finding]], seconds: float) -> list[Finding]:
    """One check's findings; a timeout or a crash is that check's FAIL, never the others'."""
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        return [Finding("FAIL", check, f"no answer within {seconds:g} s")]
    except Exception as exc:  # the message of an unknown error might hold a secret
        return [Finding("FAIL", check, f"the check itself failed ({type(exc).__name__})")]


async def run_checks(
    settings: Settings, *, socket_mode: bool, seconds: float = DEFAULT_TIMEOUT
) -> list[Finding]:
    """Every check, concurrently; the findings in a fixed order."""
    http = not socket_mode
    findings = check_environment(settings, http=http)
    mode_secret = (
        _found(check_signing_secret(settings))
        if http
        else _guarded("app token", check_app_token(settings), seconds)
    )
    listed: list[Assistant] = []
    unlisted: list[Finding] = []
    try:
        assistants = await with_recorded_agents(settings, load_assistants(settings))
        listed = [assistants.by_name[name] for name in assistants.names]
    except ConfigError as exc:  # our own message: file, line and reason, never a value
        unlisted.append(Finding("FAIL", "assistants", str(exc)))
    slack = _guarded("slack token", check_slack(settings, REQUIRED_SCOPES), seconds)
    database = _guarded(
        "database",
        asyncio.to_thread(check_database, settings.database_url, timeout=seconds),
        seconds,
    )
    remote = OpenAIChecks(settings) if settings.openai_api_key else None
    try:
        secret, *groups = await asyncio.gather(
            mode_secret, slack, *_openai_checks(remote, listed, seconds), database
        )
    finally:
        if remote is not None:
            await remote.close()
    return findings + secret + unlisted + [finding for group in groups for finding in group]


def _openai_checks(
    remote: OpenAIChecks | None, assistants: list[Assistant], seconds: float
) -> Sequence[Awaitable[list[Finding]]]:
    if remote is None:
        unchecked = [Finding("FAIL", "openai key", "OPENAI_API_KEY is not set")] + [
            Finding("warn", f"assistant {one.name}", "not checked: no OpenAI key")
            for one in assistants
        ]
        return [_found(unchecked)]
    return [_guarded("openai key", remote.key(), seconds)] + [
        _guarded(f"assistant {one.name}", remote.assistant(one), seconds) for one in assistants
    ]


async def _found(findings: list[Finding]) -> list[Finding]:
    return findings


def format_finding(finding: Finding) -> str:
    return f"{finding.level:<4}  {finding.check:<20}  {finding.detail}"


def quiet_logging(settings: Settings) -> None:
    """Let only errors through to the log while doctor runs, unless LOG_LEVEL=DEBUG.

    Doctor's output is its table. Its clients keep their retries (one blip should not fail a
    check), but slack_sdk's and openai's INFO lines about them ("A retry handler found …",
    "Retrying request in …") would otherwise be mixed into it.
    """
    if settings.log_level.upper() != "DEBUG":
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.ERROR)


def doctor(settings: Settings, *, socket_mode: bool, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Print every verdict; exit code 1 if any check failed, else 0."""
    quiet_logging(settings)
    findings = asyncio.run(run_checks(settings, socket_mode=socket_mode, seconds=timeout))
    for finding in findings:
        print(format_finding(finding), flush=True)
    return 1 if any(f.level == "FAIL" for f in findings) else 0
