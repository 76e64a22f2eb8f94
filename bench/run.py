"""Benchmark alert-receiver on this machine and write docs/benchmarks.md.

    python bench/run.py                      # every part, 15 to 20 minutes
    python bench/run.py --seconds 5 --repeats 1 --open-seconds 10   # a quick look, ~5 min
    python bench/run.py --only core          # this script's own scenarios, about 6 minutes
    python bench/run.py --only mix,outbox --args outbox="--databases sqlite"

Parts, run in this order (--only picks some):

  core        this script's own scenarios: closed loop (wrk, 16 connections; fresh, repeat
              and batch webhooks on SQLite, fresh on Postgres, and the bare aiohttp
              handler), open loop (bench/openloop.c at 100 to 1000 webhooks/s), start-up,
              shutdown under load, and memory with 1,000,000 alerts stored. Writes the top
              of --out, down to the marker line below which the other parts' sections are.
  mix         bench/mix.py: the realistic mix, with and without a channel, closed and open
              loop.
  outbox      bench/outbox.py: the outbox draining an alert storm.
  bigwebhook  bench/bigwebhook.py: one big webhook's event-loop stall and memory.

The last three run as processes of their own with this interpreter; each rewrites only its
own section of --out (the hand-written sections that read each table, and sections of
other scripts, stay), and takes --out, --postgres and flags scaled from this script's, so
that at the defaults each runs with its own:

  --seconds       mix --seconds (the same); outbox --incidents, 200 a second (2,000 at 10)
  --repeats       mix and outbox --runs (the same); bigwebhook --runs, 5/3 as many (5 at 3)
  --open-seconds  mix --open-seconds (the same)

--args PART=FLAGS adds flags of that script's own, after these (so they win); see
`python bench/PART.py --help`. bench/scrape.py and bench/reads.py write their sections
when run alone.

The closed-loop runs use wrk (Debian package `wrk`); the open-loop runs use
bench/openloop.c, a C generator built with gcc at run time. Everything talks to 127.0.0.1
only, and every run is bounded in time. Ratios against the bare aiohttp handler are
measured in the same run, because absolute numbers on a shared 2-core machine move from run
to run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONNECTIONS = 16
OPEN_CONNECTIONS = 128  # bench/openloop.c's default
PARTS = ("core", "mix", "outbox", "bigwebhook")  # in the order they run
SCRIPTS = PARTS[1:]  # bench/NAME.py, each writing its own section


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def wait_ready(url: str, deadline: float = 60.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} not ready after {deadline}s")


def serve(
    database_url: str,
    port: int,
    tree: Path | None = None,
    extra: Sequence[str] = (),
    stderr: IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """The installed receiver, or the one of another checkout `tree` (bench/ab.py);
    `extra` flags come last, so they override the defaults (bench/reads.py logs access)."""
    env = {**os.environ, "RECEIVER_DATABASE_URL": database_url}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return subprocess.Popen(
        [sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", *extra],
        env=env, cwd=tree, stderr=stderr,
    )  # fmt: skip


def add_postgres_flag(parser: argparse.ArgumentParser) -> None:
    """Where the Postgres scenarios run (every bench script takes the same flag)."""
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
    )


@contextmanager
def receiver(
    database_url: str, tree: Path | None = None, extra: Sequence[str] = ()
) -> Iterator[str]:
    port = free_port()
    proc = serve(database_url, port, tree, extra)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/-/ready")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@contextmanager
def bare() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "bare.py"), str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(2000):
            try:
                urllib.request.urlopen(
                    urllib.request.Request(f"{base}/alerts", data=b"{}", method="POST"), timeout=1
                )
                break
            except OSError:
                time.sleep(0.005)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Wrk:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)$", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(base: str, script: str, seconds: int, args: Sequence[str] = ()) -> Wrk:
    """One wrk run; `args` go to the script's init (after `--`)."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency",
         "-s", str(HERE / script), f"{base}/alerts", *(["--", *args] if args else [])],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    wrapped = re.search(r"^mix wrapped: (\d+)", out, re.M)
    if wrapped and int(wrapped.group(1)):
        raise SystemExit(f"{script} ran out of bodies: write more of them for {seconds} s")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return Wrk(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        errors=errors,
    )


@dataclass
class Scenario:
    name: str
    target: str
    runs: list[Wrk] = field(default_factory=list)
    per_request: int = 1

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)

    def spread(self, attr: str) -> str:
        values = [getattr(r, attr) for r in self.runs]
        return f"{min(values):,.0f} to {max(values):,.0f}" if len(values) > 1 else "single run"


def openloop(base: str, rate: float, seconds: float, bodies: Path | None = None) -> dict[str, Any]:
    """Run bench/openloop.c, built here with gcc, and return its JSON line; with `bodies`
    (a file of one webhook a line), request n sends line n instead of a new alert."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise SystemExit("gcc is needed to build bench/openloop.c: apt-get install gcc")
    with tempfile.TemporaryDirectory(prefix="openloop-") as build:
        binary = Path(build) / "openloop"
        subprocess.run(
            [gcc, "-O2", "-pthread", "-Wall", "-Wextra", "-o", str(binary),
             str(HERE / "openloop.c")],
            check=True, timeout=120,
        )  # fmt: skip
        out = subprocess.run(
            [str(binary), f"{base}/alerts", str(rate), str(seconds),
             *([str(OPEN_CONNECTIONS), str(bodies)] if bodies else [])],
            capture_output=True, text=True, check=True, timeout=seconds + 120,
        ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(out)
    return result


def startup(database_url: str, repeats: int) -> tuple[float, float]:
    """Median seconds from launch to /-/ready on an existing database, and of the import
    baseline the issue compares it with, taken in turns so that drift hits both alike.

    The receiver's bytecode is compiled first, as an installed package's is (and as the
    baseline's libraries are): an editable checkout under PYTHONDONTWRITEBYTECODE would
    otherwise compile every module on every launch."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "receiver")], check=True)
    launches, imports = [], []
    for _ in range(repeats):
        port = free_port()
        started = time.perf_counter()
        proc = serve(database_url, port)
        wait_ready(f"http://127.0.0.1:{port}/-/ready")
        launches.append(time.perf_counter() - started)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import aiohttp, sqlalchemy, pydantic"], check=True)
        imports.append(time.perf_counter() - started)
    return statistics.median(launches), statistics.median(imports)


def shutdown_under_load(workdir: Path) -> dict[str, Any]:
    """SIGTERM while wrk sends fresh alerts; then compare what was acknowledged with what
    the database holds."""
    db = workdir / "shutdown.db"
    port = free_port()
    proc = serve(f"sqlite+aiosqlite:///{db}", port)
    base = f"http://127.0.0.1:{port}"
    wait_ready(f"{base}/-/ready")
    load = subprocess.Popen(
        ["wrk", "-t2", f"-c{CONNECTIONS}", "-d6s", "-s", str(HERE / "fresh.lua"),
         f"{base}/alerts"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(3)
    started = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    seconds = time.perf_counter() - started
    out, _ = load.communicate(timeout=60)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
    # wrk counts completed responses; those that were not 2xx are not acknowledgements.
    acknowledged = total - (int(non2xx.group(1)) if non2xx else 0)
    return {"seconds": seconds, "acknowledged_at_most": acknowledged, "stored": stored}


def rss_after_a_million(workdir: Path, seconds: int) -> dict[str, Any]:
    """Fill a database with 1,000,000 alerts (written directly, for speed), then serve
    from it under fresh load and API reads, and read the process's resident memory."""
    db = workdir / "million.db"
    url = f"sqlite+aiosqlite:///{db}"
    subprocess.run(
        [sys.executable, "-m", "receiver", "migrate", "--database-url", url],
        check=True, capture_output=True,
    )  # fmt: skip
    with sqlite3.connect(db) as conn:
        rows = (
            (f"{n:016x}", "2026-11-01 00:00:00.000000", "2026-11-01 01:00:00.000000", "resolved",
             f"Million{n % 500}", "warning",
             json.dumps({"alertname": f"Million{n % 500}", "instance": f"i{n}"}),
             '{"summary": "bench"}', "", "2026-11-01 00:00:00.000000",
             "2026-11-01 00:00:00.000000")
            for n in range(1_000_000)
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO alerts (fingerprint, starts_at, ends_at, status, alertname, severity,"
            " labels, annotations, generator_url, first_received_at, last_received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    port = free_port()
    proc = serve(url, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/-/ready")
        load = wrk(base, "fresh.lua", seconds)
        for query in ("", "?status=firing", "?alertname=Million7", "?q=i12345", "?limit=1000"):
            urllib.request.urlopen(f"{base}/api/v1/alerts{query}", timeout=60).read()
        status = Path(f"/proc/{proc.pid}/status").read_text()
        rss_kb = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return {"rss_mb": rss_kb / 1024, "fresh_rps": load.rps}


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:8]}"
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def new_database(kind: str, work: Path, postgres: str) -> Iterator[str]:
    """A new, empty database of `kind` (sqlite: a file in `work`; postgres: dropped after)."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{work / f'bench-{uuid.uuid4().hex}.db'}"
    else:
        with postgres_database(postgres) as url:
            yield url


def versions() -> dict[str, str]:
    import aiohttp
    import sqlalchemy

    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[
        0
    ]
    return {
        "machine": f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "aiohttp": aiohttp.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "wrk": wrk_version.strip(),
        "cpu speed": f"{python_speed() * 1000:.0f} ms for `sum(range(10**7))` (median of 5; "
        "compare runs of different days by this)",
    }


def python_speed() -> float:
    """The same machine type is not always equally fast: a fixed pure-Python loop, timed
    when the report is written, tells whether absolute numbers can be compared."""
    times = []
    for _ in range(5):
        started = time.perf_counter()
        sum(range(10**7))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def plot(points: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = [p["offered"] for p in points]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        ax.plot(rates, [p[key] for p in points], marker="o", label=label)
    ax.set_xlabel("offered load (webhooks/s, one new alert each, SQLite)")
    ax.set_ylabel("latency (ms, from scheduled start)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title("alert-receiver: latency against offered load (open loop)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def only(text: str) -> tuple[str, ...]:
    """--only's value: some of PARTS, comma-separated, kept in PARTS' order."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    if not names or names - set(PARTS):
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of {', '.join(PARTS)} (got {text!r})"
        )
    return tuple(name for name in PARTS if name in names)


def script_args(text: str) -> tuple[str, list[str]]:
    """--args' value: PART=FLAGS, FLAGS split as a shell would."""
    name, sep, flags = text.partition("=")
    if not sep or name not in SCRIPTS:
        raise argparse.ArgumentTypeError(f"PART=FLAGS, PART one of {', '.join(SCRIPTS)}")
    return name, shlex.split(flags)


def scaled(default: int, flag: float, flag_default: float) -> int:
    """A script's `default` in proportion to one of run.py's flags (at least 1)."""
    return max(1, int(default * flag / flag_default))


def script_command(args: argparse.Namespace, name: str) -> list[str]:
    """bench/NAME.py's command line: flags scaled from run.py's, then --args' own."""
    flags = {
        "mix": ["--runs", str(args.repeats), "--seconds", str(args.seconds),
                "--open-seconds", f"{args.open_seconds:g}"],
        "outbox": ["--runs", str(args.repeats),
                   "--incidents", str(scaled(2000, args.seconds, 10))],
        "bigwebhook": ["--runs", str(scaled(5, args.repeats, 3))],
    }[name]  # fmt: skip
    own = [flag for part, given in args.args if part == name for flag in given]
    return [sys.executable, str(HERE / f"{name}.py"), *flags,
            "--out", str(args.out), "--postgres", args.postgres, *own]  # fmt: skip


def needs(parts: Sequence[str]) -> None:
    """Stop before measuring anything when a tool that `parts` need is missing."""
    if {"core", "mix"} & set(parts):
        if shutil.which("wrk") is None:
            raise SystemExit("wrk is needed: apt-get install wrk")
        if shutil.which("gcc") is None:
            raise SystemExit("gcc is needed to build bench/openloop.c: apt-get install gcc")
    if "core" in parts and importlib.util.find_spec("matplotlib") is None:
        raise SystemExit("matplotlib is needed for the latency plot: pip install -e '.[bench]'")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=int, default=10, help="length of each closed-loop run (and of mix's)"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs per scenario (median, spread), here and in the scripts",
    )
    parser.add_argument(
        "--open-seconds",
        type=float,
        default=60,
        help="length of the 1000/s open-loop run (and of mix's open loop)",
    )
    parser.add_argument(
        "--only",
        type=only,
        default=PARTS,
        metavar="PARTS",
        help=f"the parts to run, comma-separated: {','.join(PARTS)} (default: all)",
    )
    parser.add_argument(
        "--args",
        type=script_args,
        action="append",
        default=[],
        metavar="PART=FLAGS",
        help="flags for bench/PART.py itself, after the scaled ones (repeatable)",
    )
    add_postgres_flag(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="the report every part writes into (default: docs/benchmarks.md)",
    )
    args = parser.parse_args()
    needs(args.only)

    failed: list[str] = []
    if "core" in args.only:
        work = Path(tempfile.mkdtemp(prefix="receiver-bench-"))
        try:
            core(args, work)
        except Exception:  # the other parts can still run; the traceback says why
            traceback.print_exc()
            failed.append("core (bench/run.py's own scenarios)")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    for name in SCRIPTS:
        if name in args.only:
            command = script_command(args, name)
            print(f"== {shlex.join(['python', *command[1:]])}", flush=True)
            started = time.perf_counter()
            code = subprocess.run(command).returncode
            print(f"   {name}: {time.perf_counter() - started:.0f} s, exit {code}", flush=True)
            if code:
                failed.append(f"bench/{name}.py (exit {code})")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}; the parts that ran wrote into {args.out}")


def core(args: argparse.Namespace, work: Path) -> None:
    """This script's own scenarios, their databases in `work`; writes the top of args.out."""
    sqlite_url = lambda name: f"sqlite+aiosqlite:///{work / name}"  # noqa: E731
    scenarios = [
        Scenario("bare aiohttp handler (ceiling)", "bare"),
        Scenario("fresh: 1 new alert per webhook, SQLite", "fresh.lua"),
        Scenario("repeat: the same 50 groups re-sent, SQLite", "repeat.lua"),
        Scenario("batch: 20 new alerts per webhook, SQLite", "batch.lua", per_request=20),
        Scenario("fresh: 1 new alert per webhook, Postgres", "fresh.lua"),
    ]
    for index, scenario in enumerate(scenarios):
        print(f"== {scenario.name}", flush=True)
        if scenario.target == "bare":
            context = bare()
        elif "Postgres" in scenario.name:
            context = None
        else:
            context = receiver(sqlite_url(f"s{index}.db"))
        if context is None:
            with postgres_database(args.postgres) as pg_url, receiver(pg_url) as base:
                scenario.runs = [
                    wrk(base, scenario.target, args.seconds) for _ in range(args.repeats)
                ]
        else:
            with context as base:
                script = "fresh.lua" if scenario.target == "bare" else scenario.target
                scenario.runs = [wrk(base, script, args.seconds) for _ in range(args.repeats)]
        print(
            f"   {scenario.median('rps'):,.0f} req/s, p99 {scenario.median('p99_ms'):.1f} ms",
            flush=True,
        )

    print("== open loop", flush=True)
    sweep = []
    with receiver(sqlite_url("open.db")) as base:
        for rate in (100, 250, 500, 750):
            sweep.append(openloop(base, rate, 10))
            print(f"   {sweep[-1]}", flush=True)
        long_run = openloop(base, 1000, args.open_seconds)
        sweep.append(long_run)
        print(f"   {long_run}", flush=True)

    print("== start-up and shutdown", flush=True)
    launch, imports = startup(sqlite_url("s1.db"), 5)
    stop = shutdown_under_load(work)
    print(f"   start-up {launch:.3f}s vs imports {imports:.3f}s; shutdown {stop}", flush=True)
    print("== memory after 1,000,000 alerts", flush=True)
    memory = rss_after_a_million(work, args.seconds)
    print(f"   {memory}", flush=True)

    png = args.out.parent / "benchmarks-latency.png"
    plot(sweep, png)
    write_report(args, scenarios, sweep, long_run, launch, imports, stop, memory, png)
    print(f"wrote {args.out}")


def write_report(
    args: argparse.Namespace,
    scenarios: list[Scenario],
    sweep: list[dict[str, Any]],
    long_run: dict[str, Any],
    launch: float,
    imports: float,
    stop: dict[str, Any],
    memory: dict[str, Any],
    png: Path,
) -> None:
    info = versions()
    ceiling = scenarios[0].median("rps")
    fresh = scenarios[1].median("rps")
    scripts = [f"bench/{name}.py" for name in SCRIPTS if name in args.only]
    lines = [
        "# Benchmarks",
        "",
        "Produced by `python bench/run.py"
        + (f" --seconds {args.seconds}" if args.seconds != 10 else "")
        + (f" --repeats {args.repeats}" if args.repeats != 3 else "")
        + (f" --open-seconds {args.open_seconds:g}" if args.open_seconds != 60 else "")
        + (f" --only {','.join(args.only)}" if args.only != PARTS else "")
        + "".join(f" --args {shlex.quote(f'{n}={shlex.join(f)}')}" for n, f in args.args)
        + f"` on {time.strftime('%Y-%m-%d')}"
        + (
            f", which also runs {_listed(scripts)}"
            " for their sections further down (each names its own command and date)"
            if scripts
            else ""
        )
        + "; the load generator runs on the same machine.",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        f"## Closed loop: wrk, {CONNECTIONS} connections, {args.seconds} s a run, "
        f"median of {args.repeats}",
        "",
        "| scenario | webhooks/s (spread) | alerts/s | p50 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in scenarios:
        lines.append(
            f"| {s.name} | {s.median('rps'):,.0f} ({s.spread('rps')}) | "
            f"{s.median('rps') * s.per_request:,.0f} | {s.median('p50_ms'):.1f} | "
            f"{s.median('p99_ms'):.1f} | {sum(r.errors for r in s.runs)} |"
        )
    lines += [
        "",
        f"Throughput ratio fresh / bare handler, same run: **{fresh / ceiling:.2f}**.",
        "",
        "## Open loop: fixed arrival rate, latency from the scheduled start",
        "",
        "| offered/s | achieved/s | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {p['offered']:.0f} | {p['achieved']:.0f} | {p['p50_ms']:.1f} | {p['p95_ms']:.1f} | "
            f"{p['p99_ms']:.1f} | {p['max_ms']:.0f} | {p['errors']} |"
            for p in sweep
        ),
        "",
        f"The last row is the {long_run['requests'] / long_run['offered']:.0f} s run at 1000/s. "
        "The open-loop generator (bench/openloop.c) is a C program on the same two cores: "
        f"{long_run['connections']} keep-alive connections, one thread each; request n is "
        "scheduled at start + n/rate and its latency runs from that time, so a request sent "
        "late still counts its wait. Its own CPU in that run: "
        f"{long_run['generator_cpu_s']:.2f} s, "
        f"{long_run['generator_cpu_per_request_us']:.0f} µs per request.",
        "",
        f"![latency against offered load]({png.name})",
        "",
        "## Start-up and shutdown",
        "",
        f"- Launch to `/-/ready` on an existing database: **{launch * 1000:.0f} ms** "
        f"(median of 5), "
        f"against {imports * 1000:.0f} ms for "
        f'`python -c "import aiohttp, sqlalchemy, pydantic"`: '
        f"ratio **{launch / imports:.2f}**.",
        f"- SIGTERM under load to exit: **{stop['seconds']:.2f} s**; at most "
        f"{stop['acknowledged_at_most']} webhooks were answered 2xx and {stop['stored']} alerts "
        "are stored (each webhook carries one new alert), so nothing acknowledged was lost.",
        "",
        "## Memory",
        "",
        f"Resident memory of `serve` on a database of 1,000,000 alerts, after {args.seconds} s "
        f"of fresh load ({memory['fresh_rps']:,.0f} webhooks/s at that size) and API listings "
        f"over the whole history: **{memory['rss_mb']:.0f} MB**.",
        "",
        *targets(scenarios, long_run, launch / imports, stop, memory),
        "",
        "Where the time goes per webhook, and what was tried: [profile.md](profile.md).",
        "",
    ]
    previous = args.out.read_text() if args.out.exists() else ""
    kept = previous[previous.index(KEEP) :] if KEEP in previous else KEEP + "\n"
    args.out.write_text("\n".join(lines) + "\n" + kept)


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# What other scripts measured (bench/mix.py, outbox.py, bigwebhook.py, scrape.py, reads.py)
# follows this line, and stays: each of them rewrites only its own section.
KEEP = "<!-- Sections below come from other bench scripts; bench/run.py keeps them. -->"


def targets(
    scenarios: list[Scenario],
    long_run: dict[str, Any],
    startup_ratio: float,
    stop: dict[str, Any],
    memory: dict[str, Any],
) -> list[str]:
    """The goals of the fast-ingest issue against this run's numbers."""
    bare, fresh, repeat, batch, postgres = scenarios
    lost = stop["acknowledged_at_most"] > stop["stored"]
    rows = [
        ("fresh, SQLite: webhooks/s, p99", ">= 2,000, <= 50 ms",
         f"{fresh.median('rps'):,.0f}, {fresh.median('p99_ms'):.0f} ms",
         fresh.median("rps") >= 2000 and fresh.median("p99_ms") <= 50),
        ("repeat, SQLite: webhooks/s", ">= 3,000", f"{repeat.median('rps'):,.0f}",
         repeat.median("rps") >= 3000),
        ("batch, SQLite: alerts/s", ">= 20,000", f"{batch.median('rps') * 20:,.0f}",
         batch.median("rps") * 20 >= 20000),
        ("fresh, Postgres: webhooks/s", ">= 1,500", f"{postgres.median('rps'):,.0f}",
         postgres.median("rps") >= 1500),
        ("fresh / bare handler", ">= 0.3", f"{fresh.median('rps') / bare.median('rps'):.2f}",
         fresh.median("rps") / bare.median("rps") >= 0.3),
        ("open loop 1000/s: p95, errors", "<= 20 ms, 0",
         f"{long_run['p95_ms']:.0f} ms, {long_run['errors']}",
         long_run["p95_ms"] <= 20 and long_run["errors"] == 0),
        ("RSS with 1,000,000 alerts", "<= 150 MB", f"{memory['rss_mb']:.0f} MB",
         memory["rss_mb"] <= 150),
        ("start-up / imports", "<= 1.3", f"{startup_ratio:.2f}", startup_ratio <= 1.3),
        ("shutdown under load, lost", "<= 2 s, none",
         f"{stop['seconds']:.2f} s, {'some' if lost else 'none'}",
         stop["seconds"] <= 2 and not lost),
    ]  # fmt: skip
    return [
        "## Against the targets",
        "",
        "| goal | target | this run | met |",
        "| --- | --- | --- | --- |",
        *(f"| {g} | {target} | {got} | {'yes' if ok else 'no'} |" for g, target, got, ok in rows),
    ]


if __name__ == "__main__":
    main()
