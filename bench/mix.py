"""The realistic mix (issue 14): webhooks as Alertmanager sends them for groups that
open, grow, repeat and resolve, with and without a channel hearing every change.

    python bench/mix.py                      # SQLite and Postgres, closed and open loop
    python bench/mix.py --databases sqlite --runs 1 --open-seconds 0   # a quick look
    python bench/mix.py --against HEAD~1     # and another revision, run by run (closed loop)

Per webhook: 35% a new group of 1 to 5 alerts (an incident opens), 15% a new alert
joining an open group (the group's whole snapshot, one alert longer), 35% an open group's
current snapshot again, 15% an open group resolved (all its alerts). At most 400 groups
are open and 20 alerts a group: past 400 a new group resolves the oldest open one
instead, past 20 a join is a repeat. A group is not sent again within 64 webhooks, as
Alertmanager sends one group's notifications one at a time.

Closed loop: wrk, 16 connections, the same bodies to the bare aiohttp handler first and
then to the receiver, each run on a new database, so every ratio comes from one run of
this script. With a channel: one `json://` channel on every route (every incident
change is a message), its sink a process of its own answering at once. Pending
notifications are read from /metrics every second. Open loop: bench/openloop.c at
--open-rate for --open-seconds with the channel, pending read the same way. The
section "## The realistic mix" of docs/benchmarks.md is written from the results.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import random
import re
import statistics
import tempfile
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import run
from ab import worktree
from outbox import sink
from reads import write_section
from run import (
    ROOT,
    Wrk,
    add_postgres_flag,
    bare,
    new_database,
    openloop,
    python_speed,
    wrk,
)

MAX_OPEN = 400
MAX_ALERTS = 20
SPACING = 64
WRK_THREADS = 2  # run.wrk's -t2
HEADING = "## The realistic mix"


@dataclass
class Group:
    key: int
    severity: str
    alerts: list[dict[str, Any]] = field(default_factory=list)
    last: int = -SPACING


def _alert(run: str, group: Group, k: int, at: datetime) -> dict[str, Any]:
    name, instance = f"Mix{group.key}", f"host-{k}:9100"
    return {
        "status": "firing",
        "labels": {
            "alertname": name,
            "run": run,
            "severity": group.severity,
            "job": "node",
            "instance": instance,
        },
        "annotations": {
            "summary": f"{name} on {instance}",
            "description": f"{name} has been failing on {instance} for 5 minutes.",
            "runbook_url": "https://runbooks.example.com/mix",
        },
        "startsAt": at.isoformat().replace("+00:00", "Z"),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0",
        "fingerprint": hashlib.blake2b(
            f"{run}/{group.key}/{k}".encode(), digest_size=8
        ).hexdigest(),
    }


def _body(run: str, group: Group, alerts: list[dict[str, Any]], status: str) -> bytes:
    name = f"Mix{group.key}"
    return json.dumps(
        {
            "version": "4",
            "receiver": "bench",
            "status": status,
            "groupKey": f'{{}}:{{alertname="{name}", run="{run}"}}',
            "groupLabels": {"alertname": name, "run": run},
            "commonLabels": {
                "alertname": name,
                "run": run,
                "severity": group.severity,
                "job": "node",
            },
            "commonAnnotations": {"runbook_url": "https://runbooks.example.com/mix"},
            "externalURL": "http://alertmanager:9093",
            "truncatedAlerts": 0,
            "alerts": alerts,
        },
        separators=(",", ":"),
    ).encode()


def generate(run: str, count: int, seed: int = 14) -> list[bytes]:
    """`count` webhooks of the mix, for groups named after `run` (new ones every run)."""
    rng = random.Random(seed)
    groups: dict[int, Group] = {}  # open, oldest first
    made = 0
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    out: list[bytes] = []
    for n in range(count):
        at = start + timedelta(milliseconds=10 * n)
        ready = [g for g in groups.values() if n - g.last >= SPACING]
        roll = rng.random()
        if roll < 0.35 or not ready:
            if len(groups) >= MAX_OPEN and ready:
                group, status = ready[0], "resolved"
            else:
                made += 1
                group = Group(made, rng.choice(("critical", "warning", "warning", "info")))
                group.alerts = [_alert(run, group, k, at) for k in range(rng.randint(1, 5))]
                groups[group.key], status = group, "firing"
        else:
            group = rng.choice(ready)
            status = "firing"
            if roll < 0.50 and len(group.alerts) < MAX_ALERTS:
                group.alerts.append(_alert(run, group, len(group.alerts), at))
            elif roll >= 0.85:
                status = "resolved"
        alerts = group.alerts
        if status == "resolved":
            ended = at.isoformat().replace("+00:00", "Z")
            alerts = [{**a, "status": "resolved", "endsAt": ended} for a in group.alerts]
            del groups[group.key]
        group.last = n
        out.append(_body(run, group, alerts, status))
    return out


def write_bodies(folder: Path, count: int) -> Path:
    path = folder / f"mix-{uuid.uuid4().hex[:8]}.ndjson"
    path.write_bytes(b"\n".join(generate(uuid.uuid4().hex[:8], count)) + b"\n")
    return path


PENDING = re.compile(rb"^alert_receiver_outbox_pending (\S+)$", re.M)


@contextmanager
def pending_samples(base: str) -> Iterator[list[float]]:
    """Notifications pending, from /metrics, once a second while the block runs."""
    samples: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(1.0):
            with contextlib.suppress(OSError):
                found = PENDING.search(urllib.request.urlopen(f"{base}/metrics", timeout=5).read())
                if found:
                    samples.append(float(found.group(1)))

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


@dataclass
class Result:
    runs: list[Wrk] = field(default_factory=list)
    pending: list[list[float]] = field(default_factory=list)  # per run, a sample a second
    heard: list[float] = field(default_factory=list)  # messages/s the sink heard

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    def spread(self, attr: str) -> str:
        values = [getattr(r, attr) for r in self.runs]
        return f"{min(values):,.0f} to {max(values):,.0f}"


@contextmanager
def receiver(url: str, work: Path, channel: str | None, tree: Path | None) -> Iterator[str]:
    """bench/run.py's receiver, with `channel` on every route when given."""
    extra: list[str] = []
    if channel is not None:
        config = work / f"mix-{uuid.uuid4().hex[:8]}.yml"
        config.write_text(f'channels:\n  sink: "{channel}"\nroutes:\n  - channels: [sink]\n')
        extra = ["--config", str(config)]
    with run.receiver(url, tree, extra) as base:
        yield base


def closed_run(
    kind: str,
    work: Path,
    postgres: str,
    bodies: Path,
    seconds: int,
    with_channel: bool,
    tree: Path | None,
) -> tuple[Wrk, list[float], float]:
    with contextlib.ExitStack() as stack:
        channel = heard = None
        if with_channel:
            channel, heard, _ = stack.enter_context(sink())
        url = stack.enter_context(new_database(kind, work, postgres))
        base = stack.enter_context(receiver(url, work, channel, tree))
        before = heard.value if heard is not None else 0
        with pending_samples(base) as samples:
            result = wrk(base, "mix.lua", seconds, [str(bodies), str(WRK_THREADS)])
        messages = (heard.value - before) / seconds if heard is not None else 0.0
        return result, samples, messages


def open_run(
    kind: str, work: Path, postgres: str, bodies: Path, rate: float, seconds: float
) -> tuple[dict[str, Any], list[float]]:
    with contextlib.ExitStack() as stack:
        channel, _, _ = stack.enter_context(sink())
        url = stack.enter_context(new_database(kind, work, postgres))
        base = stack.enter_context(receiver(url, work, channel, None))
        with pending_samples(base) as samples:
            found = openloop(base, rate, seconds, bodies)
        return found, samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--runs", type=int, default=3, help="closed-loop runs per scenario")
    parser.add_argument("--seconds", type=int, default=10, help="per closed-loop run")
    parser.add_argument("--open-rate", type=float, default=500)
    parser.add_argument("--open-seconds", type=float, default=60, help="0: skip")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--against",
        metavar="REV",
        help="also run git revision REV in the closed loop, in turns (no open loop; "
        "prints the table, writes no file)",
    )
    add_postgres_flag(parser)
    args = parser.parse_args()
    kinds = args.databases.split(",")
    with tempfile.TemporaryDirectory(prefix="mix-") as folder, contextlib.ExitStack() as trees_:
        work = Path(folder)
        trees: dict[str, Path | None] = {"this tree": None}
        if args.against:
            trees[args.against] = trees_.enter_context(worktree(args.against))
            args.open_seconds = 0
        # Enough for 4,000 webhooks/s, so that no run sends a body twice.
        count = 4000 * args.seconds
        ceiling = Result()
        with bare() as base:
            for _ in range(args.runs):
                ceiling.runs.append(
                    wrk(
                        base,
                        "mix.lua",
                        args.seconds,
                        [str(write_bodies(work, count)), str(WRK_THREADS), "again"],
                    )
                )
        print(f"bare handler: {ceiling.median('rps'):,.0f}/s", flush=True)
        results: dict[tuple[str, bool, str], Result] = {}
        turns = itertools.product(kinds, range(args.runs), (False, True), trees.items())
        for kind, _, with_channel, (name, tree) in turns:  # in turns: drift weighs alike
            found = results.setdefault((kind, with_channel, name), Result())
            bodies = write_bodies(work, count)
            run, samples, heard = closed_run(
                kind, work, args.postgres, bodies, args.seconds, with_channel, tree
            )
            found.runs.append(run)
            found.pending.append(samples)
            found.heard.append(heard)
            print(
                f"{kind}, {name}, {'a channel' if with_channel else 'no channel'}: "
                f"{run.rps:,.0f}/s, p99 {run.p99_ms:.1f} ms, {run.errors} errors"
                + (f", heard {heard:,.0f}/s, pending {samples}" if with_channel else ""),
                flush=True,
            )
        opened: dict[str, tuple[dict[str, Any], list[float]]] = {}
        if args.open_seconds:
            for kind in kinds:
                total = int(args.open_rate * args.open_seconds)
                opened[kind] = open_run(
                    kind,
                    work,
                    args.postgres,
                    write_bodies(work, total),
                    args.open_rate,
                    args.open_seconds,
                )
                print(f"{kind}, open loop: {opened[kind][0]}", flush=True)
    section = report(args, kinds, ceiling, results, opened)
    print(section)
    if not args.against:
        write_section(args.out, section, HEADING)


def _pending(series: list[list[float]]) -> str:
    """Each run's pending notifications: at its first and last second, and the most."""
    return "; ".join(
        f"{s[0]:,.0f} → {s[-1]:,.0f} (max {max(s):,.0f})" if s else "none read" for s in series
    )


def report(
    args: argparse.Namespace,
    kinds: list[str],
    ceiling: Result,
    results: dict[tuple[str, bool, str], Result],
    opened: dict[str, tuple[dict[str, Any], list[float]]],
) -> str:
    bare_rps = ceiling.median("rps")
    lines = [
        HEADING,
        "",
        f"`python bench/mix.py --runs {args.runs} --seconds {args.seconds} --open-rate "
        f"{args.open_rate:g} --open-seconds {args.open_seconds:g}` on "
        f"{datetime.now(UTC):%Y-%m-%d} (cpu speed {python_speed() * 1000:.0f} ms for "
        "`sum(range(10**7))`). Closed loop: "
        f"wrk, 16 connections, {args.seconds} s a run, median of {args.runs} (lowest to "
        "highest), each run on a new database; the bare handler took the same bodies in "
        "the same run. The mix and the channel are described in bench/mix.py.",
        "",
        "| scenario | webhooks/s (spread) | against the bare handler | p50 ms | p99 ms "
        "| errors | messages/s heard | pending each run: first → last second (max) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| bare aiohttp handler | {bare_rps:,.0f} ({ceiling.spread('rps')}) | 1 | "
        f"{ceiling.median('p50_ms'):.1f} | {ceiling.median('p99_ms'):.1f} | "
        f"{sum(r.errors for r in ceiling.runs)} | | |",
    ]
    for (kind, with_channel, tree), found in results.items():
        name = f"mix, {kind}{'' if tree == 'this tree' else f' ({tree})'}, " + (
            "a channel hearing every change" if with_channel else "no channel"
        )
        lines.append(
            f"| {name} | {found.median('rps'):,.0f} ({found.spread('rps')}) | "
            f"{found.median('rps') / bare_rps:.3f} | {found.median('p50_ms'):.1f} | "
            f"{found.median('p99_ms'):.1f} | {sum(r.errors for r in found.runs)} | "
            + (
                f"{statistics.median(found.heard):,.0f} | {_pending(found.pending)} |"
                if with_channel
                else " | |"
            )
        )
    lines.append("")
    for kind, tree in itertools.product(kinds, dict.fromkeys(t for _, _, t in results)):
        with_one, without = results[kind, True, tree], results[kind, False, tree]
        ratio = with_one.median("rps") / without.median("rps")
        lines.append(f"- {kind}, {tree}: the mix with a channel against without: **{ratio:.2f}**")
    if opened:
        lines += [
            "",
            f"Open loop, the mix at {args.open_rate:g} webhooks/s for {args.open_seconds:g} s with "
            "the channel (bench/openloop.c, 128 connections, latency from each request's "
            "scheduled start):",
            "",
            "| database | achieved/s | p50 ms | p95 ms | p99 ms | max ms | errors "
            "| pending: first → last second (max) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for kind, (found, samples) in opened.items():
            lines.append(
                f"| {kind} | {found['achieved']:,.0f} | {found['p50_ms']:.1f} | "
                f"{found['p95_ms']:.1f} | {found['p99_ms']:.1f} | {found['max_ms']:.0f} | "
                f"{found['errors']} | {_pending([samples])} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
