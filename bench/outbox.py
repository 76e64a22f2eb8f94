"""The outbox draining an alert storm (issue 14): 2,000 incidents opened at once, each a
message to one `json://` channel whose sink answers at once.

    python bench/outbox.py                          # SQLite and Postgres, 3 runs each
    python bench/outbox.py --databases sqlite --runs 1 --incidents 500 --processes 1
    python bench/outbox.py --against HEAD~1         # and another revision, run by run

Each run starts a receiver on a new database and a sink in a process of its own (aiohttp,
answering 200 with no body); with --processes 1,2 (the default) every run is done once
with one receiver process and once with two on the same database, the second taking no
webhooks and only sending (replicas share the outbox). Sixteen threads post the webhooks
over keep-alive connections, one new group each, as fast as the receiver answers; the run
ends when the sink has heard every incident or after a deadline. Reported: webhooks/s while posting,
messages/s end to end (first webhook sent to last message heard), how long the backlog
took to drain after the last webhook was answered, and messages heard twice (must be 0);
messages/s are also given against Apprise alone, the receiver's send in a loop to the
same sink in the same run (the ceiling of any outbox in one process).
Medians over the runs, with the lowest and highest. The table goes into the section
"## The outbox in an alert storm" of docs/benchmarks.md (what the numbers mean is
written by hand in the section after it); with --against it is only printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ab import worktree
from reads import write_section
from run import ROOT, add_postgres_flag, free_port, new_database, python_speed, receiver

POSTERS = 16
DEADLINE = 120.0
HEADING = "## The outbox in an alert storm"
TABLE = (
    "| database | incidents | webhooks/s while posting | messages/s end to end "
    "| against Apprise alone | drain after the last webhook, s | heard twice "
    "| failed webhooks |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def _sink(port: int, heard: Any, reports: Connection) -> None:
    """The channel's far end: counts messages and the distinct ones, stamps the last."""
    from aiohttp import web

    bodies: set[str] = set()

    async def take(request: web.Request) -> web.Response:
        digest = hashlib.blake2b(await request.read(), digest_size=16).hexdigest()
        bodies.add(digest)
        with heard.get_lock():
            heard.value += 1
        return web.Response()

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", take)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, reports.recv)  # the bench says stop
        reports.send(len(bodies))
        await runner.cleanup()

    asyncio.run(main())


@contextmanager
def sink() -> Iterator[tuple[str, Any, Connection]]:
    port = free_port()
    heard = multiprocessing.Value("i", 0)
    ours, theirs = multiprocessing.Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_sink, args=(port, heard, theirs))
    proc.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                break
            except OSError:
                time.sleep(0.01)
        yield f"json://127.0.0.1:{port}/", heard, ours
    finally:
        proc.terminate()
        proc.join(10)


def _apprise_alone(url: str, count: int, concurrency: int, result: Any) -> None:
    """The ceiling of any outbox here: the receiver's own send (Apprise) in a loop, with
    as many at once as the outbox sends, nothing read or written around it."""
    from receiver.notify.channels import Message, send

    message = Message("[FIRING:1] Storm is down", "**Storm** is down.\n\n" + "x" * 600, "failure")

    async def main() -> None:
        slots = asyncio.Semaphore(concurrency)

        async def one() -> None:
            async with slots:
                outcome = await send([url], message, timedelta(seconds=10), str)
                assert outcome.ok, outcome

        await one()  # Apprise loads its plugins with the first send, not in the timing
        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        result.value = count / (time.perf_counter() - started)

    asyncio.run(main())


def apprise_alone(count: int, concurrency: int) -> float:
    """Messages a second that Apprise alone delivers to the same kind of sink."""
    with sink() as (url, _heard, _reports):
        result = multiprocessing.Value("d", 0.0)
        process = multiprocessing.get_context("fork").Process(
            target=_apprise_alone, args=(url, count, concurrency, result)
        )
        process.start()
        process.join(DEADLINE)
        return float(result.value)


def webhook(run: str, n: int) -> bytes:
    """One new group of one firing alert, as Alertmanager sends it."""
    name = f"Storm{n}"
    return json.dumps(
        {
            "version": "4",
            "receiver": "storm",
            "status": "firing",
            "groupKey": f'{{}}:{{alertname="{name}", run="{run}"}}',
            "groupLabels": {"alertname": name, "run": run},
            "commonLabels": {"alertname": name, "severity": "critical"},
            "commonAnnotations": {"summary": f"{name} is down"},
            "externalURL": "http://alertmanager:9093",
            "truncatedAlerts": 0,
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": name, "severity": "critical", "run": run},
                    "annotations": {"summary": f"{name} is down"},
                    "startsAt": "2026-12-03T10:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus:9090/graph",
                    "fingerprint": hashlib.blake2b(f"{run}{n}".encode(), digest_size=8).hexdigest(),
                }
            ],
        }
    ).encode()


def post_all(port: int, bodies: list[bytes]) -> int:
    """POST every body over POSTERS keep-alive connections; answers how many failed."""
    failed = 0
    lock = threading.Lock()
    items = iter(bodies)

    def poster() -> None:
        nonlocal failed
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                body = next(items, None)
            if body is None:
                return
            conn.request("POST", "/alerts", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                with lock:
                    failed += 1

    threads = [threading.Thread(target=poster) for _ in range(POSTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failed


@dataclass
class Run:
    webhooks_per_s: float
    messages_per_s: float
    drain_s: float
    heard: int
    distinct: int
    failed: int


def one_run(
    database_url: str,
    incidents: int,
    concurrency: int,
    work: Path,
    tree: Path | None,
    processes: int,
) -> Run:
    """One storm into the first of `processes` receivers on one database; the others take
    no webhooks and only send, as replicas share the outbox."""
    with sink() as (url, heard, reports), contextlib.ExitStack() as receivers:
        config = work / f"outbox-{uuid.uuid4().hex[:8]}.yml"
        config.write_text(
            f'channels:\n  sink: "{url}"\nroutes:\n  - channels: [sink]\n'
            f"delivery:\n  concurrency: {concurrency}\n"
        )
        extra = ["--config", str(config)]
        bases = [
            receivers.enter_context(receiver(database_url, tree, extra)) for _ in range(processes)
        ]
        port = int(bases[0].rsplit(":", 1)[1])
        run = uuid.uuid4().hex[:8]
        bodies = [webhook(run, n) for n in range(incidents)]
        started = time.perf_counter()
        failed = post_all(port, bodies)
        answered = time.perf_counter()
        while heard.value < incidents and time.perf_counter() - started < DEADLINE:
            time.sleep(0.005)
        done = time.perf_counter()
        reports.send("stop")
        distinct = reports.recv() if reports.poll(10) else -1
        return Run(
            webhooks_per_s=incidents / (answered - started),
            messages_per_s=heard.value / (done - started),
            drain_s=done - answered,
            heard=heard.value,
            distinct=distinct,
            failed=failed,
        )


def spread(values: list[float], fmt: str) -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}} to {max(values):{fmt}})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8, help="delivery.concurrency")
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also run git revision REV, in turns (prints the table, writes no file)",
    )
    parser.add_argument(
        "--processes",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1, 2],
        help="receiver processes on the database, comma-separated counts (one row each)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    add_postgres_flag(parser)
    args = parser.parse_args()
    print(TABLE)
    rows: list[str] = []
    alone: list[float] = []  # Apprise alone, once a round: the machine's speed drifts
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        work = Path(folder)
        trees: dict[str, Path | None] = {"this tree": None}
        if args.against:
            trees[args.against] = stack.enter_context(worktree(args.against))
        for kind in args.databases.split(","):
            turns = [(name, tree, n) for name, tree in trees.items() for n in args.processes]
            runs: dict[tuple[str, int], list[Run]] = {(name, n): [] for name, _, n in turns}
            rounds: list[float] = []
            for _ in range(args.runs):
                rounds.append(apprise_alone(args.incidents, args.concurrency))
                alone.append(rounds[-1])
                print(f"Apprise alone: {alone[-1]:,.0f} messages/s", flush=True)
                for name, tree, n in turns:  # in turns, so drift weighs on each alike
                    with new_database(kind, work, args.postgres) as url:
                        runs[name, n].append(
                            one_run(url, args.incidents, args.concurrency, work, tree, n)
                        )
            ceiling = statistics.median(rounds)  # this database's rounds
            for (name, n), done in runs.items():
                label = kind if len(trees) == 1 else f"{kind}, {name}"
                if len(args.processes) > 1:
                    label += ", 1 process" if n == 1 else f", {n} processes"
                rows.append(row(label, args.incidents, done, ceiling))
                print(rows[-1], flush=True)
    if not args.against:
        write_section(args.out, report(args, rows, alone), HEADING)
        print(f"wrote {HEADING!r} in {args.out}")


def report(args: argparse.Namespace, rows: list[str], alone: list[float]) -> str:
    """The section: the command, how a run goes, the table (docs/benchmarks.md's form)."""
    return (
        "\n".join(
            [
                HEADING,
                "",
                f"`python bench/outbox.py --databases {args.databases} --runs {args.runs} "
                f"--incidents {args.incidents} --concurrency {args.concurrency} "
                f"--processes {','.join(map(str, args.processes))}` on "
                f"{datetime.now(UTC):%Y-%m-%d} (cpu speed {python_speed() * 1000:.0f} ms for "
                f"`sum(range(10**7))`). {args.incidents:,} incidents opened at once by "
                f"{POSTERS} posters (one new group a webhook), one `json://` channel hearing "
                "every change, its sink a process of its own answering at once; a run ends "
                f"when the sink has heard every incident or after {DEADLINE:.0f} s. Each run on "
                f"a new database; medians of {args.runs} (lowest to highest). With two "
                "processes, the second takes no webhooks and only sends. Apprise alone (the "
                "receiver's send function in a loop, as many at once as the outbox sends, "
                f"nothing read or written) delivered {statistics.median(alone):,.0f} messages a "
                f"second to the same sink (median of {len(alone)}, one before each round of "
                f"runs, {min(alone):,.0f} to {max(alone):,.0f}; each row is against the median "
                "of its own database's rounds): the ceiling of any outbox in one process here.",
                "",
                TABLE,
                *rows,
            ]
        )
        + "\n"
    )


def row(label: str, incidents: int, runs: list[Run], ceiling: float) -> str:
    twice = sum(r.heard - r.distinct for r in runs)
    short = sum(r.heard < incidents for r in runs)
    messages = [r.messages_per_s for r in runs]
    return (
        f"| {label} | {incidents:,} | "
        f"{spread([r.webhooks_per_s for r in runs], ',.0f')} | "
        f"{spread(messages, ',.0f')} | {statistics.median(messages) / ceiling:.2f} | "
        f"{spread([r.drain_s for r in runs], '.2f')} | {twice} | "
        f"{sum(r.failed for r in runs)} |" + (f" {short} run(s) heard fewer" if short else "")
    )


if __name__ == "__main__":
    main()
