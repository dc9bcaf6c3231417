"""The command line `assistant-bridge` (or `python -m bot`): serve, migrate, assistants, doctor,
feedback, usage."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import datetime

from bot.assistants import Assistant, Assistants, load_assistants
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
    assistants_cmd = commands.add_parser("assistants", help="the configured assistants")
    assistants_actions = assistants_cmd.add_subparsers(dest="action", required=True)
    assistants_actions.add_parser("list", help="list the assistants, the default marked *")
    assistants_actions.add_parser(
        "sync", help="create or update the Agents API agents the assistants file defines"
    )
    doctor_cmd = commands.add_parser("doctor", help="check Slack, OpenAI, assistants, database")
    doctor_mode = doctor_cmd.add_mutually_exclusive_group()
    doctor_mode.add_argument("--http", action="store_true", help="check for HTTP mode")
    doctor_mode.add_argument("--socket", action="store_true", help="check for Socket Mode")
    doctor_cmd.add_argument(
        "--timeout", type=float, default=15.0, help="seconds each check may take (default: 15)"
    )
    feedback_cmd = commands.add_parser("feedback", help="feedback on answers, per assistant")
    feedback_cmd.add_argument(
        "--limit", type=_positive, default=20, help="how many latest votes to list (default: 20)"
    )
    feedback_cmd.add_argument(
        "--since", type=_since, help="only votes cast since DATE (2026-11-30, UTC)"
    )
    usage_cmd = commands.add_parser("usage", help="recorded token usage, with totals")
    usage_cmd.add_argument(
        "--since", type=_since, help="only usage recorded since DATE (2026-11-30, UTC)"
    )
    usage_cmd.add_argument(
        "--by",
        choices=["assistant", "user", "channel", "day"],
        default="assistant",
        help="what to sum by (default: assistant)",
    )
    usage_cmd.add_argument("--csv", action="store_true", help="CSV with a header line")
    return parser


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {text!r}")
    return int(text)


def _since(text: str) -> datetime:
    # Imported here: the storage modules need not load for every other command.
    from bot.feedback_report import since_date

    return since_date(text)


def format_assistants(assistants: Assistants) -> str:
    """One line per assistant (name, model, asst_ or agent id, description), and under it
    what kind of agent it is and what it offers the model, if anything; then the source."""
    rows = []
    for name in assistants.names:
        one = assistants.by_name[name]
        is_default = name == assistants.default_name
        description = " ".join([one.description, "(default)" if is_default else ""]).strip()
        shown = one.agent_id or one.assistant_id or one.model
        rows.append(("*" if is_default else " ", name, shown, description))
    name_width = max(len(row[1]) for row in rows)
    kind_width = max(len(row[2]) for row in rows)
    lines = []
    for marker, name, kind, description in rows:
        lines.append(f"{marker} {name:<{name_width}}  {kind:<{kind_width}}  {description}".rstrip())
        one = assistants.by_name[name]
        offers = _agent_facts(one) if one.is_agent else []
        offers += [f"tools: {', '.join(one.tools)}"] if one.tools else []
        if one.callables:
            offers.append(f"functions: {', '.join(f.name for f in one.callables)}")
        if offers:
            lines.append(f"    {'; '.join(offers)}")
    return "\n".join([*lines, f"source: {assistants.source}"])


def _agent_facts(one: Assistant) -> list[str]:
    """An agent's kind, its id (or that it is not synced yet) and its environment."""
    from bot.backends.agent_start import NOT_SYNCED

    defined = one.agent_definition is not None
    facts = ["agent (defined here)" if defined else "agent (saved at OpenAI)"]
    if defined and not one.agent_id:
        facts.append(NOT_SYNCED)
    environment = one.session_environment
    size = environment.get("container_size")
    facts.append(f"environment: {environment['type']}" + (f" ({size})" if size else ""))
    return facts


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx/aiohttp request lines at INFO carry URLs only, but they are noise at this level.
    for noisy in (
        "httpx",
        "httpx2",
        "apscheduler",
        "slack_bolt.AsyncApp",
        "alembic.runtime.plugins",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.root.level))


def run(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if args.command == "serve" and args.port:
        settings = settings.model_copy(update={"port": args.port})
    configure_logging(settings)
    if args.command == "assistants":
        return assistants_command(settings, args.action)
    if args.command == "feedback":
        from bot.feedback_report import feedback_report
        from bot.server.serve import apply_migrations

        # As `serve` does: a fresh database gets its tables, an older one the new ones.
        apply_migrations(settings)
        print(feedback_report(settings, limit=args.limit, since=args.since))
        return 0
    if args.command == "usage":
        from bot.server.serve import apply_migrations
        from bot.usage_report import usage_report
        from storage.usage import UsageBy

        apply_migrations(settings)
        print(usage_report(settings, by=UsageBy(args.by), since=args.since, as_csv=args.csv))
        return 0
    if args.command == "doctor":
        from bot.doctor.report import doctor

        socket_mode = bool(args.socket or (settings.slack_app_token and not args.http))
        return doctor(settings, socket_mode=socket_mode, timeout=args.timeout)
    # Imported here: checking the environment first must not wait for Slack/OpenAI imports.
    from bot.server.serve import apply_migrations, serve

    if args.command == "migrate":
        apply_migrations(settings)
        return 0
    socket_mode = bool(args.socket or (settings.slack_app_token and not args.http))
    settings.require(http=not socket_mode)
    assistants = load_assistants(settings)
    asyncio.run(serve(settings, assistants, socket_mode=socket_mode))
    return 0


def assistants_command(settings: Settings, action: str) -> int:
    """`assistants list` (with the agent ids on record) or `assistants sync`."""
    # Imported here: `assistants list` without agents needs neither OpenAI nor a database.
    from bot.backends.agent_start import format_synced, sync_command, with_recorded_agents

    assistants = load_assistants(settings)
    if action == "list":
        print(format_assistants(asyncio.run(with_recorded_agents(settings, assistants))))
        return 0
    from bot.server.serve import apply_migrations

    apply_migrations(settings)
    print(format_synced(asyncio.run(sync_command(settings, assistants))))
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
