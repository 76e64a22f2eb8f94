"""create_app(settings): wires storage, ingest, the outbox and the HTTP handlers, and owns
their lifetime (aiohttp cleanup contexts: storage opens first and closes last)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.engine import make_url

from receiver.live import Live, Setup, load_setup
from receiver.notify.worker import Outbox
from receiver.secrets import Masker, masking
from receiver.settings import Settings
from receiver.store import schema
from receiver.store.engine import Writer, create_engine
from receiver.web import api, health, notifications, query, runbooks
from receiver.web.keys import (
    ENGINE,
    LIVE,
    MASKER,
    OUTBOX,
    SETTINGS,
    WRITER,
)
from receiver.web.responses import json_errors
from receiver.web.webhook import receive_alerts

log = logging.getLogger(__name__)

OUTBOX_SHUTDOWN_SECONDS = 1.5


def masked_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _database_secrets(settings: Settings) -> set[str]:
    password = make_url(settings.database_url).password
    return {str(password)} if password else set()


async def _masking(app: web.Application) -> AsyncIterator[None]:
    with masking(app[MASKER]):
        yield


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    if settings.migrate:  # also puts SQLite in WAL mode; `alert-receiver migrate` does too
        await schema.upgrade(engine)
    app[ENGINE] = engine
    app[WRITER] = Writer(engine, settings.sqlite_synchronous)
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
        lambda: live.current,
        app[SETTINGS].external_url,
        app[MASKER],
        replica,
    )
    app[OUTBOX] = worker
    task = asyncio.create_task(worker.run(), name="outbox")
    yield
    await worker.stop(OUTBOX_SHUTDOWN_SECONDS)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def create_app(settings: Settings, setup: Setup | None = None) -> web.Application:
    """`setup` defaults to what settings.config names (SetupError if anything is bad)."""
    if setup is None:
        setup = load_setup(settings)
    app = web.Application(middlewares=[json_errors, query.bad_queries])
    app[SETTINGS] = settings
    app[MASKER] = Masker()
    app[LIVE] = Live(settings, setup, app[MASKER], _database_secrets(settings))
    app.cleanup_ctx.extend([_masking, _storage, _outbox])
    app.router.add_post("/alerts", receive_alerts)
    api.add_routes(app)
    notifications.add_routes(app)
    runbooks.add_routes(app)
    health.add_routes(app)
    return app
