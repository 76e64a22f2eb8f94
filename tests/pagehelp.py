"""What the page tests share: fetching a page, acting on an incident, and what every page
must hold to."""

from __future__ import annotations

import re

from receiver.web.routes import VERBS
from tests.conftest import Client


# `expect` is positional-only, so that no query parameter can be taken for it.
async def html(client: Client, path: str, expect: int = 200, /, **query: str) -> str:
    resp = await client.get(path, params=query)
    text = await resp.text()
    assert resp.status == expect, text[:2000]
    assert resp.content_type == "text/html"
    return text


# The path of each action, from the route table's own mapping.
PATHS = {kind: verb for verb, kind in VERBS.items()}


async def acted(client: Client, incident_id: int, kind: str, by: str, text: str = "") -> None:
    """An action through the real API, as a person would take it."""
    body = {"by": by, **({"text": text} if text else {})}
    resp = await client.post(f"/api/v1/incidents/{incident_id}/{PATHS[kind]}", json=body)
    assert resp.status == 200, await resp.text()


def only_our_script(html: str) -> None:
    """The CSP allows scripts from this service only; pages load exactly our one file."""
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/app.js" defer>']
