"""/static/{name}: the pages' own files (no CDN). Only a file the static folder holds is
served, looked up by name, so no path can reach outside the folder."""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path

from aiohttp import web


@functools.cache
def _served() -> dict[str, Path]:
    folder = Path(str(files("receiver.web.pages") / "static"))
    return {path.name: path for path in folder.iterdir() if path.is_file()}


async def static_file(request: web.Request) -> web.FileResponse:
    path = _served().get(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path)
