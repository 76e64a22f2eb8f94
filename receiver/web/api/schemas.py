"""The JSON shapes of shapes.py as JSON Schema (2020-12, as OpenAPI 3.1 takes it), kept
beside them so a changed shape and its schema are one diff; tests/test_openapi.py checks
the real answers against these. Objects list every field they carry and no other
(`additionalProperties: false`), so a new field fails the test until it is written here."""

from __future__ import annotations

from typing import Any

from receiver.domain.incidents import STATUSES as INCIDENT_STATUSES
from receiver.domain.lifecycle import FIRING, RESOLVED, Outcome
from receiver.web.api.notifications import STATUSES as NOTIFICATION_STATUSES
from receiver.web.query import MAX_ID

Schema = dict[str, Any]

ALERT_STATUSES = (FIRING, RESOLVED)


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with exactly these fields; the `required` ones are always present."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


def extended(base: Schema, **more: Schema) -> Schema:
    """`base` with more required fields: a detail shape is its list shape and more."""
    fields = base["properties"]
    required = {name: fields[name] for name in base["required"]}
    optional = {name: s for name, s in fields.items() if name not in required}
    return obj({**required, **more}, optional)


def array(items: Schema, **constraints: Any) -> Schema:
    return {"type": "array", "items": items, **constraints}


def maybe(schema: Schema) -> Schema:
    """The value, or null."""
    if "enum" in schema:
        return {**schema, "type": [schema["type"], "null"], "enum": [*schema["enum"], None]}
    if "type" in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"oneOf": [schema, {"type": "null"}]}


def text(description: str = "", **constraints: Any) -> Schema:
    return {
        "type": "string",
        **({"description": description} if description else {}),
        **constraints,
    }


def enum(values: tuple[str, ...] | list[str]) -> Schema:
    return {"type": "string", "enum": list(values)}


INTEGER: Schema = {"type": "integer"}
COUNT: Schema = {"type": "integer", "minimum": 0}
ID: Schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
TIME: Schema = {"type": "string", "format": "date-time"}
LABELS: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
COUNTS: Schema = {"type": "object", "additionalProperties": COUNT}

RUNBOOK_REF = obj(
    {
        "slug": maybe(text("null for an external link carried by an annotation")),
        "title": text(),
        "url": text(),
        "steps": array(text()),
        "external": {"type": "boolean"},
    }
)

ALERT = obj(
    {
        "id": ID,
        "fingerprint": text(),
        "status": enum(ALERT_STATUSES),
        "labels": LABELS,
        "annotations": LABELS,
        "startsAt": TIME,
        "endsAt": maybe(TIME),
        "endInferred": {"type": "boolean"},
        "generatorURL": text(),
        "timesReceived": INTEGER,
        "firstReceivedAt": TIME,
        "lastReceivedAt": TIME,
        "incidentIds": array(ID),
        "runbooks": array(ref("RunbookRef")),
    }
)

EVENT = obj(
    {
        "kind": enum(("fired", "resolved", "annotations_changed")),
        "at": TIME,
        "inferred": {"type": "boolean"},
        "receivedAt": TIME,
        "details": maybe({"type": "object"}),
    }
)

ATTEMPT = obj(
    {
        "startedAt": TIME,
        "seconds": {"type": "number", "minimum": 0},
        "outcome": enum(("delivered", "failed", "timeout")),
        "error": maybe(text()),
        "services": array(
            obj(
                {
                    "url": text("masked: no secret of the URL shows"),
                    "ok": {"type": "boolean"},
                    "status": text(),
                    "errors": array(text()),
                }
            )
        ),
        "replica": text(),
    }
)

NOTIFICATION = obj(
    {
        "id": ID,
        "incidentId": ID,
        "channel": text(),
        "route": maybe(INTEGER),
        "kind": enum(("change", "reminder", "fallback")),
        "status": enum(NOTIFICATION_STATUSES),
        "change": obj(
            {
                "opened": {"type": "boolean"},
                "joined": array(ID),
                "resolved": array(ID),
                "incidentResolved": {"type": "boolean"},
                "reminder": {"type": "boolean"},
            }
        ),
        "createdAt": TIME,
        "dueAt": TIME,
        "deliveredAt": maybe(TIME),
        "supersededBy": maybe(ID),
        "fallbackOf": maybe(ID),
        "lastError": maybe(text()),
        "title": maybe(text()),
        "body": maybe(text()),
        "attempts": array(ref("Attempt")),
    }
)

ACTION = obj(
    {
        "kind": enum(("acknowledged", "unacknowledged", "resolved", "note")),
        "by": text(),
        "at": TIME,
        "text": text(),
    }
)

_INCIDENT_FIELDS = {
    "id": ID,
    "receiver": text(),
    "groupKey": text(),
    "status": enum(INCIDENT_STATUSES),
    "groupLabels": LABELS,
    "commonLabels": LABELS,
    "commonAnnotations": LABELS,
    "externalURL": text(),
    "truncatedAlerts": INTEGER,
    "openedAt": TIME,
    "resolvedAt": maybe(TIME),
    "timesReceived": INTEGER,
    "lastReceivedAt": TIME,
    "acknowledgedBy": maybe(text("who acknowledged it, while it stays acknowledged")),
    "acknowledgedAt": maybe(TIME),
    "resolvedBy": maybe(text("who resolved it by hand; null when Alertmanager did")),
    "alertCounts": COUNTS,
    "runbooks": array(ref("RunbookRef")),
}

INCIDENT = obj({**_INCIDENT_FIELDS, "notificationCounts": COUNTS})
INCIDENT_DETAIL = obj(
    {
        **_INCIDENT_FIELDS,
        "alerts": array(ref("Alert")),
        "notifications": array(ref("Notification")),
        "actions": array(ref("Action")),
    }
)

RUNBOOK = obj(
    {
        "slug": text(),
        "title": text(),
        "owner": maybe(text()),
        "matchers": array(text('an Alertmanager matcher, such as severity=~"critical|page"')),
        "steps": array(text()),
        "url": text(),
    }
)

ERROR = obj(
    {"error": text("what went wrong and what to do instead")},
    {"details": array(text(), description="one line per problem, where there are several")},
)

CURSOR = text(
    "an opaque position; send a page's next back as the cursor parameter for the page after it",
    pattern="^[A-Za-z0-9_-]+$",
)

WEBHOOK_ALERT: Schema = {
    "type": "object",
    "required": ["status", "labels", "startsAt"],
    "properties": {
        "status": enum(ALERT_STATUSES),
        "labels": LABELS,
        "annotations": LABELS,
        "startsAt": TIME,
        "endsAt": text("0001-01-01T00:00:00Z (Go's zero time) for no end", format="date-time"),
        "generatorURL": text(),
        "fingerprint": text("computed from the labels when missing", maxLength=64),
    },
}

WEBHOOK: Schema = {
    "type": "object",
    "description": "Alertmanager's webhook payload, version 4; unknown fields are ignored.",
    "required": ["receiver", "status", "alerts"],
    "properties": {
        "version": {"const": "4"},
        "groupKey": text(),
        "truncatedAlerts": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
        "status": enum(ALERT_STATUSES),
        "receiver": text(minLength=1, maxLength=255),
        "groupLabels": LABELS,
        "commonLabels": LABELS,
        "commonAnnotations": LABELS,
        "externalURL": text(),
        "alerts": array(ref("WebhookAlert")),
    },
}

WEBHOOK_SUMMARY = obj(
    {
        **{outcome.value: COUNT for outcome in Outcome},
        "incidentId": maybe(ID),
        "incidentStatus": maybe(enum(INCIDENT_STATUSES)),
        "notifications": COUNT,
    }
)

BOOLEAN: Schema = {"type": "boolean"}
OUTCOME = enum(("delivered", "failed", "timeout"))

CHANNEL = obj(
    {
        "name": text(),
        "urls": array(text("scheme://host, then /*** when there is more: never a secret")),
        "breaker": enum(("closed", "half-open", "open")),
        "lastOutcome": maybe(OUTCOME),
        "lastAt": maybe(TIME),
        "failures24h": COUNT,
    }
)

ROUTE = obj(
    {
        "index": INTEGER,
        "matchers": array(text()),
        "channels": array(text()),
        "continue": BOOLEAN,
        "sendResolved": BOOLEAN,
        "repeatInterval": maybe(text("a duration such as 4h")),
        "fallback": maybe(text()),
        "title": maybe(text()),
        "body": maybe(text()),
    }
)

CHANNEL_TEST = obj(
    {
        "channel": text(),
        "ok": BOOLEAN,
        "status": OUTCOME,
        "seconds": {"type": "number"},
        "error": maybe(text("masked")),
        "services": array(
            obj({"url": text(), "ok": BOOLEAN, "status": text(), "errors": array(text())})
        ),
    }
)

SPREAD = obj(
    {
        "count": COUNT,
        "medianSeconds": maybe({"type": "number"}),
        "p90Seconds": maybe({"type": "number"}),
    }
)
RESPONSE_ROWS = array(
    obj(
        {
            "key": text(),
            "incidents": COUNT,
            "acknowledge": ref("Spread"),
            "resolve": ref("Spread"),
        }
    )
)
NAME_COUNTS = array(obj({"alertname": text(), "alerts": COUNT}))

INSIGHTS = obj(
    {
        "window": obj(
            {
                "name": enum(("24h", "7d", "30d", "custom")),
                "since": TIME,
                "until": TIME,
                "stepSeconds": COUNT,
            }
        ),
        "flaps": {"type": "integer", "minimum": 2, "maximum": 1000},
        "volume": obj(
            {
                "severities": array(text()),
                "buckets": array(
                    obj(
                        {
                            "start": TIME,
                            "total": COUNT,
                            "counts": {"type": "object", "additionalProperties": COUNT},
                        }
                    )
                ),
            }
        ),
        "noisiest": NAME_COUNTS,
        "flappingSince": maybe(TIME),
        "flapping": array(
            obj(
                {
                    "fingerprint": text(),
                    "alertname": text(),
                    "labels": LABELS,
                    "episodes": COUNT,
                    "latestAlertId": ID,
                }
            )
        ),
        "responseTimes": obj(
            {
                "since": maybe(TIME),
                "byAlertname": RESPONSE_ROWS,
                "byReceiver": RESPONSE_ROWS,
                "alertnames": COUNT,
                "receivers": COUNT,
            }
        ),
        "withoutRunbook": NAME_COUNTS,
        "withoutRunbookAlertnames": COUNT,
    }
)

COMPONENTS: dict[str, Schema] = {
    "Alert": ALERT,
    "AlertDetail": extended(ALERT, events=array(ref("Event"))),
    "Event": EVENT,
    "Incident": INCIDENT,
    "IncidentDetail": INCIDENT_DETAIL,
    "Action": ACTION,
    "Notification": NOTIFICATION,
    "Attempt": ATTEMPT,
    "Runbook": RUNBOOK,
    "RunbookDetail": extended(RUNBOOK, markdown=text("the runbook's body, as written")),
    "RunbookRef": RUNBOOK_REF,
    "Insights": INSIGHTS,
    "Spread": SPREAD,
    "Channel": CHANNEL,
    "Route": ROUTE,
    "ChannelTest": CHANNEL_TEST,
    "Error": ERROR,
    "Cursor": CURSOR,
    "Webhook": WEBHOOK,
    "WebhookAlert": WEBHOOK_ALERT,
    "WebhookSummary": WEBHOOK_SUMMARY,
}
