"""GET /api/v1/channels and POST /api/v1/channels/{name}/test: the channels and routes in
force, how each channel fared lately, and a test message on demand. The channels page
shows the same (receiver.web.pages.channels)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from receiver.notify.channels import SendOutcome, send_test
from receiver.store import reads
from receiver.web.api.shapes import channel_json, route_json, tested_json
from receiver.web.keys import ENGINE, LIVE, MASKER, OUTBOX
from receiver.web.responses import error, ok

log = logging.getLogger(__name__)

FAILURE_WINDOW = timedelta(hours=24)


async def overview(request: web.Request) -> dict[str, Any]:
    """Channels (URLs masked) with their recent outcomes and this process's breaker, and
    the routes, read from one configuration."""
    setup, mask, worker = request.app[LIVE].current, request.app[MASKER], request.app[OUTBOX]
    configured = setup.config.channels
    since = datetime.now(UTC) - FAILURE_WINDOW
    async with request.app[ENGINE].connect() as conn:
        activity = await reads.channel_activity(conn, list(configured), since)
    return {
        "channels": [
            channel_json(name, urls, activity[name], worker.breaker_state(name), mask)
            for name, urls in configured.items()
        ],
        "routes": [route_json(i, route, mask) for i, route in enumerate(setup.routes)],
    }


async def send_test_message(request: web.Request, channel: str) -> SendOutcome | None:
    """The test message `notify-test` sends, through the channel in force; None if there
    is no such channel. Logged, masked, so the page's short answer has its detail."""
    setup, mask = request.app[LIVE].current, request.app[MASKER]
    urls = setup.config.channels.get(channel)
    if urls is None:
        return None
    outcome = await send_test(channel, urls, setup.config.delivery.timeout, mask)
    level = logging.INFO if outcome.ok else logging.WARNING
    detail = f" ({mask(outcome.error)})" if outcome.error else ""
    log.log(level, "test message to %s: %s%s", channel, outcome.status, detail)
    return outcome


async def list_channels(request: web.Request) -> web.Response:
    return ok(await overview(request))


async def try_channel(request: web.Request) -> web.Response:
    channel = request.match_info["name"]
    outcome = await send_test_message(request, channel)
    if outcome is None:
        return error(404, f"no channel {channel!r}; GET /api/v1/channels lists them")
    return ok(tested_json(channel, outcome, request.app[MASKER]))
