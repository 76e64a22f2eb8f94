"""Runbooks on the web: the JSON API, the HTML pages, and the `runbooks` field that alerts
and incidents carry in the API."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

from aiohttp import web

from receiver.domain.durations import format_duration
from receiver.domain.links import runbook_links, runbook_url
from receiver.domain.runbooks import Runbook, Runbooks, coverage
from receiver.store import reads
from receiver.web.keys import ENGINE, LIVE, SETTINGS
from receiver.web.responses import error, ok

WINDOW = timedelta(days=30)


@functools.cache
def _pages() -> Any:
    """The page templates, built on first use rather than at start-up."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(str(files("receiver.web.pages") / "templates")),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def markdown_html(text: str) -> str:
    """Runbooks are written by people, read by browsers: render, then sanitize."""
    import nh3
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    return nh3.clean(html, url_schemes={"http", "https", "mailto"})


def _url(external_url: str, slug: str) -> str:
    return runbook_url(external_url, slug) or f"/runbooks/{slug}"


def runbook_refs(
    labels_seen: list[dict[str, str]],
    annotations_seen: list[dict[str, str]],
    runbooks: Runbooks,
    external_url: str,
) -> list[dict[str, Any]]:
    """Local runbooks matching any of the label sets, most specific first, then the
    external runbook links the alerts' annotations carry."""
    refs: list[dict[str, Any]] = [
        {
            "slug": r.slug,
            "title": r.title,
            "url": _url(external_url, r.slug),
            "steps": list(r.steps),
            "external": False,
        }
        for r in runbooks.pick(labels_seen)
    ]
    seen_urls: set[str] = set()
    for carried in annotations_seen:
        for name, link in runbook_links(carried):
            if link not in seen_urls:
                seen_urls.add(link)
                refs.append(
                    {"slug": None, "title": name, "url": link, "steps": [], "external": True}
                )
    return refs


def _runbook_json(runbook: Runbook, external_url: str) -> dict[str, Any]:
    return {
        "slug": runbook.slug,
        "title": runbook.title,
        "owner": runbook.owner,
        "matchers": [str(m) for m in runbook.matchers],
        "steps": list(runbook.steps),
        "url": _url(external_url, runbook.slug),
    }


async def api_list(request: web.Request) -> web.Response:
    runbooks = request.app[LIVE].current.runbooks
    external_url = request.app[SETTINGS].external_url
    return ok({"runbooks": [_runbook_json(r, external_url) for r in runbooks.items]})


async def api_get(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    runbook = request.app[LIVE].current.runbooks.by_slug.get(slug)
    if runbook is None:
        return error(404, f"no runbook {slug!r}; GET /api/v1/runbooks lists them")
    body = _runbook_json(runbook, request.app[SETTINGS].external_url)
    body["markdown"] = runbook.body
    return ok(body)


async def _coverage(request: web.Request) -> Any:
    since = datetime.now(UTC) - WINDOW
    async with request.app[ENGINE].connect() as conn:
        recent = await reads.alerts_since(conn, since)
    return coverage(request.app[LIVE].current.runbooks, recent)


def _html(template: str, status: int = 200, **context: Any) -> web.Response:
    page = _pages().get_template(template).render(**context)
    return web.Response(text=page, status=status, content_type="text/html")


async def page_list(request: web.Request) -> web.Response:
    runbooks = request.app[LIVE].current.runbooks
    found = await _coverage(request)
    rows = [
        {
            "runbook": r,
            "alerts": found.usage[r.slug].alerts,
            "median": (
                format_duration(found.usage[r.slug].median_to_resolve)
                if found.usage[r.slug].median_to_resolve is not None
                else None
            ),
        }
        for r in runbooks.items
    ]
    return _html(
        "runbooks.html", rows=rows, unmatched=found.unmatched, folder=runbooks.folder, days=30
    )


async def page_get(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    runbook = request.app[LIVE].current.runbooks.by_slug.get(slug)
    if runbook is None:
        return _html("missing.html", status=404, slug=slug)
    found = await _coverage(request)
    usage = found.usage[slug]
    return _html(
        "runbook.html",
        runbook=runbook,
        html=markdown_html(runbook.body),
        alerts=usage.alerts,
        median=format_duration(usage.median_to_resolve) if usage.median_to_resolve else None,
        days=30,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/runbooks", api_list)
    app.router.add_get("/api/v1/runbooks/{slug}", api_get)
    app.router.add_get("/runbooks", page_list)
    app.router.add_get("/runbooks/{slug}", page_get)
