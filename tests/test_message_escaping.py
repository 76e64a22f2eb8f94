"""Alert text reaches people as text: never live Markdown, HTML or a non-http(s) link,
read by Apprise's own Markdown to HTML (email) and by CommonMark (what chat dialects
build on), and in a real email."""

from __future__ import annotations

import html
import re
import string
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from apprise.conversion import markdown_to_html
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from receiver.domain.change import Change
from receiver.domain.views import AlertView, IncidentView
from receiver.notify.channels import Message, markdown_text, send
from receiver.notify.render import render
from tests.conftest import MakeReceiver
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, SmtpSink, eventually

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=2)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[click](javascript:alert(1))"
HOSTILE = {
    "summary": f"{SCRIPT} CPU > 90% on api_1",
    "description": f"{IMG}\n{LINK}\n- not a list\n<b onmouseover=alert(1)>x</b>",
    "runbook_url": "javascript:alert(1)",
}
BREAKOUT = "http://prometheus:9090/graph?x=1) [y](javascript:alert(1)"


def assert_inert_html(text: str) -> None:
    """No element a browser would run or load, no handler, no javascript: target."""
    assert "<script" not in text.lower()
    assert "<img" not in text.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", text, re.IGNORECASE), text
    assert not re.search(r"\b(?:href|src)\s*=\s*[\"']?\s*javascript:", text, re.IGNORECASE)


class _Unfiltered(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return True  # markdown-it drops javascript: links itself; Apprise's parser does not


def commonmark(text: str) -> str:
    """CommonMark with raw HTML on and every link target allowed: nothing filters."""
    rendered: str = _Unfiltered("commonmark", {"html": True}).render(text)
    return rendered


def assert_inert_markdown(text: str) -> None:
    """No HTML and no link to anything but http(s) live in the Markdown, by either parser."""
    for converted in (markdown_to_html(text), commonmark(text)):
        assert_inert_html(converted)
        targets = re.findall(r"href=\"([^\"]*)\"", converted)
        assert len(targets) == converted.count("href=")
        assert all(t.startswith(("http://", "https://")) for t in targets), targets


def hostile_incident() -> IncidentView:
    bad = AlertView(
        id=1,
        status="firing",
        labels={"alertname": "Hot", "pod": "<b onclick=alert(1)>api-1</b>", "x": "`<script>`"},
        annotations=HOSTILE,
        starts_at=START,
        ends_at=None,
        end_inferred=False,
        generator_url=BREAKOUT,
    )
    good = replace(
        bad,
        id=2,
        labels={"alertname": "Hot", "pod": "api-2"},
        annotations={"summary": "p95 above 500ms"},
        generator_url="http://prometheus:9090/graph?g=1",
    )
    return IncidentView(
        id=7,
        status="open",
        receiver="team <i>a</i>",
        group_labels={"alertname": "Hot"},
        common_labels={"alertname": "Hot", "severity": "crit`ical</code><script>x</script>"},
        alertmanager_url="http://alertmanager:9093",
        opened_at=START,
        resolved_at=None,
        alerts=[bad, good],
    )


@pytest.mark.parametrize(
    "text",
    ["CPU > 90% on api_1", "P95 latency 740ms on api-1", "10.0.0.1:9100", "a & b", "50% of /var"],
)
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert markdown_text(text) == text


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=string.ascii_letters[:4] + "1 é" + string.punctuation, max_size=30))
def test_escaped_text_reads_as_itself_after_markdown_to_html(text: str) -> None:
    text = text.strip()
    assume(text)
    escaped = markdown_text(text)
    shown = html.escape(text, quote=False)
    quoted = shown.replace('"', "&quot;")  # markdown-it writes quotes as entities
    assert commonmark(escaped) == f"<p>{quoted}</p>\n"
    # Python-Markdown keeps anything shaped like an entity as one, escaped or not.
    assume(not re.search(r"&#|&\w+;", text))
    assert markdown_to_html(escaped) == f"<p>{shown}</p>"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab1 \r\n\t" + string.punctuation, max_size=40))
def test_escaped_lines_make_no_markup_but_breaks(text: str) -> None:
    escaped = markdown_text(text)
    for converted in (markdown_to_html(escaped), commonmark(escaped)):
        tags = set(re.findall(r"</?([a-z0-9]+)", converted))
        assert tags <= {"p", "br", "pre", "code"}  # an indented line is a code block: text


def test_hostile_alert_text_is_inert_in_the_body_and_its_html() -> None:
    message = render(hostile_incident(), Change(opened=True), "https://alerts.example.com", NOW)
    assert_inert_markdown(message.body)
    converted = markdown_to_html(message.body)
    # Shown as the text it is...
    assert "&lt;script&gt;alert(1)&lt;/script&gt; CPU &gt; 90% on api_1" in converted
    assert "[click](javascript:alert(1))" in converted
    assert converted.count("<li>") == 2  # our list of the two alerts, no other
    assert "- not a list" in converted
    assert "<code>team &lt;i&gt;a&lt;/i&gt;</code>" in converted
    assert "crit`ical&lt;/code&gt;&lt;script&gt;x&lt;/script&gt;</code>" in converted
    # ...while our own Markdown stays Markdown, and links stay what they point to.
    assert "<strong>New incident #7:</strong>" in converted
    assert '<a href="http://prometheus:9090/graph?g=1">source</a>' in converted
    assert (
        '<a href="http://prometheus:9090/graph?x=1%29%20[y]%28javascript:alert%281%29">source</a>'
        in converted
    )
    assert '<a href="https://alerts.example.com/incidents/7">incident</a>' in converted
    assert converted.count("<a href=") == 7  # 2 sources, 2 silences, incident, group, AM
    assert "runbook" not in converted  # javascript: never becomes a link


def test_route_templates_escape_alert_text_by_default() -> None:
    body = (
        "{% for a in alerts %}{{ a.summary }} {{ a.annotations.description|upper }} "
        "{{ a.labels.pod|safe }} {{ a.labels.pod ~ a.links }} [graph]({{ a.source_url }})\n"
        "{% endfor %}"
    )
    message = render(hostile_incident(), Change(), "", NOW, "{{ incident.name }}", body)
    assert_inert_markdown(message.body)  # |safe and ~ included: they make plain text
    converted = markdown_to_html(message.body)
    assert "&lt;IMG SRC=X ONERROR=ALERT(1)&gt;" in converted
    assert '<a href="http://prometheus:9090/graph?g=1">graph</a>' in converted


def test_titles_are_plain_text() -> None:
    name = {"alertname": "a_<b>*"}
    incident = replace(hostile_incident(), group_labels=name, common_labels=name)
    assert render(incident, Change(), "", NOW).title == "[FIRING:2] a_<b>*"
    own = render(incident, Change(), "", NOW, "{{ incident.name }} [{{ firing|length }}]")
    assert own.title == "a_<b>* [2]"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a`b\n\n<i>x</i>", "<code>a`b &lt;i&gt;x&lt;/i&gt;</code>"),  # one line, one span
        ("`x`", "<code>`x`</code>"),
        ("_*[x](javascript:y)", "<code>_*[x](javascript:y)</code>"),
    ],
)
def test_code_spans_show_values_exactly(value: str, shown: str) -> None:
    incident = replace(hostile_incident(), receiver=value)
    message = render(incident, Change(), "", NOW, None, "{{ incident.receiver|code }}")
    assert_inert_markdown(message.body)
    assert markdown_to_html(message.body) == f"<p>{shown}</p>"


async def test_each_service_gets_the_title_in_the_form_it_reads(json_sink: JsonSink) -> None:
    title = f"[FIRING:1] {SCRIPT} {LINK} api_1"
    assert json_sink.server is not None
    folds = f"rocket://hook/abc@127.0.0.1:{json_sink.server.port}"  # a Rocket.Chat webhook
    outcome = await send(
        [json_sink.url(), folds], Message(title, "**body**", "warning"), timedelta(seconds=5), str
    )
    assert outcome.ok, outcome.error
    by_path = {m["path"]: m for m in json_sink.received}
    assert by_path["/hook"]["title"] == title  # json:// shows its title as text
    folded = by_path["/hooks/hook/abc"]["text"]  # Rocket.Chat folds it into the Markdown
    assert folded == f"# {markdown_text(title)}\n**body**"
    assert_inert_markdown(folded)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; [click](javascript:alert(1)) api_1" in (
        markdown_to_html(folded)
    )


async def test_email_from_a_hostile_alert_is_inert_and_reads_well(
    make_receiver: MakeReceiver, smtp_sink: SmtpSink
) -> None:
    client = await make_receiver(
        f'channels:\n  mail: "{smtp_sink.url()}"\nroutes:\n  - channels: [mail]\n'
    )
    hot = alert("Hot_<b>x</b>", annotations=HOSTILE, pod="<b onclick=alert(1)>p</b>")
    hot["generatorURL"] = BREAKOUT
    resp = await client.post("/alerts", json=webhook(hot, group="Hot_<b>x</b>"))
    assert resp.status == 200, await resp.text()
    await eventually(lambda: len(smtp_sink.mailbox.messages) == 1, "the email")
    mail = smtp_sink.mailbox.messages[0]
    assert mail["Subject"] == "[FIRING:1] Hot_<b>x</b> (warning)"
    html_part = mail.get_body(("html",))
    text_part = mail.get_body(("plain",))
    assert html_part is not None
    assert text_part is not None
    content, text = html_part.get_content(), text_part.get_content()
    assert_inert_html(content)
    assert "\\" not in content  # no escape shows
    assert "\\" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; CPU &gt; 90% on api_1" in content
    assert "<script>alert(1)</script> CPU > 90% on api_1" in text
    assert "<strong>New incident #1:</strong>" in content
    assert '<a href="http://prometheus:9090/graph?x=1%29%20[y]%28javascript' in content
