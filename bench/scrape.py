"""What scraping /metrics costs the webhooks: the fresh benchmark (bench/run.py's wrk run,
16 connections, one new alert per webhook) with a scraper asking GET /metrics every
second, against the same run without it, in alternate turns so that the drift of a shared
machine hits both alike. Every run starts a receiver on a new database.

    python bench/scrape.py                       # 8 turns of 10 s runs, SQLite and Postgres
    python bench/scrape.py --turns 3 --seconds 5 --databases sqlite

Besides throughput, each run reads the receiver's CPU time (user and system, every
thread, from /proc/PID/stat) per webhook answered: other load on the machine moves it
far less than it moves webhooks per second. Prints medians with the spread (lowest to
highest) as Markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from bigwebhook import database, receiver, spread
from run import add_postgres_flag, wrk

EVERY = 1.0


@contextmanager
def scraping(base: str, took: list[float]) -> Iterator[None]:
    """GET /metrics every EVERY seconds until the block ends, appending each scrape's
    seconds to `took`; a failed scrape fails the run."""
    stop = threading.Event()
    failed: list[BaseException] = []

    def scrape() -> None:
        try:
            while not stop.wait(EVERY):
                started = time.perf_counter()
                with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
                    if b"alert_receiver_open_incidents" not in resp.read():
                        raise RuntimeError("a scrape without the open incidents")
                took.append(time.perf_counter() - started)
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=scrape, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    if failed:
        raise failed[0]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_scrape(url: str, scrapes: int = 1000) -> float:
    """Seconds of the receiver's CPU per GET /metrics, on an idle receiver."""
    with receiver(url, None) as (base, pid):
        for _ in range(50):  # warm: the first scrapes open connections
            urllib.request.urlopen(f"{base}/metrics", timeout=10).read()
        before = cpu_seconds(pid)
        for _ in range(scrapes):
            urllib.request.urlopen(f"{base}/metrics", timeout=10).read()
        return (cpu_seconds(pid) - before) / scrapes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--databases", default="sqlite,postgres")
    add_postgres_flag(parser)
    args = parser.parse_args()
    kinds = args.databases.split(",")
    work = Path(tempfile.mkdtemp(prefix="receiver-scrape-"))
    rps: dict[tuple[str, bool], list[float]] = {}
    p99: dict[tuple[str, bool], list[float]] = {}
    cpu_us: dict[tuple[str, bool], list[float]] = {}
    scrapes: dict[str, list[float]] = {kind: [] for kind in kinds}
    for turn in range(args.turns):
        for kind in kinds:
            for scraped in (False, True) if turn % 2 == 0 else (True, False):
                with (
                    database(kind, args.postgres, work) as url,
                    receiver(url, None) as (base, pid),
                    scraping(base, scrapes[kind]) if scraped else nullcontext(),
                ):
                    before = cpu_seconds(pid)
                    run = wrk(base, "fresh.lua", args.seconds)
                    cpu = cpu_seconds(pid) - before
                rps.setdefault((kind, scraped), []).append(run.rps)
                p99.setdefault((kind, scraped), []).append(run.p99_ms)
                cpu_us.setdefault((kind, scraped), []).append(cpu / run.requests * 1e6)
                print(
                    f"turn {turn + 1} {kind} {'scraped' if scraped else 'unscraped'}: "
                    f"{run.rps:,.0f}/s, p99 {run.p99_ms:.1f} ms, "
                    f"{cpu_us[(kind, scraped)][-1]:.0f} µs CPU a webhook, {run.errors} errors",
                    flush=True,
                )
    idle = {}
    for kind in kinds:
        with database(kind, args.postgres, work) as url:
            idle[kind] = cpu_per_scrape(url)
    print()
    print(
        "| database | webhooks/s, unscraped | scraped every 1 s | ratio "
        "| receiver CPU a webhook, unscraped | scraped | ratio "
        "| p99, unscraped | scraped | one scrape under load | CPU a scrape, idle |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in kinds:
        off, on = (kind, False), (kind, True)
        print(
            f"| {kind} | {spread(rps[off], '/s')} | {spread(rps[on], '/s')} "
            f"| {_ratio(rps[on], rps[off])} "
            f"| {spread(cpu_us[off], 'µs')} | {spread(cpu_us[on], 'µs')} "
            f"| {_ratio(cpu_us[on], cpu_us[off])} "
            f"| {spread(p99[off], 'ms')} | {spread(p99[on], 'ms')} "
            f"| {spread([s * 1000 for s in scrapes[kind]], 'ms')} | {idle[kind] * 1000:.2f} ms |"
        )


def _ratio(scraped: list[float], unscraped: list[float]) -> str:
    return f"{statistics.median(scraped) / statistics.median(unscraped):.3f}"


if __name__ == "__main__":
    main()
