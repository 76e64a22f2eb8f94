"""/incidents/{id}: where message links point."""

from __future__ import annotations

from aiohttp import web

from receiver.web.query import path_id


async def incident_page(request: web.Request) -> web.StreamResponse:
    """The API answers until a web page exists; the link in sent messages stays valid."""
    raise web.HTTPFound(f"/api/v1/incidents/{path_id(request)}")
