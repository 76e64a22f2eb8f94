"""Engine set-up and the write transaction: the one place where SQLite and Postgres differ.

Writers must never interleave on the same alert or group. SQLite gets that from
`BEGIN IMMEDIATE` (one writer at a time, across processes too) plus an in-process lock
so that waiting happens in asyncio rather than in SQLite's busy loop. Postgres gets it
from transaction-scoped advisory locks on the fingerprints and groups a webhook touches,
taken in sorted order so that concurrent writers cannot deadlock on them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = logging.getLogger(__name__)
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected
_WRITE_ATTEMPTS = 3
_WAL_ATTEMPTS = 40


def create_engine(url: str, *, sqlite_synchronous: str = "NORMAL") -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, sqlite_synchronous)
    return engine


def _configure_sqlite(engine: AsyncEngine, synchronous: str) -> None:
    # The driver's own transaction handling cannot do BEGIN IMMEDIATE; take it over.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
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

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._local = asyncio.Lock() if self.sqlite else None

    @asynccontextmanager
    async def _transaction(self, keys: Iterable[int]) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(writer=True)
            async with conn.begin():
                if not self.sqlite:
                    await conn.execute(
                        text(
                            "SELECT pg_advisory_xact_lock(k) FROM "
                            "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY 1) AS s"
                        ),
                        {"keys": sorted(set(keys))},
                    )
                yield conn

    async def run(self, keys: Iterable[int], work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `await work(conn)` in one transaction; retry on deadlock or serialization."""
        keys = list(keys)
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                if self._local is not None:
                    async with self._local, self._transaction(keys) as conn:
                        return await work(conn)
                async with self._transaction(keys) as conn:
                    return await work(conn)
            except DBAPIError as exc:
                if attempt == _WRITE_ATTEMPTS or _sqlstate(exc) not in _RETRYABLE_SQLSTATES:
                    raise
                log.warning("write transaction conflicted (attempt %d), retrying", attempt)
        raise AssertionError("unreachable")


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
