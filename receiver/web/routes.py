"""Every route the service answers, each with who may call it. Nothing else registers
routes, so an auth middleware has one place to look: access_of(request)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from receiver.domain.auth import Access
from receiver.web.api.alerts import get_alert, list_alerts
from receiver.web.api.incidents import get_incident, list_incidents
from receiver.web.api.insights import get_insights
from receiver.web.api.notifications import list_notifications, retry_notification
from receiver.web.api.runbooks import get_runbook, list_runbooks
from receiver.web.health import healthy, ready, reload
from receiver.web.metrics import scrape
from receiver.web.pages.assets import static_file
from receiver.web.pages.incidents import incident_page
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


ROUTES: tuple[Route, ...] = (
    Route("GET", "/-/healthy", healthy, Access.PUBLIC),
    Route("GET", "/-/ready", ready, Access.PUBLIC),
    Route("GET", "/metrics", scrape, Access.READ),
    Route("GET", "/static/{name}", static_file, Access.READ),
    Route("POST", "/alerts", receive_alerts, Access.WEBHOOK),
    Route("GET", "/api/v1/alerts", list_alerts, Access.READ),
    Route("GET", "/api/v1/alerts/{id}", get_alert, Access.READ),
    Route("GET", "/api/v1/incidents", list_incidents, Access.READ),
    Route("GET", "/api/v1/incidents/{id}", get_incident, Access.READ),
    Route("GET", "/api/v1/notifications", list_notifications, Access.READ),
    Route("GET", "/api/v1/insights", get_insights, Access.READ),
    Route("GET", "/api/v1/runbooks", list_runbooks, Access.READ),
    Route("GET", "/api/v1/runbooks/{slug}", get_runbook, Access.READ),
    Route("GET", "/incidents/{id}", incident_page, Access.READ),
    Route("GET", "/insights", insights_page, Access.READ),
    Route("GET", "/runbooks", runbooks_page, Access.READ),
    Route("GET", "/runbooks/{slug}", runbook_page, Access.READ),
    Route("POST", "/-/reload", reload, Access.ADMIN),
    Route("POST", "/api/v1/notifications/{id}/retry", retry_notification, Access.ADMIN),
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
