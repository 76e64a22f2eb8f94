"""SQLite's planner on the queries that must not walk the whole history: the dedup
lookup of a batch of fingerprints, "what is firing now", and retention's steps. (Postgres
plans from table statistics, so a plan check on a small test table would say nothing
there.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine as create_sync_engine

from receiver.store import reads, retention, schema
from receiver.store.engine import create_engine
from receiver.store.episodes import _LOAD as _LOAD_EPISODES
from receiver.store.reads import AlertQuery, _alert_conditions
from receiver.store.tables import alerts


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
    from sqlalchemy import select

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
