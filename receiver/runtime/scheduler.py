"""Periodic jobs on the event loop: the reminder sweep and retention now, heartbeats
later. Each job runs, then waits its interval, read anew each time so that a reload
applies; a job that fails is logged and runs again at its next turn."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self) -> None:
        self._jobs: list[tuple[str, Callable[[], timedelta], Callable[[], Awaitable[None]]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def every(
        self, name: str, interval: Callable[[], timedelta], job: Callable[[], Awaitable[None]]
    ) -> None:
        """Run `job` now and then every `interval()` once started."""
        self._jobs.append((name, interval, job))

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(name, interval, job), name=name)
            for name, interval, job in self._jobs
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    @staticmethod
    async def _loop(
        name: str, interval: Callable[[], timedelta], job: Callable[[], Awaitable[None]]
    ) -> None:
        while True:
            try:
                await job()
            except Exception:  # storage trouble: the next turn tries again
                log.exception("periodic job %s failed; it runs again in %s", name, interval())
            await asyncio.sleep(interval().total_seconds())
