"""Property tests of the parsers that read what strangers send: whatever the input, each
either answers or refuses with its own error, which the HTTP side turns into a 4xx. Any
other exception would be a 500, and for a webhook a retry loop."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import MultiDict
from pydantic import ValidationError

from receiver.domain.matchers import MatcherError, parse_matcher
from receiver.domain.wire import Webhook, fingerprint, parse_timestamp
from receiver.web.query import BadQuery, cursor_of, id_of, limit_of, time_of
from tests.payloads import alert, webhook

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.text())
def test_query_numbers(raw: str) -> None:
    for name in ("limit", "id"):
        try:
            value = limit_of(MultiDict(limit=raw)) if name == "limit" else id_of(raw)
        except BadQuery:
            continue
        assert 0 <= value < 2**63
        assert raw.isascii()


@given(st.text() | JSON.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode()))
def test_cursors(raw: str) -> None:
    try:
        position = cursor_of(MultiDict(cursor=raw))
    except BadQuery:
        return
    assert position is None or 0 <= position.id < 2**63


@given(st.text())
def test_query_times(raw: str) -> None:
    try:
        moment = time_of(MultiDict(since=raw), "since")
    except BadQuery:
        return
    assert moment is not None
    assert moment.utcoffset() is not None


@given(st.text())
def test_timestamps(raw: str) -> None:
    try:
        moment = parse_timestamp(raw)
    except ValueError:
        return
    assert moment is None or moment.utcoffset() is not None


@given(st.text(max_size=200))
def test_matchers(raw: str) -> None:
    try:
        matcher = parse_matcher(raw)
    except MatcherError:
        return
    assert matcher.matches({matcher.name: matcher.value}) in (True, False)
    assert parse_matcher(str(matcher)) == matcher, "a matcher prints as it parses"


@given(st.dictionaries(st.text(), st.text(), max_size=5))
def test_fingerprint_is_sixteen_hex_digits(labels: dict[str, str]) -> None:
    assert len(fingerprint(labels)) == 16


def mutated(body: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


PLACES: list[list[str | int]] = [
    ["receiver"],
    ["status"],
    ["alerts"],
    ["groupKey"],
    ["truncatedAlerts"],
    ["groupLabels"],
    ["alerts", 0, "labels"],
    ["alerts", 0, "annotations"],
    ["alerts", 0, "startsAt"],
    ["alerts", 0, "endsAt"],
    ["alerts", 0, "fingerprint"],
    ["alerts", 0, "status"],
    ["extra"],
]


@settings(max_examples=300)
@given(st.sampled_from(PLACES), JSON)
def test_webhook_payloads(path: list[str | int], value: Any) -> None:
    body = mutated(webhook(alert()), path, value)
    try:
        hook = Webhook.model_validate(body)
    except ValidationError:
        return
    assert all(a.starts_at is not None and len(a.fingerprint) <= 64 for a in hook.alerts)
