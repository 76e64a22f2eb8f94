"""/channels: the channels and routes in force, and a test message per channel, as a
form that works without JavaScript (the page answers 303 back to itself)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from aiohttp import web

from receiver.web.api.channels import overview, send_test_message
from receiver.web.pages.env import CSRF_FIELD, csrf_ok, page, problem


async def channels_page(request: web.Request) -> web.Response:
    view = await overview(request)
    tested = request.query.get("tested")
    known = {c["name"] for c in view["channels"]}
    notice = {"channel": tested, "ok": request.query.get("ok") == "1"} if tested in known else None
    # A channel's name is a YAML key: it may hold a slash, which the path must encode.
    paths = {name: quote(name, safe="") for name in known}
    return page(request, "channels.html", notice=notice, paths=paths, **view)


async def try_channel_form(request: web.Request) -> web.Response:
    """Refused without the browser's CSRF token: another site could post this form."""
    channel = request.match_info["name"]
    sent = (await request.post()).get(CSRF_FIELD)
    if not isinstance(sent, str) or not csrf_ok(request, sent):
        return problem(
            request,
            403,
            "Form expired",
            "The form did not carry this browser's token; open the page again and send from there.",
            back="/channels",
        )
    outcome = await send_test_message(request, channel)
    if outcome is None:
        return problem(
            request,
            404,
            f"No channel “{channel}”",
            "It may have been renamed or removed by a reload.",
            back="/channels",
        )
    query = urlencode({"tested": channel, "ok": "1" if outcome.ok else "0"})
    raise web.HTTPSeeOther(f"/channels?{query}")
