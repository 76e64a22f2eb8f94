"""The alert rules as pure decisions: no server, no database."""

import copy
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from receiver.domain.lifecycle import (
    FIRING,
    RESOLVED,
    Episode,
    Outcome,
    apply_webhook,
    ending,
    is_plain,
)
from receiver.domain.wire import WireAlert
from tests.payloads import alert

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T0 = "2026-11-26T10:00:00Z"
T1 = "2026-11-26T11:00:00Z"


def wire(**kwargs: object) -> WireAlert:
    return WireAlert.model_validate(alert(**kwargs))  # type: ignore[arg-type]


def stored(w: WireAlert, status: str = FIRING, ends: datetime | None = None) -> Episode:
    return Episode(
        id=7,
        fingerprint=w.fingerprint,
        starts_at=w.start,
        status=status,
        ends_at=ends,
        end_inferred=False,
        annotations=dict(w.annotations),
    )


def test_first_delivery_is_new_and_fired() -> None:
    [d] = apply_webhook([wire()], {}, NOW)
    assert d.outcome is Outcome.NEW
    assert d.episode.id is None
    assert d.episode.status == FIRING
    assert [e.kind for e in d.episode.events] == ["fired"]


def test_repeat_is_a_duplicate_with_no_event() -> None:
    w = wire()
    known = {w.fingerprint: [stored(w)]}
    [d] = apply_webhook([w], known, NOW)
    assert d.outcome is Outcome.DUPLICATE
    assert not d.episode.dirty
    assert not d.episode.events


def test_changed_annotations_update_and_are_recorded() -> None:
    w = wire()
    known = {w.fingerprint: [stored(w)]}
    [d] = apply_webhook([wire(annotations={"summary": "worse"})], known, NOW)
    assert d.outcome is Outcome.UPDATED
    assert d.episode.annotations == {"summary": "worse"}
    assert [e.kind for e in d.episode.events] == ["annotations_changed"]


def test_resolution_is_terminal_and_stale_firing_changes_nothing() -> None:
    w = wire()
    known = {w.fingerprint: [stored(w)]}
    [d] = apply_webhook([wire(status="resolved", ends=T1)], known, NOW)
    assert d.outcome is Outcome.RESOLVED
    assert d.episode.ends_at == datetime(2026, 11, 26, 11, tzinfo=UTC)
    d.episode.dirty.clear()
    d.episode.events.clear()
    [late] = apply_webhook([wire(annotations={"summary": "old copy"})], known, NOW)
    assert late.outcome is Outcome.STALE
    assert not late.carried
    assert late.episode.status == RESOLVED
    assert late.episode.annotations == {"summary": "HighLatencyP95 fired"}
    assert not late.episode.dirty
    assert not late.episode.events


def test_newer_episode_resolves_the_older_one_inferred() -> None:
    old = wire(starts=T0)
    known = {old.fingerprint: [stored(old)]}
    [d] = apply_webhook([wire(starts=T1)], known, NOW)
    assert d.outcome is Outcome.NEW
    older = known[old.fingerprint][0]
    assert older.status == RESOLVED
    assert older.end_inferred
    assert older.ends_at == datetime(2026, 11, 26, 11, tzinfo=UTC)
    assert [(e.kind, e.inferred) for e in older.events] == [("resolved", True)]


def test_firing_copy_older_than_a_known_episode_is_kept_resolved_and_stale() -> None:
    new = wire(starts=T1)
    known = {new.fingerprint: [stored(new)]}
    [d] = apply_webhook([wire(starts=T0)], known, NOW)
    assert d.outcome is Outcome.STALE
    assert d.episode.status == RESOLVED
    assert d.episode.end_inferred
    assert d.episode.ends_at == new.start
    assert known[new.fingerprint][0].status == FIRING  # the newer episode is untouched


def test_resolved_never_seen_firing_is_stored_resolved_with_its_timeline() -> None:
    [d] = apply_webhook([wire(status="resolved", ends=T1)], {}, NOW)
    assert d.outcome is Outcome.NEW
    assert d.episode.status == RESOLVED
    assert not d.episode.end_inferred
    assert [e.kind for e in d.episode.events] == ["fired", "resolved"]


def test_reported_end_replaces_an_inferred_one() -> None:
    w = wire()
    ep = stored(w, status=RESOLVED, ends=NOW)
    ep.end_inferred = True
    [d] = apply_webhook([wire(status="resolved", ends=T1)], {w.fingerprint: [ep]}, NOW)
    assert d.outcome is Outcome.UPDATED
    assert d.episode.ends_at == datetime(2026, 11, 26, 11, tzinfo=UTC)
    assert not d.episode.end_inferred


def test_resolved_without_end_time_ends_when_received() -> None:
    [d] = apply_webhook([wire(status="resolved")], {}, NOW)
    assert d.episode.ends_at == NOW


def test_one_episode_twice_in_a_payload_counts_once() -> None:
    delivered = apply_webhook([wire(), wire(annotations={"summary": "2nd"})], {}, NOW)
    assert len(delivered) == 1
    assert delivered[0].episode.annotations == {"summary": "2nd"}


def test_episodes_in_one_payload_are_judged_oldest_first() -> None:
    early, late = wire(starts=T0), wire(starts=T1)
    known: dict[str, list[Episode]] = {}
    delivered = apply_webhook([late, early], known, NOW + timedelta(hours=1))
    by_start = {d.episode.starts_at: d for d in delivered}
    assert by_start[late.start].outcome is Outcome.NEW
    assert by_start[early.start].episode.status == RESOLVED


STARTS = ["2026-11-26T09:00:00Z", T0, T1]
PLAIN = {Outcome.NEW, Outcome.DUPLICATE, Outcome.UPDATED, Outcome.RESOLVED}


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[WireAlert], dict[str, list[Episode]]]:
    """A webhook of up to three alerts (two instances, three starts) and whatever
    episodes of theirs are known, consistent or not."""
    alerts = [
        wire(
            instance=draw(st.sampled_from(["a", "b"])),
            starts=draw(st.sampled_from(STARTS)),
            status=draw(st.sampled_from([FIRING, RESOLVED])),
            ends=T1,
        )
        for _ in range(draw(st.integers(1, 3)))
    ]
    known: dict[str, list[Episode]] = {}
    for instance in ("a", "b"):
        for starts in draw(st.lists(st.sampled_from(STARTS), unique=True, max_size=3)):
            ep = stored(
                wire(instance=instance, starts=starts), draw(st.sampled_from([FIRING, RESOLVED]))
            )
            ep.end_inferred = ep.status == RESOLVED and draw(st.booleans())
            ep.ends_at = NOW if ep.status == RESOLVED else None
            known.setdefault(ep.fingerprint, []).append(ep)
    return alerts, known


@given(histories())
def test_a_plain_webhook_changes_only_what_it_carries(
    case: tuple[list[WireAlert], dict[str, list[Episode]]],
) -> None:
    """What lets the batch path write plain webhooks set-based: outcomes it knows, no
    episode changed that the webhook does not carry, no known end moved, and `ending`
    names exactly the episodes the webhook resolves."""
    alerts, known = case
    if not is_plain(alerts, known):
        return
    before = copy.deepcopy(known)
    ended = ending(alerts, known)
    delivered = apply_webhook(alerts, known, NOW)
    assert {d.outcome for d in delivered} <= PLAIN
    carried = {id(d.episode) for d in delivered}
    for fingerprint, episodes in before.items():
        for old, now in zip(episodes, known[fingerprint], strict=False):
            if id(now) not in carried:
                assert (now.status, now.ends_at, now.events) == (old.status, old.ends_at, [])
            if old.ends_at is not None:
                assert now.ends_at == old.ends_at
    assert {id(e) for e in ended} == {
        id(e) for episodes in known.values() for e in episodes if e.resolved_now
    }


def test_plain_or_not() -> None:
    firing, resolved = wire(), wire(status="resolved", ends=T1)
    ep = stored(firing)
    assert is_plain([firing], {})
    assert is_plain([firing], {firing.fingerprint: [ep]})
    assert is_plain([resolved], {firing.fingerprint: [ep]}), "a resolution of a firing alert"
    assert ending([resolved], {firing.fingerprint: [ep]}) == [ep]
    assert not is_plain([resolved], {}), "a late resolution: its group's history decides"
    assert not is_plain([], {})
    assert not is_plain([firing, firing], {})
    gone = stored(firing, status=RESOLVED, ends=NOW)
    assert is_plain([resolved], {firing.fingerprint: [gone]}), "a resolution repeated"
    gone.end_inferred = True
    assert not is_plain([resolved], {firing.fingerprint: [gone]}), "an inferred end corrected"
