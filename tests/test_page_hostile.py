"""Alert text is written by whoever writes alerting rules, and read in browsers: markup,
attribute breakouts, `javascript:` links and huge values sent through POST /alerts
render as inert text on every page, on both databases."""

from __future__ import annotations

import re

from tests.conftest import MakeReceiver
from tests.pagehelp import acted, html
from tests.payloads import alert, webhook

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
HUGE = "A" * 100_000


def hostile_webhook() -> dict[str, object]:
    body = webhook(
        alert(
            SCRIPT,
            severity=BREAKOUT,
            instance=BREAKOUT,
            big=HUGE,
            annotations={
                "summary": SCRIPT,
                "description": BREAKOUT,
                "runbook_url": JS_URL,
                "dashboard": " JavaScript:alert(2)",
                "huge": HUGE,
            },
        ),
        receiver=SCRIPT,
        group=BREAKOUT,
    )
    body["alerts"][0]["generatorURL"] = JS_URL
    body["groupLabels"] = {"alertname": SCRIPT, "instance": BREAKOUT}
    body["externalURL"] = JS_URL
    return body


def assert_inert(page: str, name: str) -> None:
    assert SCRIPT not in page, name
    assert "<img" not in page, name
    assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", page, re.I), name
    assert not re.search(r"<[^>]*\sonerror\s*=", page, re.I), name


async def test_hostile_alerts_are_text_on_every_page(make_receiver: MakeReceiver) -> None:
    client = await make_receiver("", max_value_bytes=200_000)
    resp = await client.post("/alerts", json=hostile_webhook())
    assert resp.status == 200, await resp.text()
    await acted(client, 1, "note", SCRIPT, BREAKOUT)

    pages = {
        path: await html(client, path)
        for path in ("/", "/alerts", "/alerts/1", "/incidents", "/incidents/1")
    }
    pages["search"] = await html(client, "/alerts", q=SCRIPT, receiver=SCRIPT)
    pages["bad"] = await html(client, "/alerts", 400, status=SCRIPT)
    pages["bad matcher"] = await html(client, "/alerts", 400, filter=BREAKOUT)
    for name, page in pages.items():
        assert_inert(page, name)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/", "/alerts", "/alerts/1", "/incidents", "/incidents/1"):
        assert escaped in pages[path], path
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in pages["/alerts/1"]
    assert HUGE in pages["/alerts/1"]  # the detail page shows it whole, as text
    assert len(pages["/alerts"]) < 50_000  # lists cut it short
    assert f"<code>{JS_URL}</code>" in pages["/alerts/1"]  # the source, as text
    assert "Silence in Alertmanager" not in pages["/alerts/1"]  # no base to link to
    assert "search" in pages
    assert escaped in pages["search"]
