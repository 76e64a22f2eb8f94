"""POST /api/v1/incidents/{id}/acknowledge, /unacknowledge, /resolve, /notes, and
/api/v1/incidents/acknowledge for several: people acting on incidents.

Only application/json is taken: a page on another site can make a browser post a form,
never JSON without the browser asking this service first (CORS), so no form can act
here. The pages' forms have their own routes, which check a CSRF token instead. `by` is
the signed-in user when there is one; without sign-in, the name the caller gives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from receiver.domain.actions import NOTE, UNACKNOWLEDGED
from receiver.domain.incidents import ACKNOWLEDGED
from receiver.domain.lifecycle import RESOLVED
from receiver.web.api.incidents import incident_detail
from receiver.web.keys import ENGINE, LIVE, OUTBOX, USER, WRITER
from receiver.web.query import MAX_ID, path_id
from receiver.web.responses import error, ok
from receiver.write.actions import Action, Done, act


def _storable(value: str) -> str:
    """What the databases would refuse (NUL, a lone surrogate) is a 422, not a 500."""
    if "\x00" in value:
        raise ValueError("contains a NUL character (\\u0000)")
    value.encode("utf-8")  # UnicodeEncodeError is a ValueError: pydantic reports it
    return value


Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_storable)]
Text = Annotated[str, Field(max_length=10_000), AfterValidator(_storable)]


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    by: Name | None = None
    text: Text = ""


class NoteBody(ActionBody):
    text: Annotated[Text, Field(min_length=1)]


class BulkBody(ActionBody):
    ids: list[Annotated[int, Field(ge=0, le=MAX_ID, strict=True)]] = Field(
        min_length=1, max_length=100
    )


class Invalid(Exception):
    """A body the action cannot take: the status and what to send instead."""

    def __init__(self, status: int, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.details = status, message, details


B = TypeVar("B", bound=ActionBody)


def validated(model: type[B], data: Any) -> B:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()]
        raise Invalid(422, "the action's body is not valid", details) from None


def who(request: web.Request, given: str | None) -> str:
    """The signed-in user; without sign-in, the name given (required then)."""
    user: str | None = request.get(USER)
    if user is not None:
        return user
    if not given:
        raise Invalid(422, "say who acts: give `by` (your name); it goes into the timeline")
    return given


async def perform(request: web.Request, ids: list[int], kind: str, body: ActionBody) -> Done:
    """The one path from a request to the write, for the API and the pages' forms alike."""
    action = Action(kind, who(request, body.by), body.text)
    routes = request.app[LIVE].current.routes
    done = await act(request.app[WRITER], ids, action, routes, datetime.now(UTC))
    if done.queued:
        request.app[OUTBOX].wake()
    return done


async def _json(request: web.Request) -> Any:
    if request.content_type != "application/json":
        raise Invalid(415, 'send the action as application/json, e.g. {"by": "alice"}')
    raw = await request.read()
    try:
        return orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise Invalid(400, f"the body is not JSON: {exc}") from None


async def _one(request: web.Request, kind: str, model: type[ActionBody]) -> web.Response:
    incident_id = path_id(request)
    try:
        body = validated(model, await _json(request))
        done = await perform(request, [incident_id], kind, body)
    except Invalid as exc:
        return error(exc.status, exc.message, exc.details)
    if done.missing:
        return error(404, f"no incident with id {incident_id}")
    if done.refused:
        return error(409, done.refused[incident_id])
    async with request.app[ENGINE].connect() as conn:
        detail = await incident_detail(request, conn, incident_id)
    return ok(detail)


Handler = Callable[[web.Request], Awaitable[web.Response]]

# What each action's body must hold: a note needs its text.
BODIES: dict[str, type[ActionBody]] = {
    ACKNOWLEDGED: ActionBody,
    UNACKNOWLEDGED: ActionBody,
    RESOLVED: ActionBody,
    NOTE: NoteBody,
}


def on_incident(kind: str) -> Handler:
    """The handler of POST /api/v1/incidents/{id}/<action> for one kind of action."""

    async def handle(request: web.Request) -> web.Response:
        return await _one(request, kind, BODIES[kind])

    return handle


def outcome_json(done: Done) -> dict[str, Any]:
    return {
        "acknowledged": done.acted,
        "refused": [{"id": i, "reason": why} for i, why in done.refused.items()],
        "missing": done.missing,
    }


async def acknowledge_several(request: web.Request) -> web.Response:
    """Each incident on its own terms: those already acknowledged or resolved are listed
    as refused, the others are acknowledged."""
    try:
        body = validated(BulkBody, await _json(request))
        done = await perform(request, body.ids, ACKNOWLEDGED, body)
    except Invalid as exc:
        return error(exc.status, exc.message, exc.details)
    return ok(outcome_json(done))
