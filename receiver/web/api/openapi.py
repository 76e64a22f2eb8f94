"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of every JSON route, as Python data
built once. OPERATIONS holds one entry per method and path: documenting a new route is
adding one Operation (its shapes go to schemas.py). The answers every operation shares
(400 for a bad query, 401/403 by its access class, 503 when storage is down or the
service is full) are added here, so no entry can forget them."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from aiohttp import web

from receiver.domain.auth import Access
from receiver.domain.history import RANGES
from receiver.domain.incidents import STATUSES as INCIDENT_STATUSES
from receiver.web.api.export import FORMATS
from receiver.web.api.notifications import STATUSES as NOTIFICATION_STATUSES
from receiver.web.api.schemas import (
    ALERT_STATUSES,
    COMPONENTS,
    COUNT,
    ID,
    TIME,
    Schema,
    array,
    enum,
    maybe,
    obj,
    ref,
    text,
)
from receiver.web.query import DEFAULT_LIMIT, MAX_LIMIT
from receiver.web.responses import RETRY_AFTER_SECONDS, dumps

JSON = "application/json"
Answer = dict[str, Any]


def answer(description: str, schema: Schema | None = None) -> Answer:
    """A JSON answer (an Error when no schema is given)."""
    return {"description": description, "content": {JSON: {"schema": schema or ref("Error")}}}


def plain(description: str) -> Answer:
    return {"description": description, "content": {"text/plain": {"schema": text()}}}


def query(name: str, schema: Schema, description: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **more}


def in_path(name: str, schema: Schema, example: Any) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "example": example}


LIMIT = query(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    "how many to answer at most",
)
CURSOR = query(
    "cursor",
    {**COMPONENTS["Cursor"], "pattern": "^[A-Za-z0-9_-]*$"},
    "the next of the page before, as it came; empty or absent: the first page",
)
RECEIVER = query("receiver", text(), "only those sent to this Alertmanager receiver")
PATH_ID = in_path("id", ID, 1)


def page_of(key: str, item: str) -> Schema:
    """A list answer: one page of items, and the cursor to the next (null on the last)."""
    return obj({key: array(ref(item)), "next": maybe(ref("Cursor"))})


def json_body(schema: Schema, example: Any) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema, "example": example}}}


@dataclass(frozen=True)
class Operation:
    """One method on one path. `answers` are its own; as_json adds those its parameters
    and access class bring."""

    method: str
    path: str
    operation_id: str
    summary: str
    access: Access
    answers: dict[int, Answer]
    parameters: tuple[dict[str, Any], ...] = ()
    body: dict[str, Any] | None = None
    description: str = ""

    @property
    def tag(self) -> str:
        """The resource under /api/v1 (alerts, incidents, ...); the rest is the service's."""
        if not self.path.startswith("/api/v1/"):
            return "service"
        return self.path.split("/")[3].removesuffix(".json")

    def as_json(self) -> dict[str, Any]:
        shared: dict[int, Answer] = {}
        if self.parameters or "{" in self.path:
            shared[400] = answer("a parameter is malformed; the error says what to send")
        if self.access is not Access.PUBLIC:
            shared[401] = answer("credentials are missing or wrong (when sign-in is set up)")
            shared[403] = answer(
                "the caller may not do this, or the request came from another site"
            )
            shared[503] = {
                **answer("storage is unavailable or the service is full; retry later"),
                "headers": {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": f"seconds to wait ({RETRY_AFTER_SECONDS})",
                    }
                },
            }
        answers = {**shared, **self.answers}
        found: dict[str, Any] = {
            "operationId": self.operation_id,
            "summary": self.summary,
            "tags": [self.tag],
            "x-access": self.access.value,
            "security": SECURITY[self.access],
            "responses": {str(status): answers[status] for status in sorted(answers)},
        }
        if self.description:
            found["description"] = self.description
        if self.parameters:
            found["parameters"] = list(self.parameters)
        if self.body is not None:
            found["requestBody"] = self.body
        return found


# `{}` among the choices: without users in the web config file, anyone may call.
SECURITY: dict[Access, list[dict[str, list[str]]]] = {
    Access.PUBLIC: [],
    Access.READ: [{"basic": []}, {}],
    Access.ADMIN: [{"basic": []}, {}],
    Access.WEBHOOK: [{"bearer": []}, {"basic": []}, {}],
}

_BY = text(
    "who acts; required unless the caller signed in (then the user name is taken)",
    minLength=1,
    maxLength=100,
)
_ACTION_ANSWERS: dict[int, Answer] = {
    200: answer("the incident as it is now", ref("IncidentDetail")),
    404: answer("no incident with this id"),
    409: answer("the action does not apply to the incident's status"),
    415: answer("the body is not Content-Type: application/json"),
    422: answer("the body does not match the schema; details say where"),
}


def _incident_action(verb: str, summary: str) -> Operation:
    return Operation(
        "POST",
        f"/api/v1/incidents/{{id}}/{verb}",
        f"{verb}Incident",
        summary,
        Access.ADMIN,
        _ACTION_ANSWERS,
        (PATH_ID,),
        json_body(obj({}, {"by": _BY}), {"by": "alice"}),
    )


# The filters of the alert history, shared by its list and its export.
ALERT_FILTERS = (
    query("status", enum(ALERT_STATUSES), "only alerts in this status"),
    query("alertname", text(), "only alerts with this alertname label"),
    query("severity", text(), "only alerts with this severity label"),
    RECEIVER,
    query("since", {"type": "string", "format": "date-time"}, "started at or after"),
    query("until", {"type": "string", "format": "date-time"}, "started before"),
    query("q", text(), "text in labels or annotations, case-insensitive"),
    query(
        "filter",
        array(
            text(
                "an Alertmanager matcher: name, one of = != =~ !~, a quoted value",
                pattern=r'^[a-zA-Z_][a-zA-Z0-9_]*(=|!=|=~|!~)"[^"\\]*"$',
            )
        ),
        "only alerts whose labels match every one (repeat the parameter)",
        style="form",
        explode=True,
        example=['severity=~"critical|page"'],
    ),
    query(
        "range",
        enum(tuple(RANGES)),
        "only alerts started within this much of now (not with since or until)",
    ),
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/alerts",
        "receiveAlerts",
        "Alertmanager's webhook: store the alerts once, group them into an incident",
        Access.WEBHOOK,
        {
            200: answer(
                "stored (after the commit): what the webhook changed", ref("WebhookSummary")
            ),
            400: answer("the body is not JSON, or not encoded as its Content-Encoding says"),
            413: answer("the body, its alert count or one of its values is too large"),
            415: answer("the body is not Content-Type: application/json"),
            422: answer("the body does not match Alertmanager's payload; details say where"),
        },
        body=json_body(
            ref("Webhook"),
            {
                "version": "4",
                "status": "firing",
                "receiver": "team-a",
                "groupLabels": {"alertname": "DiskFull"},
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "DiskFull", "instance": "db-1"},
                        "startsAt": "2026-01-31T12:00:00Z",
                    }
                ],
            },
        ),
        description="Point the url of a webhook_configs entry in Alertmanager here.",
    ),
    Operation(
        "GET",
        "/-/healthy",
        "healthy",
        "The process is up",
        Access.PUBLIC,
        {200: plain("OK")},
    ),
    Operation(
        "GET",
        "/-/ready",
        "ready",
        "The service can serve: the database answers at the expected schema",
        Access.PUBLIC,
        {
            200: plain("OK"),
            503: plain("shutting down, the database is unreachable, or its schema is behind"),
        },
    ),
    Operation(
        "POST",
        "/-/reload",
        "reload",
        "Read the configuration file and the runbooks again (as SIGHUP does)",
        Access.ADMIN,
        {
            200: answer(
                "reloaded: what is now in force",
                obj({"channels": COUNT, "routes": COUNT, "runbooks": COUNT}),
            ),
            422: answer("the files have problems (details); the previous configuration stays"),
        },
    ),
    Operation(
        "GET",
        "/api/v1/openapi.json",
        "openapi",
        "This document",
        Access.READ,
        {200: answer("the OpenAPI 3.1 document", {"type": "object"})},
    ),
    Operation(
        "GET",
        "/api/v1/alerts",
        "listAlerts",
        "Alerts, each once, newest first",
        Access.READ,
        {200: answer("one page of alerts", page_of("alerts", "Alert"))},
        (
            *ALERT_FILTERS,
            LIMIT,
            CURSOR,
        ),
    ),
    Operation(
        "GET",
        "/api/v1/alerts/export",
        "exportAlerts",
        "Every alert the filter finds, streamed (no paging), as JSON or CSV",
        Access.READ,
        {
            200: {
                "description": "the alerts, newest first; cut short if storage fails midway",
                "content": {
                    JSON: {"schema": array(ref("Alert"))},
                    "text/csv": {"schema": text("a header row, then one row per alert")},
                },
            }
        },
        (query("format", enum(FORMATS), "json (the default) or csv"), *ALERT_FILTERS),
    ),
    Operation(
        "GET",
        "/api/v1/alerts/{id}",
        "getAlert",
        "One alert with its timeline",
        Access.READ,
        {
            200: answer("the alert", ref("AlertDetail")),
            404: answer("no alert with this id"),
        },
        (PATH_ID,),
    ),
    Operation(
        "GET",
        "/api/v1/incidents",
        "listIncidents",
        "Incidents (Alertmanager's groups), the latest first",
        Access.READ,
        {200: answer("one page of incidents", page_of("incidents", "Incident"))},
        (
            query("status", enum(INCIDENT_STATUSES), "only incidents in this status"),
            RECEIVER,
            LIMIT,
            CURSOR,
        ),
    ),
    Operation(
        "GET",
        "/api/v1/incidents/{id}",
        "getIncident",
        "One incident with its alerts, runbooks and notifications",
        Access.READ,
        {
            200: answer("the incident", ref("IncidentDetail")),
            404: answer("no incident with this id"),
        },
        (PATH_ID,),
    ),
    _incident_action("acknowledge", "Acknowledge an open incident"),
    _incident_action("unacknowledge", "Take an acknowledgement back"),
    _incident_action("resolve", "Resolve an incident by hand"),
    Operation(
        "POST",
        "/api/v1/incidents/{id}/notes",
        "noteIncident",
        "Add a note to an incident",
        Access.ADMIN,
        _ACTION_ANSWERS,
        (PATH_ID,),
        json_body(
            obj({"text": text(minLength=1, maxLength=10000)}, {"by": _BY}),
            {"by": "alice", "text": "failing over to the replica"},
        ),
    ),
    Operation(
        "POST",
        "/api/v1/incidents/acknowledge",
        "acknowledgeIncidents",
        "Acknowledge several incidents at once",
        Access.ADMIN,
        {
            **{k: v for k, v in _ACTION_ANSWERS.items() if k in (415, 422)},
            400: answer("the body is not JSON"),
            200: answer(
                "each incident on its own terms: acknowledged, refused (with why) or missing",
                obj(
                    {
                        "acknowledged": array(ID),
                        "refused": array(obj({"id": ID, "reason": text()})),
                        "missing": array(ID),
                    }
                ),
            ),
        },
        body=json_body(
            obj({"ids": array(ID, minItems=1, maxItems=100)}, {"by": _BY}),
            {"ids": [1, 2], "by": "alice"},
        ),
    ),
    Operation(
        "GET",
        "/api/v1/notifications",
        "listNotifications",
        "Notifications (the outbox) with their delivery attempts, the latest first",
        Access.READ,
        {200: answer("one page of notifications", page_of("notifications", "Notification"))},
        (
            query("incident", ID, "only this incident's"),
            query("channel", text(), "only those to this channel"),
            query("status", enum(NOTIFICATION_STATUSES), "only those in this status"),
            LIMIT,
            CURSOR,
        ),
    ),
    Operation(
        "POST",
        "/api/v1/notifications/{id}/retry",
        "retryNotification",
        "Send a failed notification again",
        Access.ADMIN,
        {
            202: answer(
                "queued again",
                obj({"id": ID, "status": enum(("pending",))}),
            ),
            404: answer("no notification with this id"),
            409: answer("the notification has not failed; only failed ones retry"),
        },
        (PATH_ID,),
    ),
    Operation(
        "GET",
        "/api/v1/insights",
        "getInsights",
        "What the history says for a window: volume, noisiest, flapping, response times",
        Access.READ,
        {200: answer("the insights of the window", ref("Insights"))},
        (
            query("window", enum(("24h", "7d", "30d")), "the last day, week or month (7d)"),
            query("since", TIME, "a custom window's start (up to 92 days; not with window)"),
            query("until", TIME, "a custom window's end (default now)"),
            query(
                "flaps",
                {"type": "integer", "minimum": 2, "maximum": 1000},
                "episodes in the window that make a fingerprint flapping (3)",
            ),
        ),
    ),
    Operation(
        "GET",
        "/api/v1/channels",
        "listChannels",
        "The channels (URLs masked) with how each fared lately, and the routes in force",
        Access.READ,
        {
            200: answer(
                "channels and routes; the breaker is this process's own",
                obj({"channels": array(ref("Channel")), "routes": array(ref("Route"))}),
            )
        },
    ),
    Operation(
        "POST",
        "/api/v1/channels/{name}/test",
        "testChannel",
        "Send the test message through every URL of a channel",
        Access.ADMIN,
        {
            200: answer("what happened (ok says whether it arrived)", ref("ChannelTest")),
            404: answer("no channel of this name"),
        },
        (in_path("name", text(), "chat"),),
    ),
    Operation(
        "GET",
        "/api/v1/runbooks",
        "listRunbooks",
        "The runbooks in force",
        Access.READ,
        {200: answer("every runbook", obj({"runbooks": array(ref("Runbook"))}))},
    ),
    Operation(
        "GET",
        "/api/v1/runbooks/{slug}",
        "getRunbook",
        "One runbook with its Markdown",
        Access.READ,
        {
            200: answer("the runbook", ref("RunbookDetail")),
            404: answer("no runbook with this slug"),
        },
        (in_path("slug", text(), "disk-full"),),
    ),
)


@functools.cache
def spec() -> dict[str, Any]:
    """The document, built once; the /api page renders the same one."""
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = operation.as_json()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "alert-receiver",
            "version": version("alert-receiver"),
            "description": "Alertmanager's webhook, and the history it keeps. Every error "
            'answers {"error": ...} (the Error schema); times are RFC 3339 in UTC.',
        },
        "paths": paths,
        "components": {
            "schemas": COMPONENTS,
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


@functools.cache
def _served() -> bytes:
    return dumps(spec()).encode()


async def openapi_document(_request: web.Request) -> web.Response:
    return web.Response(body=_served(), content_type=JSON)
