"""The checks of `assistant-bridge doctor` on the environment, Slack and the database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Settings
from bot.slack.client import build_client, error_code
from storage.db import is_sqlite, normalize_url, safe_url
from storage.migrate import pending_migrations

Level = Literal["ok", "warn", "FAIL"]


@dataclass(frozen=True)
class Finding:
    """One verdict line: its level, the check's name and a short detail (never a secret)."""

    level: Level
    check: str
    detail: str


def required_variables(*, http: bool) -> list[str]:
    """The variables `serve` needs in that mode (the same list as `Settings.require`)."""
    mode_variable = "SLACK_SIGNING_SECRET" if http else "SLACK_APP_TOKEN"
    return ["SLACK_BOT_TOKEN", mode_variable, "OPENAI_API_KEY"]


def check_environment(settings: Settings, *, http: bool) -> list[Finding]:
    values = {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_SIGNING_SECRET": settings.slack_signing_secret,
        "SLACK_APP_TOKEN": settings.slack_app_token,
        "OPENAI_API_KEY": settings.openai_api_key,
    }
    mode = "HTTP mode" if http else "Socket Mode"
    names = required_variables(http=http)
    missing = [name for name in names if not values[name]]
    if not missing:
        return [Finding("ok", "environment", f"{mode}: {', '.join(names)} set")]
    return [Finding("FAIL", "environment", f"{name} is not set ({mode})") for name in missing]


def check_signing_secret(settings: Settings) -> list[Finding]:
    """HTTP mode: the signing secret is present (only Slack's requests can prove it right)."""
    if settings.slack_signing_secret:
        return [Finding("ok", "signing secret", "SLACK_SIGNING_SECRET is set")]
    return [Finding("FAIL", "signing secret", "SLACK_SIGNING_SECRET is not set")]


async def check_app_token(settings: Settings) -> list[Finding]:
    """Socket Mode: `apps.connections.open` with the app-level token, as `serve` connects."""
    check = "app token"
    if not settings.slack_app_token:
        return [Finding("FAIL", check, "SLACK_APP_TOKEN is not set")]
    async with aiohttp.ClientSession() as session:
        client = build_client(settings, session)
        try:
            await client.apps_connections_open(app_token=settings.slack_app_token)
        except SlackApiError as exc:
            return [Finding("FAIL", check, f"apps.connections.open failed: {error_code(exc)}")]
        except (aiohttp.ClientError, OSError) as exc:
            return [Finding("FAIL", check, _unreachable(settings, exc))]
    return [Finding("ok", check, "SLACK_APP_TOKEN accepted by apps.connections.open")]


async def check_slack(settings: Settings, required_scopes: Iterable[str]) -> list[Finding]:
    """`auth.test` with the bot token, and its granted scopes against `required_scopes`."""
    if not settings.slack_bot_token:
        return [Finding("FAIL", "slack token", "SLACK_BOT_TOKEN is not set")]
    async with aiohttp.ClientSession() as session:
        client = build_client(settings, session)
        try:
            response = await client.auth_test()
        except SlackApiError as exc:
            return [Finding("FAIL", "slack token", f"auth.test failed: {error_code(exc)}")]
        except (aiohttp.ClientError, OSError) as exc:
            return [Finding("FAIL", "slack token", _unreachable(settings, exc))]
    team = f"{response.get('team')} ({response.get('team_id')})"
    bot = f"{response.get('user')} ({response.get('user_id')})"
    token = Finding("ok", "slack token", f"team {team}, bot user {bot}")
    return [token, _scopes_finding(response.headers, required_scopes)]


def _unreachable(settings: Settings, exc: Exception) -> str:
    return f"Slack is unreachable at {settings.slack_api_url} ({type(exc).__name__})"


def _scopes_finding(headers: Mapping[str, Any], required_scopes: Iterable[str]) -> Finding:
    raw = next((str(v) for k, v in headers.items() if k.lower() == "x-oauth-scopes"), None)
    if raw is None:
        return Finding("warn", "slack scopes", "Slack sent no x-oauth-scopes header")
    granted = {scope.strip() for scope in raw.split(",") if scope.strip()}
    missing = [scope for scope in required_scopes if scope not in granted]
    if missing:
        detail = f"missing {', '.join(missing)}: add them to the app and reinstall it"
        return Finding("FAIL", "slack scopes", detail)
    return Finding("ok", "slack scopes", "every scope the manifest asks for is granted")


def check_database(url: str, *, timeout: float) -> list[Finding]:
    """Reachable (connect + SELECT 1) and migrated; blocking, so run it in a thread."""
    shown = safe_url(url)
    database = make_url(normalize_url(url, sync=True)).database
    if is_sqlite(url) and database and database != ":memory:" and not Path(database).is_file():
        # Connecting would create an empty file; say what to do instead.
        return [Finding("FAIL", "database", f"{shown}: no such file: run assistant-bridge migrate")]
    connect_args: dict[str, Any] = {} if is_sqlite(url) else {"connect_timeout": int(timeout)}
    engine = create_engine(normalize_url(url, sync=True), connect_args=connect_args)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            pending = pending_migrations(connection, url)
    except SQLAlchemyError as exc:
        return [Finding("FAIL", "database", f"cannot use {shown}: {_driver_reason(exc)}")]
    finally:
        engine.dispose()
    reachable = Finding("ok", "database", f"reachable at {shown}")
    if pending:
        detail = f"{len(pending)} migration(s) pending: run assistant-bridge migrate"
        return [reachable, Finding("FAIL", "migrations", detail)]
    return [reachable, Finding("ok", "migrations", "the schema is up to date")]


def _driver_reason(exc: SQLAlchemyError) -> str:
    """The first line of the driver's own message (it names the host, never the password)."""
    lines = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
