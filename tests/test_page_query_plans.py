"""SQLite's planner on the reads the pages added: each runs on an index and none walks
the whole history (Postgres plans from statistics, so a small test table says nothing
there). The statements are caught as the real read functions send them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

from receiver.domain.insights import parse_window
from receiver.store import insights, reads, schema
from receiver.store.engine import create_engine

Read = Callable[[AsyncConnection], Awaitable[Any]]


async def _plans(tmp_path: Path, read: Read) -> str:
    path = tmp_path / "plan.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await schema.upgrade(engine)
    sent: list[tuple[str, Any]] = []

    def caught(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", caught)
    async with engine.connect() as conn:
        await read(conn)
    await engine.dispose()
    sync = create_sync_engine(f"sqlite:///{path}")
    try:
        with sync.connect() as planner:
            return "\n".join(
                str(row[-1])
                for statement, params in sent
                for row in planner.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            )
    finally:
        sync.dispose()


SINCE = datetime(2026, 1, 1, tzinfo=UTC)
MONTH = parse_window("30d", None, None, datetime(2026, 1, 31, 12, tzinfo=UTC))
WEEK = parse_window("7d", None, None, datetime(2026, 1, 31, 12, tzinfo=UTC))


@pytest.mark.parametrize(
    ("read", "index"),
    [
        (lambda c: reads.unresolved_incidents(c, 500), "ix_incidents_unresolved_opened_at"),
        (lambda c: reads.recently_resolved(c, 10), "ix_incidents_resolved_at"),
        (
            lambda c: reads.failed_notifications_since(c, SINCE),
            "ix_notifications_status_due_at (status=? AND due_at>?)",
        ),
        (lambda c: reads.episodes_of(c, "abc", 50), "sqlite_autoindex_alerts_1 (fingerprint=?)"),
        (lambda c: reads.incident_events(c, 1, 1000), "(incident_id=?)"),
        (lambda c: reads.incidents_by_id(c, [1, 2]), "INTEGER PRIMARY KEY (rowid=?)"),
    ],
)
async def test_the_pages_reads_use_an_index(tmp_path: Path, read: Read, index: str) -> None:
    plan = await _plans(tmp_path, read)
    assert index in plan, plan
    # A scan only over the partial index of unresolved incidents, or an index walked
    # from its newest end under a LIMIT; never a sort of the whole table.
    walks = [line for line in plan.splitlines() if line.startswith("SCAN")]
    assert all(" USING INDEX " in line for line in walks), plan
    assert "TEMP B-TREE" not in plan or "incident_id=?" in plan, plan


@pytest.mark.parametrize(
    ("read", "index"),
    [
        (
            lambda c: insights.names(c, MONTH),
            "alert_days USING PRIMARY KEY (day>? AND day<?)",
        ),
        (
            lambda c: insights.volume(c, MONTH),
            "severity_hours USING PRIMARY KEY (hour>? AND hour<?)",
        ),
        (
            lambda c: insights.flapping(c, SINCE, MONTH.until, 3, 50),
            "COVERING INDEX ix_alerts_starts_at_id_fingerprint",
        ),
        (
            lambda c: insights.response_times(c, SINCE, MONTH.until),
            "ix_incidents_opened_at_id (opened_at>? AND opened_at<?)",
        ),
        (
            lambda c: reads.newest_alert_groups(c, SINCE, ["alertname"], 5000),
            "ix_alerts_starts_at_id_fingerprint (starts_at>?)",
        ),
    ],
)
async def test_insights_and_coverage_read_ranges_and_bounded_walks(
    tmp_path: Path, read: Read, index: str
) -> None:
    """Rollup ranges and walks from the newest end under a LIMIT; what they group
    (a temporary B-tree over the bounded rows) may be sorted, no table is scanned."""
    plan = await _plans(tmp_path, read)
    assert index in plan, plan
    tables = (
        "alerts",
        "alert_hours",
        "alert_days",
        "severity_hours",
        "incidents",
        "incident_actions",
    )
    assert not any(line.startswith(f"SCAN {t}") for t in tables for line in plan.splitlines()), plan


async def test_the_volume_chart_sums_the_rollup_in_its_key_order(tmp_path: Path) -> None:
    """A week's chart sums the hourly rows by (hour, severity): their rollup is keyed (and
    on SQLite clustered) in that order, so nothing is sorted and nothing else read."""
    plan = await _plans(tmp_path, lambda c: insights.volume(c, WEEK))
    assert plan.splitlines() == ["SEARCH severity_hours USING PRIMARY KEY (hour>? AND hour<?)"], (
        plan
    )
