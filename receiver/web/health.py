"""Lifecycle endpoints in the Prometheus convention: /-/healthy (process up), /-/ready
(can serve), POST /-/reload (read the config file and runbooks again)."""

from __future__ import annotations

import logging

from aiohttp import web

from receiver.store.schema import HEAD, current_revision
from receiver.web.keys import DRAINING, ENGINE, LIVE
from receiver.web.responses import STORAGE_ERRORS, error, ok

log = logging.getLogger(__name__)


async def healthy(_request: web.Request) -> web.Response:
    return web.Response(text="OK\n")


async def ready(request: web.Request) -> web.Response:
    """Ready when the database answers and carries the schema this code expects, and
    the process is not shutting down."""
    if request.app[DRAINING].is_set():
        return web.Response(status=503, text="shutting down\n")
    try:
        revision = await current_revision(request.app[ENGINE])
    except STORAGE_ERRORS as exc:
        log.warning("not ready: database unreachable: %s", type(exc).__name__)
        return web.Response(status=503, text="database unreachable\n")
    if revision != HEAD:
        return web.Response(
            status=503,
            text=f"database schema is at {revision}, expected {HEAD}; "
            "run `alert-receiver migrate`\n",
        )
    return web.Response(text="OK\n")


async def reload(request: web.Request) -> web.Response:
    problems = await request.app[LIVE].reload()
    if problems:  # the file is at fault, not the service: a 4xx that says where
        return error(422, "reload failed; the previous configuration stays in force", problems)
    setup = request.app[LIVE].current
    return ok(
        {
            "channels": len(setup.config.channels),
            "routes": len(setup.config.routes),
            "runbooks": len(setup.runbooks.items),
        }
    )
