"""create_app(settings): wires storage, ingest and the HTTP handlers; owns their lifetime."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.engine import make_url

from receiver.settings import Settings
from receiver.store import schema
from receiver.store.engine import Writer, create_engine
from receiver.web import api, health
from receiver.web.keys import ENGINE, HEAD_REVISION, SETTINGS, WRITER
from receiver.web.responses import json_errors
from receiver.web.webhook import receive_alerts

log = logging.getLogger(__name__)


def masked_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def _storage(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    head = schema.head_revision()
    assert head is not None, "the package ships no migrations"
    if settings.migrate:
        await schema.upgrade(engine)
    app[ENGINE] = engine
    app[WRITER] = Writer(engine)
    app[HEAD_REVISION] = head
    log.info("storing into %s", masked_url(settings.database_url))
    yield
    await engine.dispose()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[json_errors, api.bad_queries])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_storage)
    app.router.add_post("/alerts", receive_alerts)
    api.add_routes(app)
    health.add_routes(app)
    return app
