"""Engine set-up and the write transaction: the one place where SQLite and Postgres differ.

Writes are plain synchronous SQLAlchemy code (`work(connection)`), so that the same code
serves both databases. They go through group commit: one task per process takes whatever
work queued up while the previous transaction ran and runs it in the next one; every
caller is answered only after the COMMIT. If one piece fails, the batch is rolled back and
each piece runs again in a transaction of its own, so a bad piece fails alone. Work that
can be done set-based (ingest) is handed over as a list of items of one batch function.

- **SQLite**: the transaction runs on one writer thread with its own pysqlite connection
  (no thread hop per statement). `BEGIN IMMEDIATE` keeps other processes on the file out.
- **Postgres**: `AsyncConnection.run_sync` runs it over asyncpg. Writers must never
  interleave on the same alert or group, so the transaction first takes advisory locks
  on the fingerprints and groups of every piece in it, in sorted order so that replicas
  cannot deadlock on them. Deadlocks elsewhere and serialization failures are retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from receiver.observe import QUIET, Observer
from receiver.store.checkpoint import WRITER_AUTOCHECKPOINT_PAGES, Checkpointer

log = logging.getLogger(__name__)
T = TypeVar("T")
Item = TypeVar("Item")
LockName = tuple[str, ...]

# Every wait on the database is bounded (connecting, a pooled connection, one statement,
# SQLite's write lock): a database that accepts and never answers would otherwise hold
# every webhook, read and readiness check for as long as the outage lasts.
DEFAULT_TIMEOUT = 10.0
# Migrations are bounded too, but by minutes: an index on a large table, or a replica
# waiting for another one's migration, legitimately takes longer than a webhook may.
MIGRATION_TIMEOUT = 600.0
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_WRITE_ATTEMPTS = 3
_WAL_ATTEMPTS = 40


def json_text(value: Any) -> str:
    """JSON columns as compact UTF-8 text: a tenth of `json.dumps`'s time per label set,
    and on SQLite the text search (LIKE over the stored text) sees non-ASCII as written
    rather than as \\u escapes."""
    return orjson.dumps(value).decode()


# Pooled read connections kept open: the outbox renders up to delivery.concurrency
# (default 8) messages at once, each reading its incident, beside the pages (/insights
# reads four things at once). With SQLAlchemy's default of 5, every read past the fifth
# opened a connection and closed it again (on SQLite a thread each: 73 of them in 25 s
# of an alert storm), and the storm drained at two thirds of the speed.
READ_POOL = 16


def create_engine(
    url: str, *, sqlite_synchronous: str = "NORMAL", timeout: float = DEFAULT_TIMEOUT
) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, json_serializer=json_text, pool_size=READ_POOL)
        _configure_sqlite(engine.sync_engine, sqlite_synchronous, timeout)
        return engine
    return create_async_engine(
        url,
        pool_size=READ_POOL,
        pool_pre_ping=True,
        pool_timeout=timeout,
        connect_args={"timeout": timeout, "command_timeout": timeout},
        json_serializer=json_text,
    )


async def on_own_connection(
    engine: AsyncEngine, read: Callable[[AsyncConnection], Awaitable[T]]
) -> T:
    """A read on a connection of its own, so that reads which share nothing can run at
    the same time (asyncio.gather). Postgres works on several at once; SQLite's threads
    overlap only while they aggregate, since each takes the GIL back for every row."""
    async with engine.connect() as conn:
        return await read(conn)


def create_sqlite_writer(url: URL, synchronous: str, timeout: float) -> Engine:
    """The writer thread's own synchronous pysqlite engine for the same file. Its automatic
    checkpoint is only a backstop: receiver.store.checkpoint does that work off the
    commit path."""
    engine = create_sync_engine(
        url.set(drivername="sqlite+pysqlite"),
        pool_size=1,
        max_overflow=0,
        json_serializer=json_text,
    )
    _configure_sqlite(engine, synchronous, timeout)

    @event.listens_for(engine, "connect")
    def _backstop(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT_PAGES}")

    return engine


def _configure_sqlite(engine: Engine, synchronous: str, timeout: float) -> None:
    # The driver's own transaction handling cannot do BEGIN IMMEDIATE; take it over.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
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
    """Runs write transactions with group commit and the right exclusion for the dialect.

    Work that queued up while the previous transaction ran goes into the next one; every
    caller is answered only after the COMMIT that holds its work.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        sqlite_synchronous: str = "NORMAL",
        observer: Observer = QUIET,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.engine = engine
        transaction: _Transaction
        if engine.dialect.name == "sqlite":
            transaction = _SqliteTransaction(
                create_sqlite_writer(engine.url, sqlite_synchronous, timeout),
                Checkpointer(str(engine.url.database)),
            )
        else:
            transaction = _PostgresTransaction(engine)
        self._group = _GroupCommit(transaction, observer)

    async def run(self, locks: Iterable[LockName], work: Callable[[Connection], T]) -> T:
        """Run `work(connection)` in a transaction; answer after it committed."""
        return await self.run_batched(locks, _each, work)

    async def run_batched(
        self,
        locks: Iterable[LockName],
        batch: Callable[[Connection, list[Item]], list[T]],
        item: Item,
    ) -> T:
        """Run `batch(connection, items)` over this item and any others submitted with the
        same `batch` function meanwhile, so that set-based work can serve them together.
        `batch` answers one result per item, in order, as if each had run alone in turn.
        `locks` name what the item writes, such as `("group", receiver, group_key)`; only
        Postgres needs them (advisory locks), so only Postgres hashes them."""
        job = _Job(batch, item, frozenset(locks), asyncio.get_running_loop().create_future())
        self._group.submit(job)
        result: T = await job.future
        return result

    @property
    def queued(self) -> int:
        """Jobs waiting for the next transaction (the one running not counted)."""
        return self._group.queued

    async def close(self) -> None:
        await self._group.close()


def _each(conn: Connection, works: list[Callable[[Connection], T]]) -> list[T]:
    return [work(conn) for work in works]


@dataclass(eq=False)
class _Job:
    batch: Callable[[Connection, list[Any]], list[Any]]
    item: Any
    locks: frozenset[LockName]
    future: asyncio.Future[Any]
    result: Any = None


def _run_jobs(conn: Connection, jobs: list[_Job]) -> None:
    """Consecutive jobs of the same batch function run as one call, in submission order."""
    start = 0
    while start < len(jobs):
        end = start + 1
        while end < len(jobs) and jobs[end].batch is jobs[start].batch:
            end += 1
        run = jobs[start:end]
        results = run[0].batch(conn, [job.item for job in run])
        for job, result in zip(run, results, strict=True):
            job.result = result
        start = end


class _Transaction(Protocol):
    async def __call__(self, jobs: list[_Job]) -> None: ...

    async def close(self) -> None: ...


_MAX_GROUP = 256


class _GroupCommit:
    """One task per process takes whatever jobs are queued and runs them in one
    transaction. If it fails, each job runs again in a transaction of its own, so that one
    bad webhook fails alone; failures are rare, so this is cheaper than a SAVEPOINT per job.
    When the database itself is away, every job fails at once instead.
    """

    def __init__(self, transaction: _Transaction, observer: Observer) -> None:
        self._transaction, self._observer = transaction, observer
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, job: _Job) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._serve(), name="group-commit")
        self._queue.put_nowait(job)

    async def close(self) -> None:
        if self._task is not None:
            self._queue.put_nowait(None)  # after the jobs queued so far
            await self._task
        await self._transaction.close()

    async def _serve(self) -> None:
        while (first := await self._queue.get()) is not None:
            await asyncio.sleep(0)  # webhooks that already arrived join this batch
            batch = [first]
            while len(batch) < _MAX_GROUP and not self._queue.empty():
                job = self._queue.get_nowait()
                if job is None:
                    self._queue.put_nowait(None)  # finish this batch, then stop
                    break
                batch.append(job)
            started = time.perf_counter()
            errors = await self._commit(batch)
            committed = errors.count(None)
            if committed:
                self._observer.batch_committed(committed, time.perf_counter() - started)
            for job, error in zip(batch, errors, strict=True):
                if job.future.cancelled():
                    continue
                if error is None:
                    job.future.set_result(job.result)
                else:
                    job.future.set_exception(error)

    async def _commit(self, batch: list[_Job]) -> list[Exception | None]:
        try:
            await self._transaction(batch)
            return [None] * len(batch)
        except Exception as exc:
            if len(batch) == 1 or unavailable(exc):
                return [exc] * len(batch)
        errors: list[Exception | None] = []
        for job in batch:
            try:
                await self._transaction([job])
                errors.append(None)
            except Exception as alone:
                errors.append(alone)
        return errors


def unavailable(exc: BaseException) -> bool:
    """The database is away, locked, full or too slow: no piece of the batch is to blame,
    and running each alone would make every waiting caller wait one bound more."""
    if isinstance(exc, OSError):  # refused, reset, timed out
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_UNAVAILABLE
    state = _sqlstate(exc)
    if state is not None:
        return state[:2] in _POSTGRES_UNAVAILABLE
    return isinstance(exc, InterfaceError)


# SQLite's primary result codes for busy, locked, out of memory, read-only, I/O error,
# full, cannot open, lock protocol; Postgres' SQLSTATE classes for connection exception,
# insufficient resources, operator intervention (shutting down) and system error.
_SQLITE_UNAVAILABLE = {5, 6, 7, 8, 10, 13, 14, 15}
_POSTGRES_UNAVAILABLE = {"08", "53", "57", "58"}


class _SqliteTransaction:
    """One writer thread with its own pysqlite connection: no thread hop per statement, one
    BEGIN IMMEDIATE ... COMMIT per batch, which keeps other processes on the file out. The
    log is checkpointed by a thread of its own after commits."""

    def __init__(self, engine: Engine, checkpointer: Checkpointer) -> None:
        self._engine = engine
        self._checkpointer = checkpointer
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def __call__(self, jobs: list[_Job]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._run, jobs)

    def _run(self, jobs: list[_Job]) -> None:
        with self._engine.connect() as conn, conn.execution_options(writer=True).begin():
            _run_jobs(conn, jobs)
        self._checkpointer.due()

    async def close(self) -> None:
        # Both may wait for SQLite (the last batch, a checkpoint): not on the event loop.
        await asyncio.to_thread(self._thread.shutdown)
        await asyncio.to_thread(self._checkpointer.close)
        self._engine.dispose()


# Every transaction first takes the `everything` lock: shared when it then locks its own
# keys, exclusive (and nothing else) when it has more keys than the lock table should hold
# for one transaction. Rows come out in the subquery's order: `everything` first, then the
# keys sorted, so that no two transactions can wait on each other in a cycle.
_ADVISORY_LOCKS = text(
    "SELECT CASE WHEN k = :everything AND NOT :alone THEN pg_advisory_xact_lock_shared(k) "
    "ELSE pg_advisory_xact_lock(k) END "
    "FROM (SELECT k FROM unnest(CAST(:keys AS bigint[])) AS u(k) ORDER BY k <> :everything, k) AS s"
)
EVERYTHING = lock_key("everything")
# Postgres' lock table holds about 64 locks per connection by default: one lock per
# fingerprint made a webhook of some 13,000 alerts fail with "out of shared memory", and
# fail again on every retry. Larger transactions (rare) run alone instead.
MAX_LOCKS = 1000


class _PostgresTransaction:
    """Over asyncpg. The transaction first takes the advisory locks of every job in it,
    sorted in one statement, so that replicas writing the same groups and alerts wait for
    each other rather than deadlock (or, past MAX_LOCKS keys, one lock that excludes
    every other writer); conflicts elsewhere are retried."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __call__(self, jobs: list[_Job]) -> None:
        keys = {lock_key(*name) for job in jobs for name in job.locks} - {EVERYTHING}
        alone = len(keys) > MAX_LOCKS
        params = {
            "keys": [EVERYTHING] if alone else [EVERYTHING, *keys],
            "everything": EVERYTHING,
            "alone": alone,
        }
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                async with self._engine.begin() as conn:
                    if keys:
                        await conn.execute(_ADVISORY_LOCKS, params)
                    await conn.run_sync(_run_jobs, jobs)
                return
            except DBAPIError as exc:
                if attempt == _WRITE_ATTEMPTS or _sqlstate(exc) not in _RETRYABLE_SQLSTATES:
                    raise
                log.warning("write transaction conflicted (attempt %d), retrying", attempt)

    async def close(self) -> None:
        return None


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
