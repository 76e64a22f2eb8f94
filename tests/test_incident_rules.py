"""The incident rules as pure decisions: plain data in, plain data out, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from receiver.domain import incidents as rules
from receiver.domain.change import Change
from receiver.domain.lifecycle import FIRING, RESOLVED, Episode

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=5)


def episode(alert_id: int | None, status: str = FIRING) -> Episode:
    return Episode(alert_id, f"fp{alert_id}", EARLIER, status, None, False, {})


def test_carried_alerts_join_except_those_held() -> None:
    held, new, resolved = episode(1), episode(2), episode(3, RESOLVED)
    attached = rules.attach([held, new, resolved], {held})
    assert attached == [new, resolved]
    assert rules.joining(attached) == [new], "only firing alerts are news as joined"
    assert rules.ids(rules.joining(attached)) == frozenset({2})


def test_new_episodes_without_ids_are_never_reported_as_joined() -> None:
    assert rules.ids(rules.joining([episode(None)])) == frozenset()


def test_a_firing_alert_or_a_truncated_firing_snapshot_keeps_the_incident_open() -> None:
    assert not rules.may_close([episode(1), episode(2, RESOLVED)], truncated=False)
    assert not rules.may_close([episode(2, RESOLVED)], truncated=True)
    assert rules.may_close([episode(2, RESOLVED)], truncated=False)
    assert rules.may_close([], truncated=False)


def test_opening_reports_opened_and_joined() -> None:
    settled = rules.settle(7, rules.OPEN, True, frozenset({1, 2}), {}, {})
    assert settled.status == rules.OPEN
    assert settled.resolve == {}
    assert settled.changes == {7: Change(opened=True, joined=frozenset({1, 2}))}


def test_a_repeat_reports_nothing() -> None:
    settled = rules.settle(7, rules.OPEN, False, frozenset(), {}, {})
    assert settled.changes == {}
    assert settled.status == rules.OPEN


def test_resolves_when_no_member_fires_at_the_latest_end() -> None:
    standing = rules.Standing(rules.OPEN, firing=0, last_end=NOW)
    settled = rules.settle(7, rules.OPEN, False, frozenset(), {7: frozenset({1})}, {7: standing})
    assert settled.status == RESOLVED
    assert settled.resolve == {7: NOW}
    assert settled.changes == {7: Change(resolved=frozenset({1}), incident_resolved=True)}


def test_stays_open_while_a_member_fires_but_reports_the_resolution() -> None:
    standing = rules.Standing(rules.OPEN, firing=1, last_end=None)
    settled = rules.settle(7, rules.OPEN, False, frozenset(), {7: frozenset({1})}, {7: standing})
    assert settled.status == rules.OPEN
    assert settled.resolve == {}
    assert settled.changes == {7: Change(resolved=frozenset({1}))}


def test_own_incident_left_out_of_standings_stays_as_it_is() -> None:
    """A caller leaves its own incident out when may_close says no (truncated snapshot)."""
    settled = rules.settle(7, rules.ACKNOWLEDGED, False, frozenset(), {7: frozenset({1})}, {})
    assert settled.status == rules.ACKNOWLEDGED
    assert settled.resolve == {}
    assert settled.changes == {7: Change(resolved=frozenset({1}))}


def test_a_newer_episode_can_close_another_groups_incident() -> None:
    """An alert resolved by a newer episode (of another group's webhook) closes the
    incident that held it; the webhook's own group reports what it opened."""
    other = rules.Standing(rules.OPEN, firing=0, last_end=EARLIER)
    settled = rules.settle(9, rules.OPEN, True, frozenset({5}), {3: frozenset({4})}, {3: other})
    assert settled.status == rules.OPEN
    assert settled.resolve == {3: EARLIER}
    assert settled.changes == {
        3: Change(resolved=frozenset({4}), incident_resolved=True),
        9: Change(opened=True, joined=frozenset({5})),
    }


def test_late_history_opens_and_resolves_at_once() -> None:
    standing = rules.Standing(rules.OPEN, firing=0, last_end=NOW)
    settled = rules.settle(7, rules.OPEN, True, frozenset(), {7: frozenset({1})}, {7: standing})
    assert settled.changes == {
        7: Change(opened=True, resolved=frozenset({1}), incident_resolved=True)
    }


def test_no_incident_no_answer() -> None:
    settled = rules.settle(None, rules.OPEN, False, frozenset(), {}, {})
    assert settled == rules.Settled(None, {}, {})
