"""Messages as pure rendering: titles, bodies, links, and route templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from receiver.domain.change import Change
from receiver.domain.links import silence_url
from receiver.domain.views import AlertView, IncidentView
from receiver.notify.render import (
    TemplateError,
    compile_template,
    render,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=2)


def alert_view(i: int, status: str = "firing", **annotations: str) -> AlertView:
    return AlertView(
        id=i,
        status=status,
        labels={"alertname": "HighLatencyP95Critical", "severity": "critical", "pod": f"api-{i}"},
        annotations={"summary": f"P95 latency 740ms on api-{i}", **annotations},
        starts_at=START,
        ends_at=NOW - timedelta(minutes=30) if status == "resolved" else None,
        end_inferred=False,
        generator_url="http://prometheus:9090/graph?g0.expr=x",
    )


def incident_view(*alerts: AlertView, status: str = "open") -> IncidentView:
    return IncidentView(
        id=7,
        status=status,
        receiver="oncall",
        group_labels={"alertname": "HighLatencyP95Critical"},
        common_labels={"alertname": "HighLatencyP95Critical", "severity": "critical"},
        alertmanager_url="http://alertmanager:9093",
        opened_at=START,
        resolved_at=NOW - timedelta(minutes=30) if status == "resolved" else None,
        alerts=list(alerts),
    )


def test_opening_message() -> None:
    incident = incident_view(alert_view(1), alert_view(2), alert_view(3))
    message = render(incident, Change(opened=True, joined=frozenset({1, 2, 3})), "", NOW)
    assert message.title == "[FIRING:3] HighLatencyP95Critical (critical)"
    assert message.severity == "failure"
    assert "**New incident #7:** 3 alerts firing." in message.body
    assert "P95 latency 740ms on api-2" in message.body
    assert "(pod=api-2)" in message.body  # the label that tells siblings apart
    assert "severity=api" not in message.body
    assert "[source](http://prometheus:9090/graph?g0.expr=x)" in message.body


def test_change_message_counts_what_changed() -> None:
    incident = incident_view(alert_view(1), alert_view(2, "resolved"), alert_view(3))
    message = render(incident, Change(joined=frozenset({3}), resolved=frozenset({2})), "", NOW)
    assert message.title == "[FIRING:2] HighLatencyP95Critical (critical)"
    assert "1 new alert firing, 1 resolved; 2 still firing." in message.body
    assert "fired for 1h 30m" in message.body
    assert message.body.count("🆕") == 1


def test_resolved_message_says_how_long_it_fired() -> None:
    incident = incident_view(alert_view(1, "resolved"), status="resolved")
    message = render(incident, Change(resolved=frozenset({1}), incident_resolved=True), "", NOW)
    assert message.title == "[RESOLVED] HighLatencyP95Critical (critical)"
    assert message.severity == "success"
    assert "**Resolved** after 1h 30m" in message.body
    assert "**Firing**" not in message.body


def test_reminder_title() -> None:
    message = render(incident_view(alert_view(1)), Change(reminder=True), "", NOW)
    assert message.title.endswith("- still firing after 2h")
    assert "**Still firing:**" in message.body


def test_links_to_incident_silence_and_runbook() -> None:
    incident = incident_view(alert_view(1, runbook_url="https://wiki.example.com/rb/latency"))
    message = render(incident, Change(opened=True), "https://alerts.example.com/", NOW)
    assert "[incident](https://alerts.example.com/incidents/7)" in message.body
    assert "[runbook](https://wiki.example.com/rb/latency)" in message.body
    silence = silence_url("http://alertmanager:9093", {"alertname": "X", "pod": 'a"b'})
    assert silence is not None
    assert silence.startswith("http://alertmanager:9093/#/silences/new?filter=")
    assert unquote(silence.split("filter=")[1]) == '{alertname="X",pod="a\\"b"}'


@pytest.mark.parametrize(
    "hostile", ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "ftp://x"]
)
def test_only_http_links_are_rendered(hostile: str) -> None:
    bad = AlertView(**{**alert_view(1).__dict__, "generator_url": hostile})
    incident = incident_view(bad)
    message = render(incident, Change(opened=True), hostile, NOW)
    assert hostile not in message.body
    incident_with_runbook = incident_view(alert_view(1, runbook_url=hostile))
    assert hostile not in render(incident_with_runbook, Change(opened=True), "", NOW).body


def test_route_templates_override_the_defaults() -> None:
    title = "{{ incident.name }}: {{ firing|length }} firing"
    body = "{% for a in firing %}{{ a.labels.pod }} {{ a.summary }}\n{% endfor %}"
    message = render(incident_view(alert_view(1), alert_view(2)), Change(), "", NOW, title, body)
    assert message.title == "HighLatencyP95Critical: 2 firing"
    assert message.body == "api-1 P95 latency 740ms on api-1\napi-2 P95 latency 740ms on api-2\n"


def test_templates_are_sandboxed() -> None:
    sneaky = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    with pytest.raises(Exception, match=r"unsafe|access"):
        render(incident_view(alert_view(1)), Change(), "", NOW, sneaky)


def test_template_syntax_errors_say_where() -> None:
    with pytest.raises(TemplateError, match="template line 2"):
        compile_template("ok\n{% if %}")


def test_changes_merge_into_one() -> None:
    merged = Change(opened=True, joined=frozenset({1})).merge(
        Change(resolved=frozenset({1}), joined=frozenset({2}), reminder=True)
    )
    assert merged == Change(opened=True, joined=frozenset({1, 2}), resolved=frozenset({1}))
    assert Change.from_json(merged.as_json()) == merged
