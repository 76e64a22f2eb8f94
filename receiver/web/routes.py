"""Every route the service answers, each with who may call it. Nothing else registers
routes, so an auth middleware has one place to look: access_of(request)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from receiver.domain.actions import NOTE, UNACKNOWLEDGED
from receiver.domain.auth import Access
from receiver.domain.incidents import ACKNOWLEDGED
from receiver.domain.lifecycle import RESOLVED
from receiver.web.api import actions
from receiver.web.api.alerts import get_alert, list_alerts
from receiver.web.api.channels import list_channels, try_channel
from receiver.web.api.export import export_alerts
from receiver.web.api.incidents import get_incident, list_incidents
from receiver.web.api.insights import get_insights
from receiver.web.api.notifications import list_notifications, retry_notification
from receiver.web.api.openapi import openapi_document
from receiver.web.api.runbooks import get_runbook, list_runbooks
from receiver.web.health import healthy, ready, reload
from receiver.web.metrics import scrape
from receiver.web.pages import actions as forms
from receiver.web.pages.alerts import alert_page, alerts_page, export_csv
from receiver.web.pages.api import api_page
from receiver.web.pages.assets import static_file
from receiver.web.pages.channels import channels_page, try_channel_form
from receiver.web.pages.home import home_page
from receiver.web.pages.incidents import incident_page, incidents_page
from receiver.web.pages.insights import insights_page
from receiver.web.pages.runbooks import runbook_page, runbooks_page
from receiver.web.webhook import receive_alerts


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    access: Access

    @property
    def methods(self) -> tuple[str, ...]:
        """A GET also answers HEAD, as aiohttp's add_get does."""
        return ("HEAD", "GET") if self.method == "GET" else (self.method,)


# The last part of an action's path, and the action it takes.
VERBS = {
    "acknowledge": ACKNOWLEDGED,
    "unacknowledge": UNACKNOWLEDGED,
    "resolve": RESOLVED,
    "notes": NOTE,
}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/-/healthy", healthy, Access.PUBLIC),
    Route("GET", "/-/ready", ready, Access.PUBLIC),
    Route("GET", "/metrics", scrape, Access.READ),
    Route("GET", "/static/{name}", static_file, Access.READ),
    Route("POST", "/alerts", receive_alerts, Access.WEBHOOK),
    Route("GET", "/api/v1/alerts", list_alerts, Access.READ),
    Route("GET", "/api/v1/alerts/export", export_alerts, Access.READ),
    Route("GET", "/api/v1/alerts/{id}", get_alert, Access.READ),
    Route("GET", "/api/v1/incidents", list_incidents, Access.READ),
    Route("GET", "/api/v1/incidents/{id}", get_incident, Access.READ),
    Route("GET", "/api/v1/notifications", list_notifications, Access.READ),
    Route("GET", "/api/v1/channels", list_channels, Access.READ),
    Route("GET", "/api/v1/insights", get_insights, Access.READ),
    Route("GET", "/api/v1/runbooks", list_runbooks, Access.READ),
    Route("GET", "/api/v1/runbooks/{slug}", get_runbook, Access.READ),
    Route("GET", "/", home_page, Access.READ),
    Route("GET", "/alerts", alerts_page, Access.READ),
    Route("GET", "/alerts/export.csv", export_csv, Access.READ),
    Route("GET", "/alerts/{id}", alert_page, Access.READ),
    Route("GET", "/incidents", incidents_page, Access.READ),
    Route("GET", "/api/v1/openapi.json", openapi_document, Access.READ),
    Route("GET", "/api", api_page, Access.READ),
    Route("GET", "/incidents/{id}", incident_page, Access.READ),
    Route("GET", "/insights", insights_page, Access.READ),
    Route("GET", "/runbooks", runbooks_page, Access.READ),
    Route("GET", "/runbooks/{slug}", runbook_page, Access.READ),
    Route("GET", "/channels", channels_page, Access.READ),
    Route("POST", "/-/reload", reload, Access.ADMIN),
    Route("POST", "/api/v1/notifications/{id}/retry", retry_notification, Access.ADMIN),
    Route("POST", "/api/v1/incidents/acknowledge", actions.acknowledge_several, Access.ADMIN),
    *(
        Route("POST", f"{prefix}/incidents/{{id}}/{verb}", module.on_incident(kind), Access.ADMIN)
        for prefix, module in (("/api/v1", actions), ("", forms))
        for verb, kind in VERBS.items()
    ),
    Route("POST", "/incidents/acknowledge", forms.acknowledge_several, Access.ADMIN),
    Route("POST", "/api/v1/channels/{name}/test", try_channel, Access.ADMIN),
    Route("POST", "/channels/{name}/test", try_channel_form, Access.ADMIN),
)

_ACCESS = web.AppKey("access", dict[web.AbstractRoute, Access])


def add_routes(app: web.Application) -> None:
    access: dict[web.AbstractRoute, Access] = {}
    for route in ROUTES:
        resource = app.router.add_resource(route.path)
        for method in route.methods:
            access[resource.add_route(method, route.handler)] = route.access
    app[_ACCESS] = access


def access_of(request: web.Request) -> Access:
    """PUBLIC when no route matched (the answer is then only a 404 or 405); a route added
    outside the table has no access at all (KeyError), so it cannot slip through."""
    route = request.match_info.route
    if route.resource is None:
        return Access.PUBLIC
    return request.app[_ACCESS][route]
