"""Sign-in at the HTTP edge: read what the caller presents (basic auth, a bearer token),
check it, and let receiver.domain.auth decide. Every route's access class comes from the
routes table, so a route cannot be added without one.

bcrypt is slow by design (about 60 ms a check at cost 10): checks run in threads, two at
a time, so a flood of wrong passwords costs CPU but never stalls the event loop, and a
password that checked out is remembered (by its SHA-256) until the users change, as the
exporter toolkit does. An unknown user costs the same check as a known one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from receiver.domain.auth import Access, Caller, Verdict, decide
from receiver.runtime.live import Setup
from receiver.web.keys import LIVE, USER
from receiver.web.responses import error
from receiver.web.routes import access_of

log = logging.getLogger(__name__)

BASIC = 'Basic realm="alert-receiver", charset="UTF-8"'
BEARER = 'Bearer realm="alert-receiver"'
_REMEMBERED = 1024
_CHECKS_AT_ONCE = 2


class Passwords:
    def __init__(self) -> None:
        self._known: OrderedDict[bytes, None] = OrderedDict()
        self._slots = asyncio.Semaphore(_CHECKS_AT_ONCE)

    async def check(self, users: dict[str, str], user: str, password: str) -> bool:
        stored = users.get(user)
        key = hashlib.sha256(f"{user}\0{stored}\0{password}".encode()).digest()
        if stored is not None and key in self._known:
            self._known.move_to_end(key)
            return True
        async with self._slots:
            ok = await asyncio.to_thread(_bcrypt_check, password, stored or _nobody())
        if ok and stored is not None:
            self._known[key] = None
            if len(self._known) > _REMEMBERED:
                self._known.popitem(last=False)
            return True
        return False


def _bcrypt_check(password: str, stored: str) -> bool:
    import bcrypt

    try:
        return bcrypt.checkpw(password.encode(), stored.encode())
    except ValueError:  # longer than bcrypt's 72 bytes: no user has such a password
        return False


@functools.cache
def _nobody() -> str:
    """The hash of a password nobody knows, checked for an unknown user: the same cost as
    a known one, so the answer's time does not tell which names exist."""
    import bcrypt

    return bcrypt.hashpw(secrets.token_bytes(16).hex().encode(), bcrypt.gensalt(10)).decode()


PASSWORDS = web.AppKey("passwords", Passwords)


def _presented(request: web.Request) -> tuple[str, str] | str | None:
    """(user, password) from basic auth, a bearer token, or nothing usable."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


async def _caller(request: web.Request, setup: Setup) -> Caller:
    presented = _presented(request)
    if isinstance(presented, str):
        token = setup.config.auth.webhook.bearer_token
        matches = token is not None and hmac.compare_digest(presented.encode(), token.encode())
        return Caller(token=matches)
    if presented is None:
        return Caller()
    user, password = presented
    users = setup.web.basic_auth_users
    if await request.app[PASSWORDS].check(users, user, password):
        return Caller(user=user)
    return Caller()


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _from_another_site(request: web.Request) -> bool:
    """A page on another site must not act through a signed-in user's browser (which
    would send the user's credentials along). Browsers say where a request comes from
    (Sec-Fetch-Site, or in older ones Origin, compared with Host then); Alertmanager and
    scripts send neither, so they are unaffected."""
    if request.method in SAFE_METHODS:
        return False
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("Origin")
    return origin is not None and (origin == "null" or urlsplit(origin).netloc != request.host)


@web.middleware
async def authenticate(request: web.Request, handler: Any) -> web.StreamResponse:
    """Who may do this: a cross-site request that would act is refused first, then the
    access class of the route decides what the caller must prove."""
    if _from_another_site(request):
        origin = request.headers.get("Origin")
        log.info("refused %s %s from another site (%s)", request.method, request.path, origin)
        return error(403, "refused: this request came from another site")
    access = access_of(request)
    setup = request.app[LIVE].current
    policy = setup.policy
    caller = Caller()
    if decide(policy, access, caller) is not Verdict.ALLOW:  # something to prove
        caller = await _caller(request, setup)
    verdict = decide(policy, access, caller)
    if verdict is Verdict.ALLOW:
        request[USER] = caller.user
        response: web.StreamResponse = await handler(request)
        return response
    if verdict is Verdict.FORBIDDEN:
        log.info("refused %s %s to %s: not allowed", request.method, request.path, caller.user)
        who = "admins (auth.admins)" if access is Access.ADMIN else "auth.webhook.users"
        return error(403, f"{caller.user!r} is signed in but may not do this; only {who} may")
    log.info(
        "refused %s %s from %s: credentials missing or wrong",
        request.method,
        request.path,
        request.remote,
    )
    bearer = access is Access.WEBHOOK and policy.webhook_token
    return error(
        401,
        "sign in: credentials are missing or wrong",
        headers={"WWW-Authenticate": BEARER if bearer else BASIC},
    )
