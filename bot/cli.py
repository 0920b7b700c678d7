"""`skyvia-bot` verbs: run, workers, migrate, check, simulator, console.

Each is described in docs/reference/configuration.md#skyvia-bot-verbs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import ConfigError, Settings, load_settings
from bot.logging_setup import configure_logging

if TYPE_CHECKING:
    from storage.crypto import Reencryption

log = logging.getLogger("bot.cli")


def _secrets_of(settings: Settings) -> list[str]:
    values = [
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.slack_client_secret,
        settings.skyvia_api_token,
        settings.encryption_key,
    ]
    return [v.get_secret_value() for v in values if v is not None]


def _settings(args: argparse.Namespace, **overrides: Any) -> Settings:
    settings = load_settings(**overrides)
    configure_logging(
        settings.log_level, getattr(args, "log_format", "text"), _secrets_of(settings)
    )
    return settings


# -- run --------------------------------------------------------------------------------------
async def _run(args: argparse.Namespace) -> int:
    from bot.runtime import serve

    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["PORT"] = args.port
    settings = _settings(args, **overrides)
    socket = args.socket or (settings.socket_mode and not args.http)
    return await serve(
        settings, socket_mode=socket, workers=not args.no_workers, simulator=args.simulator
    )


async def _console(args: argparse.Namespace) -> int:
    from bot.console import run_console

    return await run_console(db=args.db, speed=args.speed, clock=args.clock)


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a date and time like 2026-12-07T14:15: {text}"
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.astimezone().astimezone(UTC)


async def _workers(args: argparse.Namespace) -> int:
    from bot.runtime import run_workers_only

    return await run_workers_only(_settings(args))


async def _migrate(args: argparse.Namespace) -> int:
    from bot.container import token_cipher
    from storage.db import upgrade_async

    settings = _settings(args)
    await upgrade_async(settings.database_url, cipher=token_cipher(settings))
    print(f"database is up to date ({_safe_url(settings.database_url)})")
    rotated = await _reencrypt_if_rotating(settings)
    if rotated is None:
        return 0
    print(f"re-encrypted {rotated.rewritten} stored token(s) with the first encryption key")
    if not rotated.unreadable:
        return 0
    print(
        f"could not re-encrypt {len(rotated.unreadable)} stored token(s): no configured "
        f"encryption key decrypts them (left as they were): {', '.join(rotated.unreadable)}. "
        "Add the key they were encrypted with after the new one and run migrate again, or "
        "connect those channels again (reinstall for a Slack installation).",
        file=sys.stderr,
    )
    return 1


async def _reencrypt_if_rotating(settings: Settings) -> Reencryption | None:
    """With several keys configured (new first), `migrate` moves every token to the new key;
    one it cannot decrypt is named, never in the way of the rest."""
    from bot.container import token_cipher
    from storage.db import Database
    from storage.repositories import BindingRepository
    from storage.slack_tables import reencrypt_installation_tokens

    cipher = token_cipher(settings)
    if cipher.key_count < 2:
        return None
    db = Database.connect(settings.database_url)
    try:
        async with db.session() as session:
            skyvia = await BindingRepository(session).reencrypt_tokens(cipher.rotate)
            connection = await session.connection()
            slack = await reencrypt_installation_tokens(connection, cipher.rotate)
        return skyvia + slack
    finally:
        await db.dispose()


async def _check(args: argparse.Namespace) -> int:
    from bot.checks import run_checks

    try:
        settings = load_settings()
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"FAIL configuration: {line}")
        return 1
    configure_logging("WARNING", "text", _secrets_of(settings))
    ok = True
    async for name, passed, detail in run_checks(settings):
        ok = ok and passed
        print(f"{'ok  ' if passed else 'FAIL'} {name}: {detail}")
    return 0 if ok else 1


def _safe_url(url: str) -> str:
    """A database URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skyvia-bot", description=__doc__)
    parser.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="log line format"
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    run = verbs.add_parser("run", help="apply migrations, then serve Slack (and run the workers)")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--http", action="store_true", help="serve HTTP on PORT even with SLACK_APP_TOKEN"
    )
    mode.add_argument(
        "--socket", action="store_true", help="use Socket Mode (needs SLACK_APP_TOKEN)"
    )
    run.add_argument("--port", type=int, help="HTTP port (overrides PORT)")
    run.add_argument("--no-workers", action="store_true", help="serve requests only")
    run.add_argument("--simulator", action="store_true", help="use an in-process Skyvia simulator")
    run.set_defaults(handler=_run)

    workers = verbs.add_parser("workers", help="run only the watcher and the alert scanner")
    workers.set_defaults(handler=_workers)

    migrate = verbs.add_parser("migrate", help="apply database migrations and exit")
    migrate.set_defaults(handler=_migrate)

    check = verbs.add_parser("check", help="check configuration, database, Slack and Skyvia")
    check.set_defaults(handler=_check)

    console = verbs.add_parser(
        "console",
        help="try the bot in a terminal: no Slack, no Skyvia account (simulator, Slack stand-in)",
    )
    console.add_argument(
        "--db", type=Path, help="SQLite file to keep between sessions (default: a temporary one)"
    )
    console.add_argument(
        "--speed",
        type=_positive_float,
        default=20.0,
        help="simulator clock speed (default 20: a snapshot takes about a second)",
    )
    console.add_argument(
        "--clock",
        type=_moment,
        help="show every time as if the console had started at this moment, e.g. "
        "2026-12-07T14:15 (in the local zone; README's transcripts use it)",
    )
    console.set_defaults(handler=_console)

    from bot.simulator import cli as simulator_cli

    simulator = verbs.add_parser("simulator", help="serve a local, stateful Skyvia Backups API")
    simulator_cli.add_arguments(simulator)
    simulator.set_defaults(handler=None, sync_handler=simulator_cli.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sync_handler = getattr(args, "sync_handler", None)
    try:
        if sync_handler is not None:
            return int(sync_handler(args) or 0)
        return int(asyncio.run(args.handler(args)) or 0)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"skyvia-bot: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
