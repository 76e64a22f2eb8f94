"""Query-string parsing shared by the API handlers: each bad value becomes a 400 that says
what to send instead."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from aiohttp import web

from receiver.domain.wire import parse_timestamp
from receiver.store import reads
from receiver.web.responses import iso

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class BadQuery(ValueError):
    """A query parameter the API cannot use; its message tells the caller what to send."""


def limit_of(query: Any) -> int:
    raw = query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


def cursor_of(query: Any) -> reads.Position | None:
    raw = query.get("cursor")
    if not raw:
        return None
    try:
        at, row_id = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
        moment = parse_timestamp(at)
        if moment is None or not isinstance(row_id, int):
            raise ValueError
        return reads.Position(moment, row_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadQuery("cursor is not one this API handed out; use the `next` value as is") from exc


def encode_cursor(position: reads.Position | None) -> str | None:
    if position is None:
        return None
    raw = json.dumps([iso(position.at), position.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def choice_of(query: Any, name: str, allowed: tuple[str, ...]) -> str | None:
    value = query.get(name)
    if value is not None and value not in allowed:
        raise BadQuery(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value  # type: ignore[no-any-return]


def time_of(query: Any, name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = parse_timestamp(raw)
    except ValueError:
        moment = None
    if moment is None:
        raise BadQuery(f"{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
    return moment


def path_id(request: web.Request) -> int:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise BadQuery(f"id must be a whole number, got {raw!r}")
    return int(raw)
