"""GET /api/v1/runbooks and /api/v1/runbooks/{slug}: the runbooks in force, for tools."""

from __future__ import annotations

from aiohttp import web

from receiver.web.api.shapes import runbook_json
from receiver.web.keys import BASE_URL, LIVE
from receiver.web.responses import error, ok


async def list_runbooks(request: web.Request) -> web.Response:
    runbooks = request.app[LIVE].current.runbooks
    base = request.app[BASE_URL]
    return ok({"runbooks": [runbook_json(r, base) for r in runbooks.items]})


async def get_runbook(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    runbook = request.app[LIVE].current.runbooks.by_slug.get(slug)
    if runbook is None:
        return error(404, f"no runbook {slug!r}; GET /api/v1/runbooks lists them")
    body = runbook_json(runbook, request.app[BASE_URL])
    body["markdown"] = runbook.body
    return ok(body)
