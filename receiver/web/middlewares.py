"""The middlewares, outermost first (create_app keeps this order): whatever goes wrong
inside a handler still answers in the one JSON error shape."""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from typing import Any

from aiohttp import web

from receiver.domain.auth import Access
from receiver.runtime.logs import REQUEST_ID
from receiver.web.keys import OBSERVER, SETTINGS, USER
from receiver.web.query import BadQuery
from receiver.web.responses import STORAGE_ERRORS, error, storage_unavailable
from receiver.web.routes import access_of

log = logging.getLogger(__name__)


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every failure answers in JSON: a bad query (handlers raise BadQuery wherever they
    parse) as a 400 saying why, storage trouble as a 503 that asks to retry, an unexpected
    one as a 500 logged with its traceback."""
    try:
        if any("\x00" in value for value in request.query.values()):
            raise BadQuery("query parameters must not contain NUL characters (%00)")
        response: web.StreamResponse = await handler(request)
        return response
    except BadQuery as exc:
        return error(400, str(exc))
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


INFLIGHT = web.AppKey("inflight", list[int])  # one counter, mutable in place
access_log = logging.getLogger("receiver.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_PROBES = frozenset({"/-/healthy", "/-/ready"})
_PROCESS = os.urandom(4).hex()  # unique across replicas and restarts, with the counter
_SEQUENCE = itertools.count(1)


def _new_request_id() -> str:
    return f"{_PROCESS}{next(_SEQUENCE):08x}"


@web.middleware
async def front_door(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outermost, once per request: its id, the cap on requests in the house, its line
    in the access log (one middleware, not three: each costs every webhook a frame).

    - The id is the caller's X-Request-Id when that is a plain token (a proxy's or a
      tracer's), else a fresh one; it is answered back, and every line logged meanwhile
      carries it.
    - Past `max_concurrent_requests`, a quick 503 with Retry-After serves everyone better
      than a slow answer to all (slow senders trickling bodies in, floods hold memory and
      sockets); health probes always get in, so a busy receiver is not taken for dead.
    - Health probes log at debug: a load balancer asks every few seconds.
    """
    given = request.headers.get("X-Request-Id", "")
    request_id = given if given and _REQUEST_ID.fullmatch(given) else _new_request_id()
    token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    status = 500
    inflight = request.app[INFLIGHT]
    try:
        full = inflight[0] >= request.app[SETTINGS].max_concurrent_requests
        if full and access_of(request) is not Access.PUBLIC:
            log.warning("overloaded: %d requests in flight; answering 503", inflight[0])
            response: web.StreamResponse = storage_unavailable(
                "too many requests at once; retry later"
            )
        else:
            inflight[0] += 1
            try:
                response = await handler(request)
            finally:
                inflight[0] -= 1
        status = response.status
        if not response.prepared:
            response.headers["X-Request-Id"] = request_id
        return response
    finally:
        seconds = time.perf_counter() - started
        if access_of(request) is Access.WEBHOOK:  # refusals by auth and the cap included
            request.app[OBSERVER].webhook_answered(status, seconds)
        level = logging.DEBUG if request.path in _PROBES else logging.INFO
        if access_log.isEnabledFor(level):
            _log_access(request, level, status, seconds)
        REQUEST_ID.reset(token)


def _log_access(request: web.Request, level: int, status: int, seconds: float) -> None:
    access_log.log(
        level,
        "%s %s %d %.1f ms",
        request.method,
        request.path,
        status,
        seconds * 1000,
        extra={
            "method": request.method,
            "path": request.path,
            "status": status,
            "seconds": round(seconds, 6),
            "remote": request.remote,
            "user": request.get(USER),
        },
    )


# Pages use only what the service serves itself (no inline script or style), and nothing
# may frame them; JSON answers carry the same headers, harmlessly.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


async def security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)
