"""The one page environment, so every page escapes, lays out and renders Markdown alike."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from aiohttp import web

from receiver.domain.durations import format_duration
from receiver.domain.links import safe_link
from receiver.runtime.live import exposed
from receiver.web.keys import LIVE, SETTINGS, USER
from receiver.web.query import BadQuery

if TYPE_CHECKING:
    from jinja2 import Environment


@functools.cache
def _environment() -> Environment:
    """Built on first use rather than at start-up."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(files("receiver.web.pages") / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(iso=_iso, utc=_utc, utc_minutes=_utc_minutes, age=_age)
    env.globals.update(safe_link=safe_link)
    return env


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _utc_minutes(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _age(at: datetime) -> str:
    return format_duration(datetime.now(UTC) - at)


CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf"
NAME_COOKIE = "by"  # the name typed in the last action form, to fill in the next


def _csrf_token(request: web.Request) -> tuple[str, bool]:
    """The browser's token (double-submit cookie), or a new one (True: set the cookie).
    A page on another site can neither read this cookie nor set it, so a form it makes
    cannot carry the matching field; cookies work across replicas and restarts."""
    known = request.cookies.get(CSRF_COOKIE, "")
    if len(known) == 43 and known.replace("-", "").replace("_", "").isalnum():
        return known, False
    return secrets.token_urlsafe(32), True


def csrf_ok(request: web.Request, sent: str) -> bool:
    """Whether a form's token matches the browser's cookie."""
    known = request.cookies.get(CSRF_COOKIE, "")
    return bool(known) and hmac.compare_digest(known.encode(), sent.encode())


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """Every page knows whether the service is open to anyone (a banner says so), who
    signed in (`user`, None without sign-in), the token its forms must send (`csrf`),
    and the name this browser last acted under (`by`, "" if none)."""
    open_to_anyone = exposed(request.app[SETTINGS], request.app[LIVE].current)
    token, fresh = _csrf_token(request)
    html = (
        _environment()
        .get_template(template)
        .render(
            exposed=open_to_anyone,
            user=request.get(USER),
            csrf=token,
            by=unquote(request.cookies.get(NAME_COOKIE, "")),
            **context,
        )
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, token, path="/", httponly=True, samesite="Strict", secure=request.secure
        )
    return response


def markdown_html(text: str) -> str:
    """Runbooks are written by people, read by browsers: render, then sanitize."""
    import nh3
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    return nh3.clean(html, url_schemes={"http", "https", "mailto"})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def html_errors(handler: Handler) -> Handler:
    """A page answers a bad query with a page that says what is wrong (the API's JSON
    would be no help in a browser)."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadQuery as exc:
            return problem(request, 400, "This address asks for something impossible", str(exc))

    return answer


def problem(
    request: web.Request,
    status: int,
    title: str,
    detail: str,
    details: Sequence[str] = (),
    back: str | None = None,
) -> web.Response:
    """Every page's refusal: what went wrong, and where to go from here."""
    return page(
        request,
        "problem.html",
        status=status,
        title=title,
        detail=detail,
        details=details,
        back=back,
    )
