"""alert-receiver: serve | migrate | check-config | render | notify-test.

Flags win over RECEIVER_* variables. Imports are deferred into each command so that
`--help` and `check-config` answer fast.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from receiver.runtime.logs import setup_logging
from receiver.runtime.settings import Settings

if TYPE_CHECKING:
    from receiver.runtime.live import Setup

log = logging.getLogger("receiver")


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
    p.add_argument(
        "--database-timeout",
        metavar="DURATION",
        help="longest wait on the database: connecting, one statement, SQLite's lock "
        "(default 10s; past it a webhook gets 503 and Alertmanager retries)",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--log-format",
        choices=["auto", "json", "text"],
        help="json (for Loki, Filebeat), text, or auto (default): text on a terminal, "
        "JSON lines otherwise",
    )


def _add_web_config_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--web-config-file",
        type=Path,
        metavar="FILE",
        help="users (bcrypt hashes) and TLS, in the format Prometheus and Alertmanager "
        "read: with users, every route but /-/healthy and /-/ready needs signing in",
    )


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
    _add_web_config_flag(serve)
    serve.add_argument(
        "--external-url",
        metavar="URL",
        help="the URL people reach this service at, for links in messages "
        "(default http://HOSTNAME:PORT, as Alertmanager's own)",
    )
    serve.add_argument(
        "--max-body-bytes", type=int, metavar="N", help="largest webhook accepted (10 MiB)"
    )
    serve.add_argument(
        "--max-alerts-per-webhook",
        type=int,
        metavar="N",
        help="most alerts one webhook may carry; more is refused with 413 (default 10000)",
    )
    serve.add_argument(
        "--max-value-bytes",
        type=int,
        metavar="N",
        help="largest label or annotation value, in UTF-8 bytes (default 65536)",
    )
    serve.add_argument(
        "--max-queued-writes",
        type=int,
        metavar="N",
        help="webhooks waiting for the database at most; more get 503 (default 1000)",
    )
    serve.add_argument(
        "--max-concurrent-requests",
        type=int,
        metavar="N",
        help="requests handled at once at most; more get 503 at once (default 1024)",
    )
    serve.add_argument(
        "--shutdown-timeout",
        metavar="DURATION",
        help="on SIGTERM, how long requests and sends in flight may take to finish "
        "(default 1500ms); the rest is handed back",
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
    _add_web_config_flag(check)
    _add_storage_flags(check)

    render = commands.add_parser(
        "render",
        help="print the messages a webhook payload would send, without sending",
        description="Read an Alertmanager webhook payload (JSON) and print, per channel, "
        "the message the receiver would send for it, as if it opened the incident. "
        "Nothing is stored or sent.",
        argument_default=argparse.SUPPRESS,
    )
    render.add_argument(
        "--payload",
        type=Path,
        metavar="FILE",
        required=True,
        help="webhook JSON, as Alertmanager posts it ('-' reads stdin)",
    )
    render.add_argument(
        "--route",
        type=int,
        metavar="N",
        help="use route N (0 is the first) instead of the routing rules",
    )
    render.add_argument("--config", type=Path, metavar="FILE", help="YAML configuration file")
    render.add_argument(
        "--external-url",
        metavar="URL",
        help="this service's URL, for links (default http://HOSTNAME:PORT)",
    )
    render.add_argument("--log-level", choices=["debug", "info", "warning", "error"])

    test = commands.add_parser(
        "notify-test",
        help="send a test message through one channel and report each URL's outcome",
        description="Send a short test message through every URL of CHANNEL (from the "
        "configuration file) and print what each service answered, URLs masked. Exit "
        "status 1 when any URL failed.",
        argument_default=argparse.SUPPRESS,
    )
    test.add_argument("channel", metavar="CHANNEL", help="a channel name from the config file")
    test.add_argument("--config", type=Path, metavar="FILE", help="YAML configuration file")
    test.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
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


def main(argv: list[str] | None = None) -> None:
    # Start-up allocates a lot and frees little: a full collection in the middle of it
    # costs 60 to 90 ms and finds next to nothing. `serve` turns collection back on once
    # it has frozen what start-up loaded.
    gc.disable()
    try:
        _run(argv)
    finally:
        gc.enable()


def _run(argv: list[str] | None) -> None:
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    payload, route, channel = (
        args.pop("payload", None),
        args.pop("route", None),
        args.pop("channel", None),
    )
    settings = _settings(args)
    setup_logging(settings.log_level, settings.log_format)
    if command == "serve":
        asyncio.run(_serve(settings))
    elif command == "migrate":
        asyncio.run(_migrate(settings))
    elif command == "render":
        raise SystemExit(_render(settings, payload, route))
    elif command == "notify-test":
        raise SystemExit(asyncio.run(_notify_test(settings, channel)))
    else:
        raise SystemExit(_check_config(settings))


def _load(settings: Settings) -> Setup:
    """The configuration file and runbooks, or exit 1 with every problem on stderr."""
    from receiver.runtime.errors import ConfigError
    from receiver.runtime.live import load_setup

    try:
        return load_setup(settings)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise SystemExit(1) from exc


async def _migrate(settings: Settings) -> None:
    from receiver.runtime.secrets import masked_url
    from receiver.store import schema

    await schema.upgrade_at(settings.database_url)
    print(f"{masked_url(settings.database_url)} is at schema {schema.HEAD}")


def _check_config(settings: Settings) -> int:
    from receiver.domain.durations import format_duration
    from receiver.notify.channels import shown_url
    from receiver.runtime.secrets import Masker, masked_url

    setup = _load(settings)
    config = setup.config
    print(f"database: {masked_url(settings.database_url)}")
    print(f"config file: {settings.config or '(none)'}")
    mask = Masker(config.secrets)
    for name, urls in config.channels.items():
        print(f"channel {name}:")
        for url in urls:
            print(f"  {mask(shown_url(url))}")
    for i, route in enumerate(config.routes):
        matchers = ", ".join(str(m) for m in route.match) or "(everything)"
        extras = (
            [f"repeat every {format_duration(route.repeat_interval)}"]
            if route.repeat_interval
            else []
        )
        extras += [] if route.send_resolved else ["no resolved messages"]
        extras += [f"fallback {route.fallback}"] if route.fallback else []
        extras += ["continue"] if route.continue_ else []
        print(
            f"route {i}: {matchers} -> {', '.join(route.channels)}"
            + (f" ({'; '.join(extras)})" if extras else "")
        )
    folder = setup.runbooks.folder
    exists = folder is not None and folder.is_dir()
    print(f"runbooks: {len(setup.runbooks.items)} from {folder}{'' if exists else ' (no folder)'}")
    print(_auth_summary(settings, setup))
    print("configuration OK")
    return 0


def _auth_summary(settings: Settings, setup: Setup) -> str:
    policy, auth = setup.policy, setup.config.auth
    if not policy.signs_in:
        signing = "nobody signs in (no web config users): every route is open"
    else:
        admins = "every user" if policy.admins is None else ", ".join(sorted(policy.admins))
        signing = f"{len(policy.users)} users sign in, {admins} may act"
    webhook = [
        *(["a bearer token"] if auth.webhook.bearer_token else []),
        *([", ".join(auth.webhook.users)] if auth.webhook.users else []),
    ]
    if not webhook and policy.signs_in:
        webhook = ["any user"]
    tls = "HTTPS" if setup.web.tls_server_config else "plain HTTP"
    return f"auth: {signing}; webhook: {' or '.join(webhook) or 'open'}; {tls}"


def _render(settings: Settings, payload: Path, route: int | None) -> int:
    import json
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from receiver.domain.wire import Webhook
    from receiver.notify.preview import preview

    setup = _load(settings)
    config = setup.config
    if route is not None and not 0 <= route < len(config.routes):
        print(
            f"--route {route}: the configuration has {len(config.routes)} routes (numbered from 0)",
            file=sys.stderr,
        )
        return 2
    try:
        text = sys.stdin.read() if str(payload) == "-" else payload.read_text(encoding="utf-8")
        hook = Webhook.model_validate(json.loads(text))
    except (OSError, ValueError) as exc:
        reason = (
            exc
            if not isinstance(exc, ValidationError)
            else "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
        )
        print(f"{payload}: not a webhook payload: {reason}", file=sys.stderr)
        return 1
    previews = preview(
        hook,
        config.routes,
        setup.runbooks,
        config.runbook_steps,
        settings.base_url(),
        datetime.now(UTC),
        route,
    )
    if not previews:
        print(
            "no route sends anything for this payload"
            if config.routes
            else "no routes configured: nothing would be sent (add routes to --config)"
        )
        return 0
    for item in previews:
        print(f"=== channel {item.channel} (route {item.route_index}) ===")
        print(item.message.title)
        print()
        print(item.message.body)
    return 0


async def _notify_test(settings: Settings, channel: str) -> int:
    from receiver.notify import channels
    from receiver.runtime.secrets import Masker, masking

    config = _load(settings).config
    if channel not in config.channels:
        known = ", ".join(sorted(config.channels)) or "none"
        print(
            f"no channel {channel!r} in {settings.config or 'the configuration'} "
            f"(channels: {known})",
            file=sys.stderr,
        )
        return 2
    mask = Masker(config.secrets)
    with masking(mask):  # Apprise's own log lines carry the URLs, at debug level whole
        outcome = await channels.send_test(
            channel, config.channels[channel], config.delivery.timeout, mask
        )
    for service in outcome.services:
        print(f"{'ok  ' if service.ok else 'FAIL'} {service.url}")
        for line in service.errors:
            print(f"       {line}")
    print(f"{channel}: {outcome.status} in {outcome.seconds:.2f}s")
    return 0 if outcome.ok else 1


def _bind_any_port(host: str) -> socket.socket:
    """`--port 0`: a free port, taken now so that links can name it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, 0), family=family)


async def _serve(settings: Settings) -> None:
    from aiohttp import web

    from receiver.app import create_app, drain
    from receiver.runtime.live import exposed
    from receiver.web.keys import LIVE

    setup = _load(settings)
    bound = _bind_any_port(settings.host) if settings.port == 0 else None
    if bound is not None:  # links need the real port, known before the app is made
        settings = settings.model_copy(update={"port": bound.getsockname()[1]})
    app = create_app(settings, setup)
    runner = web.AppRunner(
        app,
        access_log=None,  # one line per request comes from web/middlewares.front_door
        shutdown_timeout=settings.shutdown_timeout.total_seconds(),
    )
    await runner.setup()
    tls = setup.web.ssl_context()
    site: web.BaseSite = (
        web.SockSite(runner, bound, ssl_context=tls)
        if bound is not None
        else web.TCPSite(runner, settings.host, settings.port, ssl_context=tls)
    )
    await site.start()
    for address in runner.addresses:
        log.info(
            "listening on %s://%s:%s (webhook: POST /alerts)",
            "https" if tls else "http",
            *address[:2],
        )
    if exposed(settings, setup):
        log.warning(
            "NOBODY SIGNS IN: listening on %s without users, anyone who can reach this "
            "port may read the alert history and act on incidents; give --web-config-file "
            "with basic_auth_users, or --host 127.0.0.1",
            settings.host,
        )
    # What start-up loaded lives as long as the process: keep it out of the collector's
    # full passes, which otherwise stop the event loop for about 60 ms each under load.
    gc.freeze()
    # Full passes a tenth as often: one walks every object a big webhook holds (about
    # 45 ms for 10,000 alerts) while the event loop waits for the GIL (bench/bigwebhook.py).
    gc.set_threshold(700, 10, 100)
    gc.enable()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, app[LIVE].reload_soon)
    await stop.wait()
    log.info("shutting down: finishing what is in flight for at most %s", settings.shutdown_timeout)
    drain(app)  # /-/ready answers 503 from now on, so a load balancer stops sending
    await runner.cleanup()
    log.info("stopped")
