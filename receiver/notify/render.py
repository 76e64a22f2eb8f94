"""Turn an incident change into a message: title and Markdown body, from Jinja2 templates.

Templates run in Jinja2's sandbox, since routes may carry their own. The default ones are
meant to be good enough that nobody needs to write one: what changed first, then each
alert with what tells it apart from its siblings, and the links an on-call person clicks.

Alert text (labels, annotations, receiver and group names) is written by whoever writes
alerting rules, and Apprise turns the body into HTML for email, keeping raw HTML. So in a
body every `{{ ... }}` prints text: on output (Jinja's `finalize`, as autoescape does for
HTML) its value is escaped as Markdown text (`channels.markdown_text`), unless it is
`Markdown` that this module built: links to http(s) URLs, `|code` spans, runbook steps
(which the operator wrote, like the templates). Templates compare and filter the real
values, and route templates are as safe as the defaults without doing anything. A value
made from `Markdown` by concatenation, a filter or a macro is plain text again, so
escaping fails safe. Titles are plain text (`channels.send` escapes them for the services
that read them as Markdown), so a title template prints values as they are.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any
from urllib.parse import quote

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from receiver.domain.change import Change
from receiver.domain.durations import format_duration
from receiver.domain.links import incident_url, runbook_links, runbook_url, safe_link, silence_url
from receiver.domain.runbooks import Runbook, Runbooks
from receiver.domain.views import AlertView, IncidentView
from receiver.notify.channels import Message, markdown_text


class Markdown(str):
    """Markdown this module wrote: a body prints it as it is."""

    __slots__ = ()


def _printed(value: object) -> str:
    return value if isinstance(value, Markdown) else markdown_text(str(value))


_BREAKS = re.compile(r"[\r\n]+")
_TICKS = re.compile(r"`+")


def _code(value: object) -> Markdown:
    """`|code`: the value as a code span, shown exactly (escapes would show inside one);
    on one line, since a line break could end the span and let the rest run as Markdown."""
    text = _BREAKS.sub(" ", str(value))
    if not text:
        return Markdown("")
    fence = "`" * (max((len(run) for run in _TICKS.findall(text)), default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return Markdown(f"{fence}{pad}{text}{pad}{fence}")


_LOOSE = re.compile(r"[\s()<>\\`]")


def _target(url: str | None) -> Markdown | None:
    """An http(s) URL as a link destination: what could end it early or start syntax is
    percent-encoded, which leaves the URL the same to the server."""
    return Markdown(_LOOSE.sub(lambda m: quote(m.group(), safe=""), url)) if url else None


_OPTIONS: dict[str, Any] = {"trim_blocks": True, "lstrip_blocks": True, "autoescape": False}
_TITLE_ENV = SandboxedEnvironment(**_OPTIONS)
_BODY_ENV = SandboxedEnvironment(**_OPTIONS, finalize=_printed)
_BODY_ENV.filters["code"] = _code

_TEMPLATES = files("receiver.notify") / "templates"
DEFAULT_TITLE = (_TEMPLATES / "title.md.j2").read_text(encoding="utf-8")
DEFAULT_BODY = (_TEMPLATES / "body.md.j2").read_text(encoding="utf-8")


class TemplateError(ValueError):
    """A template that does not compile; the message says where."""


@functools.lru_cache(maxsize=256)
def compile_template(source: str, title: bool = False) -> Any:
    """Compiled once per source: a route's templates are compiled when the file loads
    (to report mistakes) and reused by every message after. A title prints its values
    as they are, a body as Markdown text."""
    try:
        return (_TITLE_ENV if title else _BODY_ENV).from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template line {exc.lineno}: {exc.message}") from exc


_DEFAULT_TITLE = compile_template(DEFAULT_TITLE, title=True)
_DEFAULT_BODY = compile_template(DEFAULT_BODY)


@dataclass(frozen=True)
class Guides:
    """The runbooks a message carries, and how many of each one's steps."""

    runbooks: list[Runbook] = field(default_factory=list)
    steps: int = 3


def incident_runbooks(incident: IncidentView, runbooks: Runbooks) -> list[Runbook]:
    """Runbooks of the firing alerts (of all, once resolved)."""
    alerts = [a for a in incident.alerts if a.status == "firing"] or incident.alerts
    return runbooks.pick(a.labels for a in alerts)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _links(pairs: list[tuple[str, Markdown | None]]) -> Markdown:
    return Markdown(" · ".join(f"[{name}]({url})" for name, url in pairs if url))


def _alert_context(
    alert: AlertView, common: dict[str, str], change: Change, am_url: str, now: datetime
) -> dict[str, Any]:
    distinct = {k: v for k, v in alert.labels.items() if common.get(k) != v}
    runbook = _target(next((link for _name, link in runbook_links(alert.annotations)), None))
    source = _target(safe_link(alert.generator_url))
    silence = _target(silence_url(am_url, alert.labels))
    return {
        "id": alert.id,
        "status": alert.status,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "summary": alert.annotations.get("summary") or alert.labels.get("alertname", "alert"),
        "description": alert.annotations.get("description", ""),
        "distinct_labels": ", ".join(f"{k}={v}" for k, v in sorted(distinct.items())),
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "end_inferred": alert.end_inferred,
        "starts_at_text": _time(alert.starts_at),
        "duration": format_duration((alert.ends_at or now) - alert.starts_at),
        "is_new": alert.id in change.joined,
        "just_resolved": alert.id in change.resolved,
        "source_url": source,
        "silence_url": silence,
        "runbook_url": runbook,
        "links": _links([("source", source), ("silence", silence), ("runbook", runbook)]),
    }


def render_context(
    incident: IncidentView,
    change: Change,
    external_url: str,
    now: datetime,
    guides: Guides | None = None,
) -> dict[str, Any]:
    """Everything a template may use; documented in docs/notifications.md."""
    guides = guides or Guides()
    common = incident.common_labels
    alerts = [
        _alert_context(a, common, change, incident.alertmanager_url, now) for a in incident.alerts
    ]
    name = common.get("alertname") or incident.group_labels.get("alertname") or "alerts"
    qualifiers = [v for k, v in incident.group_labels.items() if k != "alertname"]
    if "severity" in common and common["severity"] not in qualifiers:
        qualifiers.append(common["severity"])
    link = _target(incident_url(external_url, incident.id))
    silence = _target(silence_url(incident.alertmanager_url, incident.group_labels))
    alertmanager = _target(safe_link(incident.alertmanager_url))
    ended = incident.resolved_at if incident.status == "resolved" else None
    return {
        "incident": {
            "id": incident.id,
            "status": incident.status,
            "receiver": incident.receiver,
            "name": name,
            "qualifier": ", ".join(qualifiers),
            "group_labels": incident.group_labels,
            "common_labels": common,
            "opened_at": incident.opened_at,
            "resolved_at": incident.resolved_at,
            "resolved_by": incident.resolved_by,
            "age": format_duration((ended or now) - incident.opened_at),
            "url": link,
            "silence_url": silence,
            "alertmanager_url": alertmanager,
            "links": _links(
                [("incident", link), ("silence group", silence), ("Alertmanager", alertmanager)]
            ),
        },
        "alerts": alerts,
        "firing": [a for a in alerts if a["status"] == "firing"],
        "resolved": [
            a for a in alerts if a["status"] == "resolved" and (a["just_resolved"] or ended)
        ],
        "change": {
            "opened": change.opened,
            "joined": [a for a in alerts if a["is_new"]],
            "resolved": [a for a in alerts if a["just_resolved"]],
            "incident_resolved": change.incident_resolved,
            "reminder": change.reminder,
        },
        "runbooks": [
            {
                "slug": r.slug,
                "title": r.title,
                "url": _target(runbook_url(external_url, r.slug)),
                "steps": [Markdown(step) for step in r.steps[: guides.steps]],
                "more_steps": max(len(r.steps) - guides.steps, 0),
            }
            for r in guides.runbooks
        ],
        "external_url": external_url,
    }


def render(
    incident: IncidentView,
    change: Change,
    external_url: str,
    now: datetime,
    title_template: str | None = None,
    body_template: str | None = None,
    guides: Guides | None = None,
) -> Message:
    """`title_template` and `body_template` are a route's own Jinja2 sources, if any."""
    context = render_context(incident, change, external_url, now, guides)
    title_with = compile_template(title_template, title=True) if title_template else _DEFAULT_TITLE
    body_with = compile_template(body_template) if body_template else _DEFAULT_BODY
    title = title_with.render(context).strip()
    body = body_with.render(context).strip() + "\n"
    if incident.status == "resolved":
        severity = "success"
    else:
        severity = "failure" if incident.common_labels.get("severity") == "critical" else "warning"
    return Message(" ".join(title.split()), body, severity)
