"""The middlewares, outermost first (create_app keeps this order): whatever goes wrong
inside a handler still answers in the one JSON error shape."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from receiver.domain.auth import Access
from receiver.runtime.logs import REQUEST_ID
from receiver.web.keys import SETTINGS, USER
from receiver.web.query import BadQuery
from receiver.web.responses import STORAGE_ERRORS, error, storage_unavailable
from receiver.web.routes import access_of

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


INFLIGHT = web.AppKey("inflight", list[int])  # one counter, mutable in place
access_log = logging.getLogger("receiver.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_PROBES = frozenset({"/-/healthy", "/-/ready"})


@web.middleware
async def request_log(request: web.Request, handler: Any) -> web.StreamResponse:
    """One line per request, with a request id: the caller's X-Request-Id when it is a
    plain token (a proxy's or a tracing header's), else a fresh one; it is answered back
    and carried by every line logged meanwhile. Health probes log at debug (a load
    balancer asks every few seconds)."""
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
    token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-Id"] = request_id
        return response
    finally:
        seconds = time.perf_counter() - started
        access_log.log(
            logging.DEBUG if request.path in _PROBES else logging.INFO,
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
        REQUEST_ID.reset(token)


@web.middleware
async def admission(request: web.Request, handler: Any) -> web.StreamResponse:
    """At most `max_concurrent_requests` in the house: slow senders (a body trickling in)
    or a flood hold memory and sockets, and past the cap a quick 503 with Retry-After
    serves everyone better than a slow answer to all. Health probes always get in, so a
    busy receiver is not mistaken for a dead one."""
    inflight = request.app[INFLIGHT]
    full = inflight[0] >= request.app[SETTINGS].max_concurrent_requests
    if full and access_of(request) is not Access.PUBLIC:
        log.warning("overloaded: %d requests in flight; answering 503", inflight[0])
        return storage_unavailable("too many requests at once; retry later")
    inflight[0] += 1
    try:
        response: web.StreamResponse = await handler(request)
        return response
    finally:
        inflight[0] -= 1


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@web.middleware
async def same_origin(request: web.Request, handler: Any) -> web.StreamResponse:
    """A browser on another site must not act through a signed-in user's browser (it
    would send the user's credentials along). Browsers say where a request comes from
    (Sec-Fetch-Site, or in older ones Origin, compared with Host then); Alertmanager and
    scripts send neither, so they are unaffected.
    """
    if request.method not in SAFE_METHODS:
        site = request.headers.get("Sec-Fetch-Site")
        origin = request.headers.get("Origin")
        if site is not None:
            foreign = site not in ("same-origin", "none")
        else:
            foreign = origin is not None and (
                origin == "null" or urlsplit(origin).netloc != request.host
            )
        if foreign:
            log.info("refused %s %s from another site (%s)", request.method, request.path, origin)
            return error(403, "refused: this request came from another site")
    response: web.StreamResponse = await handler(request)
    return response


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
