"""The scheduler of periodic jobs: runs each job at once and then every interval, reads
the interval anew each turn, survives a failing job, and stops cleanly."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest

from receiver.runtime.scheduler import Scheduler
from tests.sinks import eventually


async def test_jobs_repeat_survive_failures_and_stop(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[str] = []
    interval = timedelta(milliseconds=10)

    async def steady() -> None:
        runs.append("steady")

    async def flaky() -> None:
        runs.append("flaky")
        raise OSError("database away")

    scheduler = Scheduler()
    scheduler.every("steady", lambda: interval, steady)
    scheduler.every("flaky", lambda: interval, flaky)
    with caplog.at_level(logging.ERROR, logger="receiver.runtime.scheduler"):
        scheduler.start()
        await eventually(lambda: runs.count("flaky") >= 3, "the failing job to keep running")
        await scheduler.stop()
    assert runs.count("steady") >= 2
    assert "periodic job flaky failed" in caplog.text
    stopped = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == stopped, "no job runs after stop"


async def test_the_interval_is_read_each_turn() -> None:
    runs = 0
    interval = timedelta(milliseconds=5)

    async def job() -> None:
        nonlocal runs
        runs += 1

    scheduler = Scheduler()
    scheduler.every("job", lambda: interval, job)
    scheduler.start()
    await eventually(lambda: runs >= 3, "a few quick turns")
    interval = timedelta(hours=1)  # as a reload would change it
    await asyncio.sleep(0.02)  # the turn already asleep ends, the next one waits an hour
    settled = runs
    await asyncio.sleep(0.05)
    assert runs == settled
    await scheduler.stop()
