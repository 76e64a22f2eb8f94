"""The pages' forms for acting on incidents: the same actions as the JSON API, taken from
a form that carries the page's CSRF token, answered with a redirect back (303), so they
work without JavaScript and a reload does not post twice."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from receiver.domain.incidents import ACKNOWLEDGED
from receiver.web.api.actions import (
    BODIES,
    ActionBody,
    BulkBody,
    Handler,
    Invalid,
    perform,
    validated,
)
from receiver.web.pages.env import CSRF_FIELD, NAME_COOKIE, csrf_ok, problem
from receiver.web.query import BadQuery, id_of, path_id

NAME_KEPT = 90 * 24 * 3600  # seconds a browser remembers the name its user typed
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _back(raw: str, default: str) -> str:
    """Where to go after the action: a path of this site only (never `//elsewhere`)."""
    return raw if raw.startswith("/") and not raw.startswith(("//", "/\\")) else default


async def _fields(request: web.Request) -> dict[str, str | list[str]]:
    if request.content_type not in _FORMS:
        raise Invalid(415, "send the form as the page does (application/x-www-form-urlencoded)")
    form = await request.post()
    if not csrf_ok(request, str(form.get(CSRF_FIELD, ""))):
        raise Invalid(403, "this form is out of date or came from another site: reload the page")
    fields: dict[str, str | list[str]] = {
        key: str(form[key]) for key in ("by", "text") if form.get(key)
    }
    if "ids" in form:
        fields["ids"] = [str(v) for v in form.getall("ids")]
    return fields


def _back_to(request: web.Request, back: str, fields: dict[str, str | list[str]]) -> web.Response:
    """303 back to the page, remembering the name typed (until sign-in exists) so that
    the next form on any page comes filled in with it."""
    response = web.Response(status=303, headers={"Location": back})
    by = fields.get("by")
    if isinstance(by, str):
        response.set_cookie(
            NAME_COOKIE,
            quote(by.strip(), safe=""),
            path="/",
            max_age=NAME_KEPT,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
    return response


def _refused(
    request: web.Request, status: int, message: str, details: list[str], back: str
) -> web.Response:
    return problem(request, status, "Not done", message, details, back)


async def _one(request: web.Request, kind: str, model: type[ActionBody]) -> web.Response:
    incident_id = path_id(request)
    own = f"/incidents/{incident_id}"
    try:
        fields = await _fields(request)
        back = _back(str((await request.post()).get("next", "")), own)
        done = await perform(request, [incident_id], kind, validated(model, fields))
    except Invalid as exc:
        return _refused(request, exc.status, exc.message, exc.details or [], own)
    if done.missing:
        return _refused(request, 404, f"no incident with id {incident_id}", [], "/incidents")
    if done.refused:
        return _refused(request, 409, done.refused[incident_id], [], own)
    return _back_to(request, back, fields)


def on_incident(kind: str) -> Handler:
    """The handler of a page's form POST /incidents/{id}/<action>."""

    async def handle(request: web.Request) -> web.Response:
        return await _one(request, kind, BODIES[kind])

    return handle


async def acknowledge_several(request: web.Request) -> web.Response:
    """From the incidents list: those that cannot be acknowledged any more are skipped."""
    try:
        fields = await _fields(request)
        back = _back(str((await request.post()).get("next", "")), "/incidents")
        raw = fields.pop("ids", [])
        ids = [id_of(v, "ids") for v in raw] if isinstance(raw, list) else []
        if not ids:
            raise Invalid(422, "tick at least one incident to acknowledge")
        await perform(request, ids, ACKNOWLEDGED, validated(BulkBody, {**fields, "ids": ids}))
    except BadQuery as exc:
        return _refused(request, 400, str(exc), [], "/incidents")
    except Invalid as exc:
        return _refused(request, exc.status, exc.message, exc.details or [], "/incidents")
    return _back_to(request, back, fields)
