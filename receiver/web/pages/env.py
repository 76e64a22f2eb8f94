"""The one page environment, so every page escapes, lays out and renders Markdown alike."""

from __future__ import annotations

import functools
import hmac
import secrets
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from aiohttp import web

from receiver.runtime.live import exposed
from receiver.web.keys import LIVE, SETTINGS, USER

if TYPE_CHECKING:
    from jinja2 import Environment


@functools.cache
def _environment() -> Environment:
    """Built on first use rather than at start-up."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(files("receiver.web.pages") / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf"


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
    signed in (`user`, None without sign-in), and the token its forms must send (`csrf`)."""
    open_to_anyone = exposed(request.app[SETTINGS], request.app[LIVE].current)
    token, fresh = _csrf_token(request)
    html = (
        _environment()
        .get_template(template)
        .render(exposed=open_to_anyone, user=request.get(USER), csrf=token, **context)
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
