"""The command line: `assistant-bridge serve | migrate` (also `python -m bot`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config import Settings, load_settings
from bot.errors import BridgeError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant-bridge", description="Talk to your OpenAI assistants from Slack."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="serve Slack (HTTP, or Socket Mode)")
    mode = serve_cmd.add_mutually_exclusive_group()
    mode.add_argument(
        "--http", action="store_true", help="HTTP mode even if SLACK_APP_TOKEN is set"
    )
    mode.add_argument("--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)")
    serve_cmd.add_argument("--port", type=int, help="HTTP port (default: $PORT or 3000)")
    commands.add_parser("migrate", help="bring the database schema up to date")
    return parser


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx/aiohttp request lines at INFO carry URLs only, but they are noise at this level.
    for noisy in ("httpx", "httpx2", "apscheduler", "slack_bolt.AsyncApp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.root.level))


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if args.command == "serve" and args.port:
        settings = settings.model_copy(update={"port": args.port})
    configure_logging(settings)
    # Imported here: checking the environment first must not wait for Slack/OpenAI imports.
    from bot.serve import apply_migrations, serve

    if args.command == "migrate":
        apply_migrations(settings)
        return 0
    socket_mode = bool(args.socket or (settings.slack_app_token and not args.http))
    settings.require(http=not socket_mode)
    asyncio.run(serve(settings, socket_mode=socket_mode))
    return 0


def main(argv: list[str] | None = None) -> None:
    try:
        code = run(argv)
    except BridgeError as exc:
        print(f"assistant-bridge: error: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
