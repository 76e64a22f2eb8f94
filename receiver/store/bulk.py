"""Multi-row INSERTs that skip SQLAlchemy's per-row parameter machinery.

Ingest inserts thousands of rows a second; `Connection.execute(insert(t), rows)` builds
every row's parameters through SQLAlchemy's general machinery, which costs several times
what SQLite takes to store the row. Here the statement is compiled once per table,
column set and dialect, each value goes through its column type's own bind processor
(the conversion SQLAlchemy would apply), and the rows go to the driver in one
executemany via `exec_driver_sql`, which keeps SQLAlchemy's error wrapping and events.

Rows go in CHUNK at a time: on Postgres the transaction's Python side runs on the event
loop (`run_sync`), which gets to run only while a statement waits for the database, and
converting one webhook's 10,000 rows at once held it for some 100 ms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Insert, Table, insert
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]


_compiled: dict[tuple[str, tuple[str, ...], str, Any], _Compiled] = {}
CHUNK = 1000  # rows per statement; as many as SQLAlchemy's insertmanyvalues puts in one


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def _compile(
    table: Table, columns: tuple[str, ...], dialect: Dialect, statement: Insert | None = None
) -> _Compiled:
    key = (table.name, columns, dialect.name, statement)
    if key not in _compiled:
        compiled = (
            (insert(table) if statement is None else statement)
            .values(dict.fromkeys(columns))
            .compile(dialect=dialect, column_keys=list(columns), for_executemany=True)
        )
        names = tuple(compiled.positiontup or ())
        processors = tuple(
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        )
        _compiled[key] = _Compiled(compiled.string, names, processors)
    return _compiled[key]


def insert_many(
    conn: Connection, table: Table, rows: list[dict[str, Any]], statement: Insert | None = None
) -> None:
    """Insert rows that all have the same keys; `statement` is the dialect's own INSERT
    (an upsert, say) when a plain one will not do."""
    if not rows:
        return
    compiled = _compile(table, tuple(rows[0]), conn.dialect, statement)
    pairs = list(zip(compiled.names, compiled.processors, strict=True))
    for chunk in _chunks(rows):
        params = [
            tuple(row[name] if process is None else process(row[name]) for name, process in pairs)
            for row in chunk
        ]
        conn.exec_driver_sql(compiled.sql, params)


def insert_ids(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows; answer their ids, in order.

    Postgres: `INSERT ... RETURNING`. SQLite: the writer holds the only write lock of the
    file (BEGIN IMMEDIATE), so the ids are the ones SQLite itself would pick, counting on
    from the largest; given explicitly, the rows go in with `insert_many`.
    """
    if not rows:
        return []
    if conn.dialect.name != "sqlite":
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return [i for chunk in _chunks(rows) for i in conn.execute(statement, chunk).scalars()]
    largest = conn.exec_driver_sql(f"SELECT max(id) FROM {table.name}").scalar() or 0
    ids = list(range(largest + 1, largest + 1 + len(rows)))
    insert_many(conn, table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids
