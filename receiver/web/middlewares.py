"""The middlewares, outermost first (create_app keeps this order): whatever goes wrong
inside a handler still answers in the one JSON error shape."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from receiver.web.query import BadQuery
from receiver.web.responses import STORAGE_ERRORS, error, storage_unavailable

log = logging.getLogger(__name__)


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure answers in JSON: storage trouble as a 503 that asks to retry, an
    unexpected one as a 500 logged with its traceback."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error(exc.status, exc.reason)
    except STORAGE_ERRORS as exc:
        log.error("storage failed in %s %s: %s", request.method, request.path, type(exc).__name__)
        return storage_unavailable("storage unavailable; retry later")
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error(500, "internal error; the receiver's log has the details")


@web.middleware
async def bad_queries(request: web.Request, handler: Any) -> web.StreamResponse:
    """Handlers raise BadQuery wherever they parse; the caller gets a 400 saying why."""
    try:
        if any("\x00" in value for value in request.query.values()):
            raise BadQuery("query parameters must not contain NUL characters (%00)")
        response: web.StreamResponse = await handler(request)
        return response
    except BadQuery as exc:
        return error(400, str(exc))
