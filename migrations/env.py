"""Alembic environment. The service passes its own connection (see receiver.store.schema);
`alembic` on the command line works too, with RECEIVER_DATABASE_URL or -x url=..."""

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from receiver.store.tables import metadata

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_configure)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _configure(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "RECEIVER_DATABASE_URL", "sqlite+aiosqlite:///./receiver.db"
    )
    asyncio.run(_run_with_own_engine(url))
