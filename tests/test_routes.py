"""The routes table is the one place routes are declared, each with its access class, on
both databases; and the stylesheet is served from its own folder and nowhere else."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any

import pytest
from aiohttp import web

from receiver.app import create_app
from receiver.domain.auth import Access
from receiver.runtime.settings import Settings
from receiver.web.routes import ROUTES, access_of
from tests.conftest import Client

Seen = list[tuple[str, str, Access]]


async def test_the_router_serves_exactly_the_table(client: Client) -> None:
    declared = [(r.method, r.path) for r in ROUTES]
    assert len(declared) == len(set(declared)), "a route is declared twice"
    served = [(route.method, route.resource.canonical) for route in client.app.router.routes()]
    assert len(served) == len(set(served)), "a route is registered twice"
    assert set(served) == {(m, r.path) for r in ROUTES for m in r.methods}


def test_access_classes() -> None:
    by_access = {
        access: {(r.method, r.path) for r in ROUTES if r.access is access} for access in Access
    }
    assert by_access[Access.ADMIN] == {
        ("POST", "/-/reload"),
        ("POST", "/api/v1/notifications/{id}/retry"),
        ("POST", "/api/v1/channels/{name}/test"),
        ("POST", "/channels/{name}/test"),
    }
    assert by_access[Access.WEBHOOK] == {("POST", "/alerts")}
    assert by_access[Access.PUBLIC] == {
        ("GET", "/-/healthy"),
        ("GET", "/-/ready"),
    }
    assert all(method == "GET" for method, _ in by_access[Access.READ]), "a READ route that writes"
    assert ("GET", "/metrics") in by_access[Access.READ], "Prometheus scrapes as a reader"


@pytest.fixture
async def probed(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings
) -> tuple[Client, Seen]:
    """The receiver with one more middleware, innermost, where an auth rule would sit: it
    notes what access_of says about each request."""
    seen: Seen = []

    @web.middleware
    async def probe(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append((request.method, request.path, access_of(request)))
        response: web.StreamResponse = await handler(request)
        return response

    app = create_app(settings)
    app.middlewares.append(probe)
    return await aiohttp_client(app), seen


@pytest.mark.parametrize(
    ("method", "path", "access"),
    [
        ("GET", "/-/healthy", Access.PUBLIC),
        ("GET", "/metrics", Access.READ),
        ("GET", "/static/style.css", Access.READ),
        ("POST", "/alerts", Access.WEBHOOK),
        ("GET", "/api/v1/alerts", Access.READ),
        ("GET", "/api/v1/incidents/1", Access.READ),
        ("HEAD", "/runbooks", Access.READ),
        ("GET", "/runbooks/nothing-here", Access.READ),
        ("POST", "/-/reload", Access.ADMIN),
        ("POST", "/api/v1/notifications/1/retry", Access.ADMIN),
        ("GET", "/nowhere", Access.PUBLIC),  # no route: the answer is only a 404
        ("DELETE", "/-/reload", Access.PUBLIC),  # no route for the method: a 405
    ],
)
async def test_access_of_a_real_request(
    probed: tuple[Client, Seen], method: str, path: str, access: Access
) -> None:
    client, seen = probed
    async with client.request(method, path) as resp:
        await resp.read()
    assert seen == [(method, path, access)]


async def test_the_stylesheet_is_served_and_linked(client: Client) -> None:
    resp = await client.get("/static/style.css")
    assert resp.status == 200
    assert resp.content_type == "text/css"
    ours = (files("receiver.web.pages") / "static" / "style.css").read_text()
    assert await resp.text() == ours
    page = await client.get("/runbooks")
    assert page.status == 200
    assert '<link rel="stylesheet" href="/static/style.css">' in await page.text()
    assert "<style>" not in await page.text()


async def _raw_get(client: Client, target: str) -> tuple[int, bytes]:
    """The request line exactly as given: a client library would normalise the path."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return int(answer.split(b" ", 2)[1]), answer


@pytest.mark.parametrize(
    "target",
    [
        "/static/../env.py",
        "/static/..%2Fenv.py",
        "/static/%2e%2e%2fenv.py",
        "/static/%2E%2E/env.py",
        "/static/.%2e/templates/base.html",
        "/static/..%5Cenv.py",
        "/static/..%2F..%2F..%2Fapp.py",
        "/static/..",
        "/static/.",
        "/static/",
        "/static/%2Fetc%2Fpasswd",
        "/static/style.css%00.py",
    ],
)
async def test_static_files_cannot_escape_their_folder(client: Client, target: str) -> None:
    status, answer = await _raw_get(client, target)
    assert status in (400, 404), answer
    for leak in (b"markdown_html", b"create_app", b"{% block", b"root:"):
        assert leak not in answer
