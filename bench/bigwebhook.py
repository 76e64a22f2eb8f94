"""One big webhook against a real receiver process: how long the event loop stalls and how
much resident memory rises (issues 13 and 14).

    python bench/bigwebhook.py                   # 5 runs of each case, SQLite and Postgres
    python bench/bigwebhook.py --against HEAD    # the same for a git revision, in turns

Cases: a webhook of 10,000 distinct alerts of 8 labels and 3 annotations (the default
max_alerts_per_webhook), which must be stored (200, all new); and 100,000 alerts of one
short label each within the 10 MiB body limit, which must be refused with 413. Each run
starts a receiver on a new database and warms it with one small webhook. Meanwhile a
thread asks /-/healthy every 5 ms on a keep-alive connection; the stall is its slowest
answer from sending the big body until 250 ms after the answer. Memory is the rise of
VmHWM (peak resident set, reset through /proc/PID/clear_refs first) over VmRSS before.
Prints medians with the spread (lowest to highest) as Markdown, and writes them into the
section "## One big webhook: event-loop stall and memory" of docs/benchmarks.md (what
the numbers mean is written by hand in the section after it); with --against it only
prints.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ab import worktree
from reads import write_section
from run import (
    ROOT,
    add_postgres_flag,
    free_port,
    postgres_database,
    python_speed,
    serve,
    wait_ready,
)

PING_EVERY = 0.005
AFTER = 0.25  # keep pinging past the answer: freeing a big webhook happens on the loop too
HEADING = "## One big webhook: event-loop stall and memory"
DATABASES = {"sqlite": "SQLite", "postgres": "Postgres"}  # as the section names them


def realistic(count: int) -> bytes:
    """Alertmanager's shape, as bench/size.py writes it: 8 labels, 3 annotations."""

    def one(i: int) -> dict[str, Any]:
        labels = {
            "alertname": "KubePodCrashLooping",
            "severity": "warning",
            "cluster": "prod-eu-1",
            "namespace": f"team-{i % 40}",
            "pod": f"api-7f9c8b6d4-{i:06d}",
            "container": "api",
            "job": "kube-state-metrics",
            "instance": f"10.1.{i // 250 % 250}.{i % 250}:8080",
        }
        return {
            "status": "firing",
            "labels": labels,
            "annotations": {
                "summary": f"Pod {labels['pod']} is crash looping",
                "description": "Pod has been restarting more than 3 times in the last 10m.",
                "runbook_url": "https://runbooks.example.com/kube/KubePodCrashLooping",
            },
            "startsAt": "2026-11-26T10:00:00.123Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus-0:9090/graph?g0.expr=kube_pod_restarts",
            "fingerprint": f"{i:016x}",
        }

    return hook([one(i) for i in range(count)])


def short(count: int) -> bytes:
    """As many alerts as fit in 10 MiB: one short label, no fingerprint (Alertmanager
    always sends one; a sender that does not makes the receiver compute it)."""
    return hook(
        [
            {"status": "firing", "labels": {"i": str(i)}, "startsAt": "2026-11-26T10:00:00Z"}
            for i in range(count)
        ]
    )


def hook(alerts: list[dict[str, Any]]) -> bytes:
    body = {
        "version": "4",
        "receiver": "bench",
        "status": "firing",
        "groupKey": '{}:{alertname="KubePodCrashLooping"}',
        "groupLabels": {"alertname": "KubePodCrashLooping"},
        "commonLabels": {"alertname": "KubePodCrashLooping"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager-0:9093",
        "truncatedAlerts": 0,
        "alerts": alerts,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def post(base: str, body: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{base}/alerts", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class Pinger(threading.Thread):
    """/-/healthy every PING_EVERY seconds; the slowest answer while `stop` is unset."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.stop = threading.Event()
        self.slowest = 0.0
        self.count = 0

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            self.conn.request("GET", "/-/healthy")
            answer = self.conn.getresponse()
            answer.read()
            assert answer.status == 200
            took = time.perf_counter() - started
            self.slowest, self.count = max(self.slowest, took), self.count + 1
            time.sleep(max(0.0, PING_EVERY - took))


def memory_kb(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


@dataclass
class Run:
    stall_ms: float
    answer_ms: float
    rise_mb: float
    pings: int


def measure(base: str, pid: int, body: bytes, status: int, alerts: int) -> Run:
    warm_status, _ = post(base, short(1))  # labels no big case has
    assert warm_status == 200
    before = memory_kb(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from VmRSS
    pinger = Pinger(base)
    pinger.start()
    time.sleep(0.1)  # a few pings before, so the connection is warm
    started = time.perf_counter()
    got, answer = post(base, body)
    answered = time.perf_counter() - started
    time.sleep(AFTER)
    pinger.stop.set()
    pinger.join()
    assert got == status, (got, answer)
    assert status != 200 or answer["new"] == alerts, answer
    peak = memory_kb(pid, "VmHWM")
    return Run(pinger.slowest * 1000, answered * 1000, (peak - before) / 1024, pinger.count)


@contextmanager
def database(kind: str, postgres: str, work: Path) -> Iterator[str]:
    if kind == "postgres":
        with postgres_database(postgres) as url:
            yield url
    else:
        yield f"sqlite+aiosqlite:///{work / os.urandom(6).hex()}.db"


@contextmanager
def receiver(database_url: str, tree: Path | None) -> Iterator[tuple[str, int]]:
    """bench/run.py's receiver, with its process id."""
    port = free_port()
    proc = serve(database_url, port, tree)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/-/ready")
        yield base, proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def spread(values: list[float], unit: str) -> str:
    return f"{statistics.median(values):,.0f} {unit} ({min(values):,.0f} to {max(values):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--against",
        metavar="REV",
        help="a git revision measured too, in alternate turns (prints, writes no file)",
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    add_postgres_flag(parser)
    args = parser.parse_args()
    cases = {
        "10,000 alerts, stored": (realistic(10_000), 200, 10_000),
        "100,000 alerts, refused 413": (short(100_000), 413, 100_000),
    }
    for name, (body, _, _) in cases.items():
        print(f"{name}: body {len(body) / 2**20:.1f} MiB", flush=True)
    work = Path(tempfile.mkdtemp(prefix="receiver-bigwebhook-"))
    results: dict[tuple[str, str, str], list[Run]] = {}
    with nullcontext(None) if args.against is None else worktree(args.against) as old:
        trees: dict[str, Path | None] = {"working tree": None}
        if old is not None:
            trees = {args.against: old, **trees}
        for turn in range(args.runs):
            order = list(trees) if turn % 2 == 0 else list(reversed(trees))
            for version in order:
                for kind in args.databases.split(","):
                    for name, (body, status, alerts) in cases.items():
                        with (
                            database(kind, args.postgres, work) as url,
                            receiver(url, trees[version]) as (base, pid),
                        ):
                            run = measure(base, pid, body, status, alerts)
                        results.setdefault((version, kind, name), []).append(run)
                        print(
                            f"run {turn + 1} {version} {kind} {name}: stall "
                            f"{run.stall_ms:.0f} ms, answer {run.answer_ms:.0f} ms, "
                            f"rise {run.rise_mb:.0f} MB, {run.pings} pings",
                            flush=True,
                        )
    print()
    print("| version | database | case | longest /-/healthy | answer | memory rise |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (version, kind, name), runs in results.items():
        print(
            f"| {version} | {kind} | {name} | {spread([r.stall_ms for r in runs], 'ms')} "
            f"| {spread([r.answer_ms for r in runs], 'ms')} "
            f"| {spread([r.rise_mb for r in runs], 'MB')} |"
        )
    if args.against is None:
        sizes = {name: len(body) for name, (body, _, _) in cases.items()}
        write_section(args.out, report(args, sizes, results), HEADING)
        print(f"wrote {HEADING!r} in {args.out}")


def report(
    args: argparse.Namespace,
    sizes: dict[str, int],
    results: dict[tuple[str, str, str], list[Run]],
) -> str:
    """The section: the command, what is measured, one row a database and case."""
    stored, refused = (f"{size / 2**20:.1f} MiB" for size in sizes.values())
    lines = [
        HEADING,
        "",
        f"`python bench/bigwebhook.py --databases {args.databases} --runs {args.runs}` on "
        f"{datetime.now(UTC):%Y-%m-%d} (cpu speed {python_speed() * 1000:.0f} ms for "
        "`sum(range(10**7))`). Each run starts a receiver on a new database, warms it with "
        "one small webhook, then posts one big body while a thread asks `/-/healthy` every "
        f'{PING_EVERY * 1000:.0f} ms on a keep-alive connection. "Longest /-/healthy" is '
        f"its slowest answer, from sending the body until {AFTER * 1000:.0f} ms after the "
        'answer; "memory rise" is VmHWM (peak, reset through `/proc/PID/clear_refs`) over '
        'VmRSS before; "answer" is how long the big webhook took to be answered. 10,000 '
        f"alerts: 8 labels and 3 annotations each, {stored}, answered 200 with all new. "
        f"100,000 alerts: one short label each, {refused} (within the 10 MiB limit), "
        f"answered 413. Median of {args.runs} (lowest to highest).",
        "",
        "| database | case | longest /-/healthy | memory rise | answer |",
        "| --- | --- | --- | --- | --- |",
    ]
    for (_, kind, name), runs in results.items():
        lines.append(
            f"| {DATABASES.get(kind, kind)} | {name} "
            f"| {spread([r.stall_ms for r in runs], 'ms')} "
            f"| {spread([r.rise_mb for r in runs], 'MB')} "
            f"| {spread([r.answer_ms for r in runs], 'ms')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
