"""POST /alerts: parse, ingest, answer 2xx only after the COMMIT that holds the webhook
(group commit: webhooks that arrive together share one transaction)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from aiohttp import web
from pydantic import ValidationError

from receiver.domain.wire import Webhook
from receiver.web.keys import LIVE, OBSERVER, OUTBOX, SETTINGS, WRITER
from receiver.web.responses import STORAGE_ERRORS, error, ok, storage_unavailable
from receiver.write.ingest import ingest

log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    pass


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _value_sets(hook: Webhook) -> Iterator[tuple[str, dict[str, str]]]:
    """Every label and annotation set with where it is, the alerts' own first (that is
    where the sender fixes it)."""
    for i, a in enumerate(hook.alerts):
        yield f"alerts[{i}].labels", a.labels
        yield f"alerts[{i}].annotations", a.annotations
    yield "groupLabels", hook.group_labels
    yield "commonLabels", hook.common_labels
    yield "commonAnnotations", hook.common_annotations


def _too_big(hook: Webhook, max_alerts: int, max_value: int) -> str | None:
    """What of a valid webhook is larger than the receiver takes, or None."""
    if len(hook.alerts) > max_alerts:
        return (
            f"{len(hook.alerts)} alerts in one webhook, more than {max_alerts}; set max_alerts "
            "in Alertmanager's webhook_config, or raise RECEIVER_MAX_ALERTS_PER_WEBHOOK"
        )
    for where, values in _value_sets(hook):
        for name, value in values.items():
            # Four bytes a character at most: only a long value needs encoding to tell.
            if len(value) * 4 > max_value and len(value.encode()) > max_value:
                return (
                    f"{where}.{name[:40]} is {len(value.encode())} bytes, more than "
                    f"{max_value}; shorten it, or raise RECEIVER_MAX_VALUE_BYTES"
                )
    return None


def _field_path(loc: tuple[str | int, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or "(body)"


async def receive_alerts(request: web.Request) -> web.Response:
    started = time.perf_counter()
    response = await _receive(request)
    request.app[OBSERVER].webhook_answered(response.status, time.perf_counter() - started)
    return response


async def _receive(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    if request.content_type != "application/json":
        return error(
            415,
            f"unsupported content type {request.content_type!r}; "
            "send the webhook as Content-Type: application/json",
        )
    try:
        body = await _read_body(request, settings.max_body_bytes)
    except web.RequestPayloadError:  # Content-Encoding: gzip over a body that is not
        encoding = request.headers.get("Content-Encoding", "")
        return error(
            400,
            f"body is not encoded as its Content-Encoding ({encoding[:40]}) says; "
            "send it plain or encoded as stated",
            headers={"Connection": "close"},  # the rest of the body cannot be read past
        )
    except BodyTooLarge:
        return error(
            413,
            f"body larger than {settings.max_body_bytes} bytes; raise RECEIVER_MAX_BODY_BYTES "
            "or lower max_alerts in Alertmanager's webhook_config",
        )
    try:
        payload = json.loads(body)
    except ValueError as exc:
        return error(400, f"body is not valid JSON: {exc}")
    except RecursionError:
        return error(400, "body is not valid JSON here: nested too deeply")
    try:
        hook = Webhook.model_validate(payload)
    except ValidationError as exc:
        details = [f"{_field_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        log.warning("rejected webhook: %s", "; ".join(details))
        return error(422, "webhook does not match Alertmanager's payload (version 4)", details)

    too_big = _too_big(hook, settings.max_alerts_per_webhook, settings.max_value_bytes)
    if too_big is not None:
        log.warning("rejected webhook: %s", too_big)
        return error(413, too_big)
    writer = request.app[WRITER]
    if writer.queued >= settings.max_queued_writes:
        log.warning("overloaded: %d webhooks wait for the database; answering 503", writer.queued)
        return storage_unavailable(
            f"overloaded: {writer.queued} webhooks are waiting for the database; "
            "the webhook was not stored, retry later"
        )
    try:
        routes = request.app[LIVE].current.config.routes
        summary = await ingest(writer, hook, datetime.now(UTC), routes, request.app[OBSERVER])
    except STORAGE_ERRORS as exc:
        log.error("storage failed, asking Alertmanager to retry: %s", type(exc).__name__)
        log.debug("storage failure detail", exc_info=True)
        return storage_unavailable("storage unavailable; the webhook was not stored, retry later")
    if summary.notifications:
        request.app[OUTBOX].wake()
    answer = summary.as_json()
    log.debug("webhook %s/%s: %s", hook.receiver, hook.group_key, answer)
    return ok(answer)
