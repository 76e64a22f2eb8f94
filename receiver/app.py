"""create_app(settings): wires storage, the outbox, the periodic jobs and the HTTP
handlers, and owns their lifetime (aiohttp cleanup contexts, in order: log masking,
storage, the outbox, the scheduler; they close in reverse)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy.engine import make_url

from receiver.notify.worker import Outbox
from receiver.observe import Observer, Several
from receiver.runtime.live import Live, Setup, load_setup
from receiver.runtime.scheduler import Scheduler
from receiver.runtime.secrets import Masker, masked_url, masking
from receiver.runtime.settings import Settings
from receiver.store import schema
from receiver.store.engine import Writer, create_engine
from receiver.web import routes
from receiver.web.auth import PASSWORDS, Passwords, authenticate
from receiver.web.keys import (
    BASE_URL,
    DRAINING,
    ENGINE,
    LIVE,
    MASKER,
    OBSERVER,
    OUTBOX,
    SETTINGS,
    WRITER,
)
from receiver.web.metrics import METRICS, Metrics
from receiver.web.middlewares import (
    INFLIGHT,
    front_door,
    json_errors,
    security_headers,
)
from receiver.write import heartbeats, reminders, retention

log = logging.getLogger(__name__)

_DRAIN_UNTIL = web.AppKey("drain_until", list[float])  # the shutdown deadline, once set


def drain(app: web.Application) -> None:
    """Shutting down: readiness fails from now, and requests in flight and the outbox's
    sends share one deadline, `shutdown_timeout` from now."""
    timeout = app[SETTINGS].shutdown_timeout.total_seconds()
    app[_DRAIN_UNTIL].append(asyncio.get_running_loop().time() + timeout)
    app[DRAINING].set()


def _database_secrets(settings: Settings) -> set[str]:
    password = make_url(settings.database_url).password
    return {str(password)} if password else set()


async def _masking(app: web.Application) -> AsyncIterator[None]:
    with masking(app[MASKER]):
        yield


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    timeout = settings.database_timeout.total_seconds()
    engine = create_engine(
        settings.database_url, sqlite_synchronous=settings.sqlite_synchronous, timeout=timeout
    )
    if settings.migrate:  # also puts SQLite in WAL mode; `alert-receiver migrate` does too
        await schema.upgrade_at(settings.database_url)
    app[ENGINE] = engine
    app[WRITER] = Writer(engine, settings.sqlite_synchronous, app[OBSERVER], timeout)
    log.info("storing into %s", masked_url(settings.database_url))
    yield
    await app[WRITER].close()
    await engine.dispose()


async def _outbox(app: web.Application) -> AsyncIterator[None]:
    replica = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    live = app[LIVE]
    worker = Outbox(
        app[ENGINE],
        app[WRITER],
        lambda: live.current.delivery_rules,
        app[BASE_URL],
        app[MASKER],
        replica,
        app[OBSERVER],
    )
    app[OUTBOX] = worker
    task = asyncio.create_task(worker.run(), name="outbox")
    yield
    loop, until = asyncio.get_running_loop(), app[_DRAIN_UNTIL]
    left = until[0] - loop.time() if until else app[SETTINGS].shutdown_timeout.total_seconds()
    await worker.stop(max(0.1, left))  # what requests left of the deadline, or all of it
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _periodic(app: web.Application) -> AsyncIterator[None]:
    """The scheduler's jobs; they start after the outbox they wake, and stop before it."""
    live, writer, worker, observer = app[LIVE], app[WRITER], app[OUTBOX], app[OBSERVER]

    async def remind() -> None:
        if await reminders.sweep(writer, live.current.routes):
            worker.wake()

    async def judge_heartbeats() -> None:
        setup = live.current
        now = datetime.now(UTC)
        if await heartbeats.check(writer, setup.config.heartbeats, setup.routes, now, observer):
            worker.wake()

    async def prune() -> None:
        await retention.prune(writer, live.current.config.retention, datetime.now(UTC))

    scheduler = Scheduler()
    scheduler.every("reminders", lambda: live.current.config.delivery.reminder_check, remind)
    scheduler.every("retention", lambda: live.current.config.retention.check, prune)
    scheduler.every(
        "heartbeats",
        lambda: heartbeats.check_interval(live.current.config.heartbeats),
        judge_heartbeats,
    )
    scheduler.start()
    yield
    await scheduler.stop()


def create_app(
    settings: Settings, setup: Setup | None = None, observer: Observer | None = None
) -> web.Application:
    """`setup` defaults to what settings.config names (ConfigError if anything is bad);
    `observer`, if given, hears what happens (receiver.observe) besides /metrics."""
    if setup is None:
        setup = load_setup(settings)
    app = web.Application(middlewares=[front_door, json_errors, authenticate])
    app[INFLIGHT] = [0]
    app.on_response_prepare.append(security_headers)
    app[PASSWORDS] = Passwords()
    app[SETTINGS] = settings
    app[BASE_URL] = settings.base_url()
    app[DRAINING] = asyncio.Event()
    app[_DRAIN_UNTIL] = []
    app[METRICS] = metrics = Metrics()
    app[OBSERVER] = metrics if observer is None else Several(metrics, observer)
    app[MASKER] = Masker()
    app[LIVE] = Live(settings, setup, app[MASKER], _database_secrets(settings))
    app.cleanup_ctx.extend([_masking, _storage, _outbox, _periodic])
    routes.add_routes(app)
    return app
