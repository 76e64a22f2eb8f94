"""Alembic, driven from code: upgrade on start, and the readiness check's "is it migrated".

Alembic is imported only when there is something to migrate: a start on a current
database reads one row instead, which keeps start-up fast. HEAD names the newest
migration; a test keeps it equal to what Alembic computes from migrations/.
"""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from receiver.store.engine import MIGRATION_TIMEOUT, create_engine, lock_key, use_wal

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0014"
_LOCK = lock_key("schema-migration")


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(files("receiver.migrations")))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    """What Alembic says the head is (slow: reads every migration)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(connection), revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Replicas starting together must not migrate at once: the second waits for the
    first (an advisory lock on Postgres, a write transaction on SQLite), then finds the
    schema current and does nothing."""
    await use_wal(engine)
    if revision == "head" and await current_revision(engine) == HEAD:
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(writer=True)
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
            await conn.run_sync(_upgrade, revision)


async def upgrade_at(url: str) -> None:
    """Upgrade through an engine of its own, bounded by MIGRATION_TIMEOUT rather than the
    service's per-statement bound."""
    engine = create_engine(url, timeout=MIGRATION_TIMEOUT)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema's revision, or None for a database Alembic never touched."""
    async with engine.connect() as conn:
        if not await conn.run_sync(lambda c: inspect(c).has_table("alembic_version")):
            return None
        revision: str | None = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return revision
