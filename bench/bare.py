"""The ceiling: an aiohttp handler that reads the body and answers 200, nothing else."""

import sys

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"ok": True})


app = web.Application()
app.router.add_post("/alerts", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
