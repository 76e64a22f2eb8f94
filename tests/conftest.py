"""Shared fixtures: a real database of each kind, and a real receiver on a real port.

Every storage test takes the `database_url` fixture and so runs twice: on a fresh SQLite
file and on the real Postgres server (RECEIVER_TEST_POSTGRES_URL, default the local
server's `test` database). Postgres tests get a scratch database for the session and an
empty schema for each test. When CI=true a missing Postgres fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.engine import make_url

from receiver.app import create_app
from receiver.runtime.settings import Settings
from tests.proxy import FaultProxy
from tests.sinks import JsonSink, SmtpSink, start_json_sink, start_smtp_sink

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get(
    "RECEIVER_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def require(condition: bool, reason: str) -> None:
    """Skip when a dependency is missing, except in CI where that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing dependency is a failure)")
    pytest.skip(f"{reason} (with CI=true this fails instead)")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A scratch database on the Postgres server, dropped at the end of the session."""
    name = f"receiver_test_{uuid.uuid4().hex[:10]}"

    def admin(sql: str) -> None:
        # Its own thread and loop: this session fixture may be set up inside a test's loop.
        async def run() -> None:
            conn = await asyncpg.connect(_dsn(POSTGRES_URL), timeout=5)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        failure: list[BaseException] = []
        worker = threading.Thread(target=lambda: _capture(failure, lambda: asyncio.run(run())))
        worker.start()
        worker.join()
        if failure:
            raise failure[0]

    try:
        admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError) as exc:
        require(False, f"Postgres at {make_url(POSTGRES_URL)!r} is not reachable: {exc}")
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _capture(failure: list[BaseException], work: Callable[[], None]) -> None:
    try:
        work()
    except BaseException as exc:
        failure.append(exc)


async def reset_postgres(url: str) -> None:
    conn = await asyncpg.connect(_dsn(url), timeout=5)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'receiver.db'}"
    url: str = request.getfixturevalue("postgres_url")
    await reset_postgres(url)
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, port=0, host="127.0.0.1")


Client = TestClient[Any, Any]


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings) -> Client:
    """The receiver, started for real (migrations included) on 127.0.0.1 and a free port."""
    return await aiohttp_client(create_app(settings))


FAST_DELIVERY = """
delivery:
  backoff: 50ms
  max_backoff: 200ms
  poll_interval: 50ms
  reminder_check: 100ms
  breaker_failures: 3
  breaker_cooldown: 400ms
  timeout: 5s
"""

MakeReceiver = Callable[..., Awaitable[Client]]


@pytest.fixture
def make_receiver(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Any
) -> MakeReceiver:
    """A receiver with a configuration file written from `yaml` (fast delivery timings
    unless the text has its own `delivery:` section)."""
    count = 0

    async def make(yaml: str, **overrides: Any) -> Client:
        nonlocal count
        count += 1
        path = tmp_path / f"receiver-{count}.yml"
        path.write_text(yaml if "delivery:" in yaml else yaml + FAST_DELIVERY)
        app = create_app(settings.model_copy(update={"config": path, **overrides}))
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def fault_proxy(postgres_url: str) -> AsyncIterator[FaultProxy]:
    """A TCP proxy in front of the test Postgres (emptied first) that the test can make
    refuse or hang."""
    await reset_postgres(postgres_url)
    url = make_url(postgres_url)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def json_sink() -> AsyncIterator[JsonSink]:
    sink = await start_json_sink()
    yield sink
    assert sink.server is not None
    await sink.server.close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = start_smtp_sink()
    yield sink
    sink.controller.stop()
