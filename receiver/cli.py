"""alert-receiver: serve | migrate | check-config. Flags win over RECEIVER_* variables."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from receiver.settings import Settings

log = logging.getLogger("receiver")

SHUTDOWN_DEADLINE_SECONDS = 5.0

_DESCRIPTION = """\
Prometheus Alertmanager webhook receiver. Point a webhook_config at
http://HOST:5001/alerts and every alert is kept once, with its history,
browsable through the JSON API under /api/v1.

Every flag can also be set as an environment variable: --database-url is
RECEIVER_DATABASE_URL, --port is RECEIVER_PORT, and so on."""


def _add_storage_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="sqlite+aiosqlite:///PATH (default ./receiver.db) or "
        "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB",
    )
    p.add_argument(
        "--sqlite-synchronous",
        choices=["NORMAL", "FULL"],
        help="SQLite durability: NORMAL (default) survives a crash of the process, "
        "FULL also a power loss, at some cost in speed",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alert-receiver",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the receiver (migrates the database first)",
        description="Run the receiver. It upgrades the database schema on start unless "
        "--no-migrate is given; then it answers webhooks on POST /alerts, the API "
        "on /api/v1, and health on /-/healthy and /-/ready.",
        argument_default=argparse.SUPPRESS,
    )
    serve.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port to listen on (default 5001; 0: any free)")
    serve.add_argument("--config", type=Path, metavar="FILE", help="YAML configuration file")
    serve.add_argument(
        "--max-body-bytes", type=int, metavar="N", help="largest webhook accepted (10 MiB)"
    )
    serve.add_argument(
        "--no-migrate",
        dest="migrate",
        action="store_false",
        help="do not upgrade the schema on start (run `alert-receiver migrate` yourself)",
    )
    _add_storage_flags(serve)

    migrate = commands.add_parser(
        "migrate",
        help="upgrade the database schema to this version and exit",
        description="Upgrade the database schema to the version this release expects. "
        "Safe to run again; `serve` does it on start unless --no-migrate.",
        argument_default=argparse.SUPPRESS,
    )
    _add_storage_flags(migrate)

    check = commands.add_parser(
        "check-config",
        help="validate settings and the configuration file, then exit",
        description="Validate the settings (flags and RECEIVER_* variables) and the "
        "configuration file; print what is in force, secrets masked. Exit status 1 "
        "names every mistake with its file and line.",
        argument_default=argparse.SUPPRESS,
    )
    check.add_argument("--config", type=Path, metavar="FILE", help="YAML configuration file")
    _add_storage_flags(check)
    return parser


def _settings(flags: dict[str, Any]) -> Settings:
    try:
        return Settings(**flags)
    except ValidationError as exc:
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "settings"
            print(
                f"alert-receiver: invalid --{name.replace('_', '-')} "
                f"(or RECEIVER_{name.upper()}): {e['msg']}",
                file=sys.stderr,
            )
        raise SystemExit(2) from exc


_CHATTY_LOGGERS = ("aiosqlite", "asyncio", "alembic.runtime.plugins")


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for name in _CHATTY_LOGGERS:  # their debug output drowns the receiver's own
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))


def main(argv: list[str] | None = None) -> None:
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    settings = _settings(args)
    _setup_logging(settings.log_level)
    if command == "serve":
        asyncio.run(_serve(settings))
    elif command == "migrate":
        asyncio.run(_migrate(settings))
    else:
        raise SystemExit(_check_config(settings))


async def _migrate(settings: Settings) -> None:
    from receiver.app import masked_url
    from receiver.store import schema
    from receiver.store.engine import create_engine

    engine = create_engine(settings.database_url)
    try:
        await schema.upgrade(engine)
    finally:
        await engine.dispose()
    print(f"{masked_url(settings.database_url)} is at schema {schema.head_revision()}")


def _check_config(settings: Settings) -> int:
    from receiver.app import masked_url
    from receiver.config import ConfigError, load_config

    if settings.config is not None:
        try:
            load_config(settings.config)
        except ConfigError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            return 1
    print(f"database: {masked_url(settings.database_url)}")
    print(f"config file: {settings.config or '(none)'}")
    print("configuration OK")
    return 0


async def _serve(settings: Settings) -> None:
    from aiohttp import web

    from receiver.app import create_app
    from receiver.config import ConfigError, load_config

    if settings.config is not None:
        try:
            load_config(settings.config)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("%s", problem)
            raise SystemExit(1) from exc

    runner = web.AppRunner(
        create_app(settings),
        access_log=logging.getLogger("aiohttp.access") if settings.log_level == "debug" else None,
        shutdown_timeout=SHUTDOWN_DEADLINE_SECONDS,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    for address in runner.addresses:
        log.info("listening on http://%s:%s (webhook: POST /alerts)", *address[:2])

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
