"""JSON in and out at the HTTP edge: one error shape, ISO 8601 UTC times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS  # datetimes via iso()


def dumps(body: Any) -> str:
    return orjson.dumps(body, default=_default, option=_OPTIONS).decode()


def ok(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


def error(
    status: int,
    message: str,
    details: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers, dumps=dumps)


STORAGE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)
RETRY_AFTER_SECONDS = "5"


def storage_unavailable(message: str) -> web.Response:
    """A 503 with Retry-After: what Alertmanager, a load balancer or a person should do."""
    return error(503, message, headers={"Retry-After": RETRY_AFTER_SECONDS})
