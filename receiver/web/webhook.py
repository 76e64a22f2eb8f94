"""POST /alerts: parse, ingest, answer 2xx only after the COMMIT that holds the webhook
(group commit: webhooks that arrive together share one transaction)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from receiver.domain import heartbeats
from receiver.domain.wire import Webhook
from receiver.runtime.settings import Settings
from receiver.web.keys import LIVE, OBSERVER, OUTBOX, SETTINGS, WRITER
from receiver.web.responses import STORAGE_ERRORS, error, ok, storage_unavailable
from receiver.write.heartbeats import record as record_heartbeats
from receiver.write.ingest import ingest

log = logging.getLogger(__name__)


# Larger bodies are parsed and validated in a thread (some 2 ms of work per 64 KiB), so
# that the event loop goes on answering meanwhile; smaller ones, nearly all, skip the hop.
# One thread: the GIL would not let two parse faster, and each parse's peak memory
# (several times the body) then counts once however many large webhooks arrive together.
OFF_LOOP_BYTES = 64 * 1024
_PARSER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-parse")


class Refused(Exception):
    """A webhook answered 4xx before the write: the status, and what to tell the sender."""

    def __init__(self, status: int, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> Refused:
    return Refused(
        413,
        f"body larger than {limit} bytes; raise RECEIVER_MAX_BODY_BYTES "
        "or lower max_alerts in Alertmanager's webhook_config",
    )


def _hand_over(value: dict[str, Any]) -> dict[str, Any]:
    """json's C parser holds the GIL for a whole body (some 30 ms for 10,000 alerts); a Python
    object_hook, called once per object, is where the interpreter can let the event loop
    run when the body is parsed in a thread. It changes nothing in what is parsed."""
    return value


def _parse(body: bytes, settings: Settings, off_loop: bool = False) -> Webhook:
    """The checks of a body, in the order their answers take precedence: JSON (400), the
    alert count (413, before any model is built), the wire model (422), value sizes (413).
    Only a body parsed off the loop needs the hook; a small one takes json's cached
    decoder (a decoder built per call cost every webhook a few microseconds)."""
    try:
        payload = json.loads(body, object_hook=_hand_over) if off_loop else json.loads(body)
    except ValueError as exc:
        raise Refused(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise Refused(400, "body is not valid JSON here: nested too deeply") from None
    alerts = payload.get("alerts") if isinstance(payload, dict) else None
    limit = settings.max_alerts_per_webhook
    if isinstance(alerts, list) and len(alerts) > limit:
        raise _refused(
            413,
            f"{len(alerts)} alerts in one webhook, more than {limit}; set max_alerts "
            "in Alertmanager's webhook_config, or raise RECEIVER_MAX_ALERTS_PER_WEBHOOK",
        )
    try:
        hook = Webhook.model_validate(payload)
    except ValidationError as exc:
        details = [f"{_field_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        log.warning("rejected webhook: %s", "; ".join(details))
        message = "webhook does not match Alertmanager's payload (version 4)"
        raise Refused(422, message, details) from None
    too_big = _too_big(hook, settings.max_value_bytes)
    if too_big is not None:
        raise _refused(413, too_big)
    return hook


def _refused(status: int, message: str) -> Refused:
    log.warning("rejected webhook: %s", message)
    return Refused(status, message)


def _value_sets(hook: Webhook) -> Iterator[tuple[str, dict[str, str]]]:
    """Every label and annotation set with where it is, the alerts' own first (that is
    where the sender fixes it)."""
    for i, a in enumerate(hook.alerts):
        yield f"alerts[{i}].labels", a.labels
        yield f"alerts[{i}].annotations", a.annotations
    yield "groupLabels", hook.group_labels
    yield "commonLabels", hook.common_labels
    yield "commonAnnotations", hook.common_annotations


def _too_big(hook: Webhook, max_value: int) -> str | None:
    """Which value of a valid webhook is larger than the receiver takes, or None."""
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
    settings = request.app[SETTINGS]
    if request.content_type != "application/json":
        return error(
            415,
            f"unsupported content type {request.content_type!r}; "
            "send the webhook as Content-Type: application/json",
        )
    try:
        hook = await _webhook(request, settings)
    except web.RequestPayloadError:  # Content-Encoding: gzip over a body that is not
        encoding = request.headers.get("Content-Encoding", "")
        return error(
            400,
            f"body is not encoded as its Content-Encoding ({encoding[:40]}) says; "
            "send it plain or encoded as stated",
            headers={"Connection": "close"},  # the rest of the body cannot be read past
        )
    except Refused as refused:
        return error(refused.status, refused.message, refused.details)
    writer = request.app[WRITER]
    if writer.queued >= settings.max_queued_writes:
        log.warning("overloaded: %d webhooks wait for the database; answering 503", writer.queued)
        return storage_unavailable(
            f"overloaded: {writer.queued} webhooks are waiting for the database; "
            "the webhook was not stored, retry later"
        )
    setup = request.app[LIVE].current
    received_at = datetime.now(UTC)
    try:
        summary = await ingest(writer, hook, received_at, setup.routes, request.app[OBSERVER])
        beating = heartbeats.seen(setup.config.heartbeats, hook)
        if beating:  # after the alerts: a retry of a failed sighting is a duplicate
            await record_heartbeats(writer, beating, received_at)
    except STORAGE_ERRORS as exc:
        log.error("storage failed, asking Alertmanager to retry: %s", type(exc).__name__)
        log.debug("storage failure detail", exc_info=True)
        return storage_unavailable("storage unavailable; the webhook was not stored, retry later")
    if summary.notifications:
        request.app[OUTBOX].wake()
    answer = summary.as_json()
    log.debug("webhook %s/%s: %s", hook.receiver, hook.group_key, answer)
    return ok(answer)


async def _webhook(request: web.Request, settings: Settings) -> Webhook:
    """The body read and parsed; only the parsed webhook outlives this call (a large body
    is held once, not as bytes, JSON and models together while it is written)."""
    body = await _read_body(request, settings.max_body_bytes)
    if len(body) < OFF_LOOP_BYTES:
        return _parse(body, settings)
    return await asyncio.get_running_loop().run_in_executor(_PARSER, _parse, body, settings, True)
