"""Receivers as real processes (`python -m receiver serve`), for what only a process
shows: several replicas on one database, SIGTERM, SIGKILL, its logs."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import pytest

from tests.payloads import alert, webhook

_READERS: dict[int, tuple[threading.Thread, list[str]]] = {}


def serve(
    database_url: str, *flags: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", "0", *flags],
        env={**os.environ, "RECEIVER_DATABASE_URL": database_url, **(env or {})},
        stderr=subprocess.PIPE,
        text=True,
    )


def address(proc: subprocess.Popen[str]) -> str:
    """The base URL the process logs once it listens (blocking: call it in a thread).
    From then on its log is read into memory as it comes: one line per request would
    otherwise fill the pipe and stop the process mid-test. `logs` answers it."""
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        found = re.search(r"listening on (https?://127\.0\.0\.1:\d+)", line)
        if found:
            reader = threading.Thread(target=seen.extend, args=(proc.stderr,), daemon=True)
            reader.start()
            _READERS[proc.pid] = (reader, seen)
            return found.group(1)
        if not line and proc.poll() is not None:
            break
    raise AssertionError("serve did not start:\n" + "".join(seen))


def logs(proc: subprocess.Popen[str]) -> str:
    """Everything the process logged, once it has exited."""
    reader, lines = _READERS.pop(proc.pid)
    reader.join(10)
    return "".join(lines)


class Load:
    """Senders posting one-alert webhooks to `base`, each a new group (and so a new
    incident), until stopped; `acknowledged` holds the alertnames answered 200. A refused
    connection (the process is gone or not listening) is tried again, not fatal."""

    def __init__(self, base: str, prefix: str, senders: int = 16) -> None:
        self.base, self.prefix, self.acknowledged = base, prefix, list[str]()
        self._senders = senders
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Load:
        self._session = aiohttp.ClientSession()
        self._tasks = [asyncio.create_task(self._send(n)) for n in range(self._senders)]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self._session.close()

    async def _send(self, n: int) -> None:
        for i in itertools.count():
            if self._stop.is_set():
                return
            name = f"{self.prefix}{n}-{i}"
            try:
                body = webhook(alert(name), group=name)
                async with self._session.post(f"{self.base}/alerts", json=body) as resp:
                    if resp.status == 200:
                        self.acknowledged.append(name)
            except aiohttp.ClientError:
                await asyncio.sleep(0.01)


async def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until `url` answers 200; fails with the process's log if it exits or takes 30 s."""
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{url} did not come up: {log.read_text()}")  # noqa: ASYNC240
            await asyncio.sleep(0.1)
