"""SQLite's write-ahead log is copied back into the database file off the commit path, and
stays bounded under steady writes. SQLite only: Postgres has no such log to manage."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection

from receiver.store import engine as engine_module
from receiver.store.engine import Writer, create_engine

PAGE = 4096


def _fresh_database(path: Path) -> str:
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the table itself is in the file
    raw.close()
    return f"sqlite+aiosqlite:///{path}"


def _insert_blobs(count: int) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        conn.exec_driver_sql(
            "INSERT INTO blobs (data) VALUES (?)", [(bytes(PAGE),) for _ in range(count)]
        )

    return work


def _rows_in_main_file(path: Path, scratch: Path) -> int:
    """Rows a reader of the database file alone would see: what checkpoints copied there."""
    shutil.copyfile(path, scratch)
    raw = sqlite3.connect(scratch)
    try:
        return int(raw.execute("SELECT count(*) FROM blobs").fetchone()[0])
    finally:
        raw.close()


async def test_commits_are_checkpointed_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    engine = create_engine(_fresh_database(path))
    writer = Writer(engine)
    try:
        await writer.run([], _insert_blobs(300))  # ~600 pages: below any automatic mark
        for _ in range(100):
            if _rows_in_main_file(path, tmp_path / "copy.db") == 300:
                break
            await asyncio.sleep(0.05)
        assert _rows_in_main_file(path, tmp_path / "copy.db") == 300
    finally:
        await writer.close()
        await engine.dispose()


def _log_bytes(path: Path) -> int:
    return Path(f"{path}-wal").stat().st_size


async def test_the_log_stays_bounded_under_steady_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "WRITER_AUTOCHECKPOINT_PAGES", 400)
    path = tmp_path / "w.db"
    engine = create_engine(_fresh_database(path))
    writer = Writer(engine)
    try:
        for _ in range(80):  # ~4,000 pages of log, one commit right after the other
            await writer.run([], _insert_blobs(50))
        # The log file keeps the largest size it ever reached (while a connection is open).
        # The writer's checkpoint is skipped when the background one holds the checkpoint
        # lock at that moment, so allow twice the mark; without the mark it is 1,000 pages.
        assert _log_bytes(path) <= (2 * 400 + 60) * (PAGE + 24) + 32
    finally:
        await writer.close()
        await engine.dispose()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT count(*) FROM blobs").fetchone()[0] == 80 * 50
    raw.close()
