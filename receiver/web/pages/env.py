"""The one page environment, so every page escapes, lays out and renders Markdown alike."""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from aiohttp import web

from receiver.runtime.live import exposed
from receiver.web.keys import LIVE, SETTINGS

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


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    """Every page knows whether the service is open to anyone (a banner says so)."""
    open_to_anyone = exposed(request.app[SETTINGS], request.app[LIVE].current)
    html = _environment().get_template(template).render(exposed=open_to_anyone, **context)
    return web.Response(text=html, status=status, content_type="text/html")


def markdown_html(text: str) -> str:
    """Runbooks are written by people, read by browsers: render, then sanitize."""
    import nh3
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    return nh3.clean(html, url_schemes={"http", "https", "mailto"})
