"""Routing and delivery policy as pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from receiver.domain.change import Change
from receiver.domain.routing import (
    Planned,
    Route,
    matching_routes,
    plan,
    reminders_due,
    routing_labels,
)
from receiver.notify.policy import Breaker, Delivery, Verdict, classify, retry_at
from receiver.store.outbox import Claimed

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def route(*match: str, channels: tuple[str, ...] = ("c",), **options: object) -> Route:
    return Route.model_validate({"match": list(match), "channels": list(channels), **options})


ROUTES = [
    route('severity="critical"', channels=("pager", "chat"), **{"continue": True}),
    route('receiver="db"', channels=("db-chat", "chat")),
    route(channels=("default",)),
]


def test_first_match_wins_unless_continue() -> None:
    labels = routing_labels({"severity": "critical"}, "db")
    assert [i for i, _ in matching_routes(ROUTES, labels)] == [0, 1]
    assert [i for i, _ in matching_routes(ROUTES, routing_labels({}, "web"))] == [2]
    assert [i for i, _ in matching_routes(ROUTES, routing_labels({}, "db"))] == [1]


def test_receiver_is_a_pseudo_label_that_a_real_label_cannot_forge() -> None:
    assert routing_labels({"receiver": "forged"}, "real")["receiver"] == "real"


def test_one_message_per_channel_even_across_continued_routes() -> None:
    matched = matching_routes(ROUTES, routing_labels({"severity": "critical"}, "db"))
    planned = plan(Change(opened=True), matched)
    assert [(p.route_index, p.channel) for p in planned] == [
        (0, "pager"),
        (0, "chat"),
        (1, "db-chat"),
    ]


def test_resolution_news_only_where_send_resolved() -> None:
    quiet = [(0, route(channels=("a",), send_resolved=False)), (1, route(channels=("b",)))]
    assert [p.channel for p in plan(Change(resolved=frozenset({1})), quiet)] == ["b"]
    assert [p.channel for p in plan(Change(opened=True), quiet)] == ["a", "b"]
    assert plan(Change(), quiet) == []


def test_backoff_grows_is_capped_and_jittered() -> None:
    d = Delivery.model_validate({"backoff": "10s", "max_backoff": "1m", "max_attempts": 10})
    waits = [retry_at(n, NOW, NOW, d, lambda: 1.0) for n in (1, 2, 3, 4, 5)]
    assert [w - NOW for w in waits if w] == [timedelta(seconds=s) for s in (10, 20, 40, 60, 60)]
    half = retry_at(1, NOW, NOW, d, lambda: 0.0)
    assert half == NOW + timedelta(seconds=5)


def test_gives_up_on_attempts_or_age() -> None:
    d = Delivery.model_validate({"max_attempts": 3, "max_age": "1h"})
    assert retry_at(2, NOW, NOW, d, lambda: 0.5) is not None
    assert retry_at(3, NOW, NOW, d, lambda: 0.5) is None
    assert retry_at(1, NOW - timedelta(hours=1), NOW, d, lambda: 0.5) is None


def test_breaker_opens_cools_down_and_probes_once() -> None:
    breaker = Breaker(failures=2, cooldown=timedelta(seconds=30))
    assert breaker.allow("chat", NOW)
    breaker.record("chat", False, NOW)
    assert breaker.closed_to(NOW) == set()
    breaker.record("chat", False, NOW)
    assert breaker.closed_to(NOW) == {"chat"}
    assert not breaker.allow("chat", NOW + timedelta(seconds=10))
    later = NOW + timedelta(seconds=31)
    assert breaker.closed_to(later) == set()
    assert breaker.allow("chat", later)  # the probe
    assert not breaker.allow("chat", later)  # only one at a time
    assert breaker.closed_to(later) == {"chat"}
    breaker.record("chat", False, later)  # probe failed: another cool-down
    assert breaker.reopens_at("chat") == later + timedelta(seconds=30)
    final = later + timedelta(seconds=31)
    assert breaker.allow("chat", final)
    breaker.record("chat", True, final)
    assert breaker.allow("chat", final)
    assert breaker.closed_to(final) == set()
    assert breaker.allow("other", NOW)  # one channel's trouble is its own


def test_reminders_after_the_interval_per_channel_since_its_last_message() -> None:
    hourly = route(channels=("chat", "mail"), repeat_interval="1h")
    matched = [(0, hourly), (1, route(channels=("quiet",)))]
    opened = NOW - timedelta(hours=2)
    recent = {"chat": NOW - timedelta(minutes=10), "mail": NOW - timedelta(hours=1)}
    assert reminders_due(matched, opened, recent, NOW) == [Planned(0, "mail")]
    assert reminders_due(matched, opened, {}, NOW) == [Planned(0, "chat"), Planned(0, "mail")]
    assert reminders_due(matched, NOW - timedelta(minutes=59), {}, NOW) == []


def claimed(attempts: int = 0, kind: str = "change", channel: str = "chat") -> Claimed:
    return Claimed(1, 2, channel, 0, kind, Change(opened=True), attempts, NOW, "r1", NOW)


POLICY = Delivery.model_validate({"backoff": "10s", "max_attempts": 3})
WITH_FALLBACK = route(channels=("chat",), fallback="mail")


def test_classify_delivered() -> None:
    verdict = classify(True, claimed(), WITH_FALLBACK, NOW, POLICY, None, lambda: 1.0)
    assert verdict == Verdict(True, None, None)


def test_classify_retries_with_backoff_but_not_before_the_breaker_reopens() -> None:
    soon = classify(False, claimed(), WITH_FALLBACK, NOW, POLICY, None, lambda: 1.0)
    assert soon == Verdict(False, NOW + timedelta(seconds=10), None)
    reopens = NOW + timedelta(minutes=1)
    held = classify(False, claimed(), WITH_FALLBACK, NOW, POLICY, reopens, lambda: 1.0)
    assert held == Verdict(False, reopens, None)


def test_classify_gives_up_to_the_fallback_once() -> None:
    last = claimed(attempts=2)
    assert classify(False, last, WITH_FALLBACK, NOW, POLICY, None, lambda: 1.0) == Verdict(
        False, None, "mail"
    )
    fallback = claimed(attempts=2, kind="fallback", channel="mail")
    assert classify(False, fallback, WITH_FALLBACK, NOW, POLICY, None, lambda: 1.0) == Verdict(
        False, None, None
    ), "a fallback never falls back again"
    itself = route(channels=("chat",), fallback="chat")
    assert classify(False, last, itself, NOW, POLICY, None, lambda: 1.0).fallback is None
    assert classify(False, last, None, NOW, POLICY, None, lambda: 1.0).fallback is None
