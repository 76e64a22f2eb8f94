"""Query-string parsing shared by the API handlers: each bad value becomes a 400 that says
what to send instead."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiDict

from receiver.domain.history import window
from receiver.domain.matchers import MatcherError, parse_matcher
from receiver.domain.wire import parse_timestamp
from receiver.store import reads
from receiver.web.responses import iso

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_ID = 2**63 - 1  # the databases' bigint: a larger id cannot exist, and cannot be bound
_WHOLE = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes "²"


class BadQuery(ValueError):
    """A query parameter the API cannot use; its message tells the caller what to send."""


def _shown(raw: str) -> str:
    """The caller's value in an error, cut short: a 5,000-digit id need not come back."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def whole_number(raw: str, name: str, low: int, high: int) -> int:
    if _WHOLE.fullmatch(raw) and low <= (value := int(raw)) <= high:
        return value
    raise BadQuery(f"{name} must be a whole number from {low} to {high}, got {_shown(raw)}")


def limit_of(query: Any) -> int:
    return whole_number(query.get("limit", str(DEFAULT_LIMIT)), "limit", 1, MAX_LIMIT)


def id_of(raw: str, name: str = "id") -> int:
    return whole_number(raw, name, 0, MAX_ID)


def cursor_of(query: Any) -> reads.Position | None:
    raw = query.get("cursor")
    if not raw:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
        at, row_id = decoded if isinstance(decoded, list) else (None, None)
        # The shape this API writes: [RFC 3339 text, a bigint id] (a bool is no id).
        if not isinstance(at, str) or type(row_id) is not int or not 0 <= row_id <= MAX_ID:
            raise ValueError
        moment = parse_timestamp(at)
        if moment is None:
            raise ValueError
        return reads.Position(moment, row_id)
    except (ValueError, TypeError, RecursionError, binascii.Error) as exc:
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
    return id_of(request.match_info["id"])


def filled(query: Any) -> MultiDict[str]:
    """The query without empty values: a page's filter form sends every field, blank
    ones included, and a blank filter means no filter."""
    return MultiDict((k, v) for k, v in query.items() if v.strip())


def alert_query_of(query: Any, now: datetime) -> reads.AlertQuery:
    """The alert filters the API, the pages and the exports share, so a page's link, its
    export and the API call with the same query string find the same alerts (the pages
    drop their form's blank fields first, with `filled`)."""
    try:
        matchers = [parse_matcher(f) for f in query.getall("filter", [])]
    except MatcherError as exc:
        raise BadQuery(f"filter: {exc}") from exc
    try:  # the domain knows the named ranges and which bounds exclude each other
        since, until = window(
            query.get("range"), time_of(query, "since"), time_of(query, "until"), now
        )
    except ValueError as exc:
        raise BadQuery(str(exc)) from exc
    return reads.AlertQuery(
        status=choice_of(query, "status", ("firing", "resolved")),
        alertname=query.get("alertname") or None,
        severity=query.get("severity") or None,
        receiver=query.get("receiver") or None,
        since=since,
        until=until,
        text=query.get("q") or None,
        matchers=matchers,
    )
