"""One rule for links (strip, then http or https only), the same in the API and in
messages."""

from __future__ import annotations

from typing import Any

import pytest

from receiver.domain.links import runbook_links, safe_link
from tests.conftest import MakeReceiver
from tests.payloads import alert, webhook
from tests.sinks import JsonSink, eventually


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://wiki/rb", "https://wiki/rb"),
        ("  HTTP://wiki/rb\n", "HTTP://wiki/rb"),
        ("javascript:alert(1)", None),
        (" javascript:alert(1)", None),
        ("data:text/html,x", None),
        ("//evil", None),
        ("", None),
    ],
)
def test_safe_link(url: str, link: str | None) -> None:
    assert safe_link(url) == link


async def test_a_runbook_url_with_leading_space_is_one_link_in_api_and_message(
    make_receiver: MakeReceiver, json_sink: JsonSink
) -> None:
    client = await make_receiver(
        f'channels:\n  chat: "{json_sink.url()}"\nroutes:\n  - channels: [chat]\n'
    )
    annotations = {"summary": "p95 high", "runbook_url": "  https://wiki/rb"}
    assert runbook_links(annotations) == [("runbook_url", "https://wiki/rb")]
    resp = await client.post("/alerts", json=webhook(alert(annotations=annotations)))
    assert resp.status == 200, await resp.text()

    listed: dict[str, Any] = await (await client.get("/api/v1/alerts")).json()
    [stored] = listed["alerts"]
    external = [r["url"] for r in stored["runbooks"] if r["external"]]
    assert external == ["https://wiki/rb"]

    await eventually(lambda: len(json_sink.received) == 1, "the opening message")
    message = json_sink.received[0]["message"]
    assert "[runbook](https://wiki/rb)" in message
