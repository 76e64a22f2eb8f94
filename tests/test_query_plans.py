"""The planner on the queries that must not walk the whole history: the dedup lookup of
a batch of fingerprints, "what is firing now", retention's steps (SQLite: Postgres plans
from table statistics, so a plan check on a small test table would say nothing there),
and every filter of the lists, on both databases (an index in the keyset's order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, select
from sqlalchemy import create_engine as create_sync_engine

from receiver.store import reads, retention, schema
from receiver.store.engine import create_engine
from receiver.store.episodes import _LOAD as _LOAD_EPISODES
from receiver.store.outbox import _WALKS
from receiver.store.reads import AlertQuery, _alert_conditions
from receiver.store.tables import alerts, incident_actions, incidents, notifications


def _plan(url: str, statement: Any, params: dict[str, object]) -> str:
    engine = create_sync_engine(url)
    try:
        with engine.connect() as conn:
            bound = statement.params(**params) if params else statement
            sql = str(bound.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
            return "\n".join(str(r[-1]) for r in rows)
    finally:
        engine.dispose()


async def _migrated(tmp_path: Path) -> str:
    async_url = f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}"
    engine = create_engine(async_url)
    await schema.upgrade(engine)
    await engine.dispose()
    return f"sqlite:///{tmp_path / 'plan.db'}"


async def test_dedup_lookup_uses_the_fingerprint_index(tmp_path: Path) -> None:
    url = await _migrated(tmp_path)
    fingerprints = [f"{i:016x}" for i in range(20)]
    oldest = datetime(2026, 1, 1, tzinfo=UTC)
    plan = _plan(url, _LOAD_EPISODES, {"fingerprints": fingerprints, "oldest": oldest})
    assert "sqlite_autoindex_alerts_1 (fingerprint=?)" in plan, plan
    assert "status" not in plan, plan  # no branch that walks every firing alert


async def test_firing_listing_uses_the_firing_index(tmp_path: Path) -> None:
    url = await _migrated(tmp_path)
    query = (
        select(alerts.c.id)
        .where(*_alert_conditions(AlertQuery(status="firing")))
        .order_by(alerts.c.starts_at.desc(), alerts.c.id.desc())
        .limit(51)
    )
    plan = _plan(url, query, {})
    assert "ix_alerts_firing_starts_at" in plan, plan


@pytest.mark.parametrize("sweep", [retention.ALERTS, retention.NOTIFICATIONS, retention.INCIDENTS])
async def test_retention_steps_walk_an_index_and_delete_by_key(
    tmp_path: Path, sweep: retention.Sweep
) -> None:
    url = await _migrated(tmp_path)
    cutoff = datetime(2026, 1, 1, tzinfo=UTC)
    window = _plan(url, sweep.window(cutoff, (cutoff - timedelta(days=1), 7), 500), {})
    assert f"USING COVERING INDEX ix_{sweep.table.name}_" in window, window
    assert "TEMP B-TREE" not in window, window  # the index's order, no sort
    deletion = _plan(url, sweep.deletion([1, 2, 3], cutoff), {})
    assert "SCAN" not in deletion, deletion  # by primary key; each check through an index


async def test_open_incidents_are_counted_on_the_open_group_index(tmp_path: Path) -> None:
    """/metrics counts them at every scrape: the cost follows the open ones only (either
    partial index of unresolved incidents serves)."""
    plan = _plan(await _migrated(tmp_path), reads.OPEN_INCIDENTS, {})
    unresolved = ("uq_incidents_open_group", "ix_incidents_unresolved_opened_at")
    assert any(f"USING INDEX {name}" in plan for name in unresolved), plan


async def _explain(url: str, statement: Any) -> str:
    """The plan of `statement` on the database of `url`. Postgres plans from statistics,
    and these test tables are empty, so there scans of the whole table, bitmaps and sorts
    are ruled out: what is checked is that an index serves the filter in the keyset's
    order (a sort left in the plan means none can)."""
    engine = create_engine(url)
    try:
        await schema.upgrade(engine)
        async with engine.connect() as conn:
            sql = str(
                statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            )
            if conn.dialect.name == "sqlite":
                rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)
            else:
                for path in ("seqscan", "bitmapscan", "sort"):
                    await conn.exec_driver_sql(f"SET enable_{path} = off")
                rows = await conn.exec_driver_sql("EXPLAIN " + sql)
            return "\n".join(str(r[-1]) for r in rows)
    finally:
        await engine.dispose()


_AFTER = reads.Position(datetime(2026, 11, 20, tzinfo=UTC), 12345)


@pytest.mark.parametrize("after", [None, _AFTER], ids=["first-page", "next-page"])
@pytest.mark.parametrize(
    ("table", "base", "index"),
    [
        (
            alerts,
            reads.alerts_of(AlertQuery(severity="critical")),
            "ix_alerts_severity_starts_at_id",
        ),
        (alerts, reads.alerts_of(AlertQuery(alertname="Disk")), "ix_alerts_alertname_starts_at_id"),
        (alerts, reads.alerts_of(AlertQuery(status="firing")), "ix_alerts_firing_starts_at"),
        (
            alerts,
            reads.alerts_of(AlertQuery(status="firing", severity="critical", alertname="Disk")),
            "ix_alerts_firing_starts_at",
        ),
        (alerts, reads.alerts_of(AlertQuery()), "ix_alerts_starts_at_id_fingerprint"),
        (incidents, reads.incidents_of("open", None), "ix_incidents_unresolved_opened_at"),
        (incidents, reads.incidents_of("acknowledged", None), "ix_incidents_unresolved_opened_at"),
        (incidents, reads.incidents_of(None, "pager"), "ix_incidents_receiver_opened_at_id"),
        (incidents, reads.incidents_of("resolved", None), "ix_incidents_opened_at_id"),
        (
            notifications,
            reads.notifications_of(None, "pager", None),
            "ix_notifications_channel_created_at_id",
        ),
        (
            notifications,
            reads.notifications_of(None, None, "failed"),
            "ix_notifications_status_created_at_id",
        ),
    ],
    ids=[
        "alerts-severity",
        "alerts-alertname",
        "alerts-firing",
        "alerts-firing-severity-alertname",
        "alerts",
        "incidents-open",
        "incidents-acknowledged",
        "incidents-receiver",
        "incidents-resolved",
        "notifications-channel",
        "notifications-status",
    ],
)
async def test_list_filters_walk_their_index_in_order(
    database_url: str, table: Table, base: Any, index: str, after: reads.Position | None
) -> None:
    time_name = {"alerts": "starts_at", "incidents": "opened_at"}.get(table.name, "created_at")
    plan = await _explain(database_url, reads.newest_first(base, table, time_name, after, 51))
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # SQLite: the index's order, no sort
    assert "Sort" not in plan, plan  # Postgres: likewise


async def test_receiver_filter_looks_up_memberships_by_alert(database_url: str) -> None:
    """Alerts of a receiver: the time index, and per alert its memberships by alert id,
    never every incident of the receiver (nor all their memberships) first."""
    base = reads.alerts_of(AlertQuery(receiver="pager"))
    plan = await _explain(database_url, reads.newest_first(base, alerts, "starts_at", None, 51))
    assert "ix_alerts_starts_at_id_fingerprint" in plan, plan
    assert "ix_incident_alerts_alert_id" in plan, plan
    assert "ix_incidents_receiver" not in plan, plan
    assert "Sort" not in plan, plan
    assert "TEMP B-TREE" not in plan, plan


async def test_acknowledgements_of_a_period_use_the_kind_index(database_url: str) -> None:
    """What time to acknowledge (MTTA) over a period reads."""
    since = datetime(2026, 11, 1, tzinfo=UTC)
    query = select(incident_actions.c.incident_id, incident_actions.c.at).where(
        incident_actions.c.kind == "acknowledged", incident_actions.c.at >= since
    )
    plan = await _explain(database_url, query)
    assert "ix_incident_actions_kind_at" in plan, plan


async def test_a_claim_finds_the_pairs_in_flight_once(database_url: str) -> None:
    """A claim skips incident-and-channel pairs being sent now. Asked once per claim (an
    uncorrelated subquery), not once per due row: Postgres's generic plan of the
    correlated form, made while the table was nearly empty, turned a storm of 2,000
    notifications into 0.4 s a claim."""
    now = datetime(2026, 12, 4, tzinfo=UTC)
    for walk in _WALKS[False]:
        plan = await _explain(database_url, walk.params(now=now, limit=8))
        if database_url.startswith("sqlite"):
            assert "CORRELATED" not in plan, plan  # SQLite: the list is built once
        else:
            assert "hashed SubPlan" in plan, plan  # Postgres: a hash of the pairs, once
