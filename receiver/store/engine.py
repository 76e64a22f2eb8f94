"""Engine set-up and the write transaction: the one place where SQLite and Postgres differ.

Writes are plain synchronous SQLAlchemy code (`work(connection)`), run in one transaction
each, so that the same code serves both databases:

- **Postgres**: `AsyncConnection.run_sync` runs the work over asyncpg. Writers must never
  interleave on the same alert or group, so the transaction first takes advisory locks
  on the fingerprints and groups it touches, in sorted order so that concurrent writers
  cannot deadlock on them. Deadlocks elsewhere and serialization failures are retried.
- **SQLite**: one writer thread with its own pysqlite connection runs the work directly:
  no thread hop per statement. It does group commit: whatever work queued up while the
  previous transaction ran goes into the next one, and every caller is answered only
  after the COMMIT. If one piece fails, the batch is rolled back and each piece runs
  again in a transaction of its own, so a bad piece fails alone.
  `BEGIN IMMEDIATE` keeps other processes on the same file out meanwhile.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

log = logging.getLogger(__name__)
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_WRITE_ATTEMPTS = 3
_WAL_ATTEMPTS = 40


def create_engine(url: str, *, sqlite_synchronous: str = "NORMAL") -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine.sync_engine, sqlite_synchronous)
    return engine


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    # The driver's own transaction handling cannot do BEGIN IMMEDIATE; take it over.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("writer") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


async def use_wal(engine: AsyncEngine) -> None:
    """Put a SQLite file in WAL mode (it stays so). Switching needs the file to itself and
    SQLite answers "locked" at once rather than waiting, so replicas starting together on
    a new file take turns here."""
    if engine.dialect.name != "sqlite":
        return
    for attempt in range(_WAL_ATTEMPTS):
        try:
            async with engine.connect() as conn:  # the pragma must run outside a transaction
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None
                async with raw.execute("PRAGMA journal_mode=WAL") as cursor:
                    row = await cursor.fetchone()
                if row is not None and row[0] == "wal":
                    return
        except (OperationalError, sqlite3.OperationalError) as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS - 1:
                raise
        await asyncio.sleep(0.05 * (attempt + 1))
    raise OperationalError("PRAGMA journal_mode=WAL", None, Exception("WAL mode not taken"))


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key; a collision only costs some waiting."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Writer:
    """Runs write transactions with the right exclusion and retries for the dialect."""

    def __init__(self, engine: AsyncEngine, sqlite_synchronous: str = "NORMAL") -> None:
        self.engine = engine
        self._group: _GroupCommit | None = None
        if engine.dialect.name == "sqlite":
            sync = create_sync_engine(
                engine.url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0
            )
            _configure_sqlite(sync, sqlite_synchronous)
            self._group = _GroupCommit(sync)

    async def run(self, keys: Iterable[int], work: Callable[[Connection], T]) -> T:
        """Run `work(connection)` in a transaction; answer after it committed."""
        if self._group is not None:
            return await self._group.submit(work)
        keys = sorted(set(keys))
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                async with self.engine.begin() as conn:
                    if keys:
                        await conn.execute(_ADVISORY_LOCKS, {"keys": keys})
                    return await conn.run_sync(work)
            except DBAPIError as exc:
                if attempt == _WRITE_ATTEMPTS or _sqlstate(exc) not in _RETRYABLE_SQLSTATES:
                    raise
                log.warning("write transaction conflicted (attempt %d), retrying", attempt)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._group is not None:
            await asyncio.to_thread(self._group.close)


_ADVISORY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(k) FROM "
    "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS s"
)
_MAX_GROUP = 256


@dataclass
class _Job:
    work: Callable[[Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = field(default=None)


class _GroupCommit:
    """The SQLite writer thread: batches of jobs, one COMMIT each batch."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="sqlite-writer", daemon=True)
        self._thread.start()

    async def submit(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        job = _Job(work, loop, loop.create_future())
        self._queue.put(job)
        result: T = await job.future
        return result

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._engine.dispose()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < _MAX_GROUP:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(job)
            self._commit(batch)

    def _commit(self, batch: list[_Job]) -> None:
        """All jobs in one transaction; if any fails, each again in a transaction of its
        own, so that one bad webhook fails alone. Failures are rare, so this is cheaper
        than a SAVEPOINT around every job."""
        try:
            self._transaction(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                for job in batch:
                    try:
                        self._transaction([job])
                    except Exception as alone:
                        job.error = alone
        for job in batch:
            job.loop.call_soon_threadsafe(_settle, job)

    def _transaction(self, jobs: list[_Job]) -> None:
        with self._engine.connect() as conn, conn.execution_options(writer=True).begin():
            for job in jobs:
                job.result = job.work(conn)


def _settle(job: _Job) -> None:
    if job.future.cancelled():
        return
    if job.error is not None:
        job.future.set_exception(job.error)
    else:
        job.future.set_result(job.result)


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
