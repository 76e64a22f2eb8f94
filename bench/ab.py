"""Compare two versions of the receiver in one run: a git revision, checked out into a
temporary worktree, against the working tree. Rounds alternate which version goes first,
and each round measures the bare aiohttp handler too, so that the drift of a shared
machine hits both versions alike and each result is a ratio measured beside its ceiling.

    python bench/ab.py d3e038e                       # 3 rounds of 10 s runs
    python bench/ab.py d3e038e --rounds 5 --seconds 5
    python bench/ab.py f641a9e --new 76b587d         # two revisions, no working tree

Scenarios: fresh and repeat on SQLite, fresh on Postgres (bench/run.py's wrk scripts,
16 connections). Every receiver starts on a new database. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from run import ROOT, add_postgres_flag, bare, postgres_database, receiver, wrk

SCENARIOS = (
    ("fresh: 1 new alert per webhook, SQLite", "fresh.lua", "sqlite"),
    ("repeat: the same 50 groups re-sent, SQLite", "repeat.lua", "sqlite"),
    ("fresh: 1 new alert per webhook, Postgres", "fresh.lua", "postgres"),
)


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="receiver-ab-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), revision],
        check=True,
        capture_output=True,
    )
    # The installed (editable) package maps receiver.migrations to this checkout's
    # migrations/; the other version must migrate with its own.
    (folder / "receiver" / "migrations").symlink_to(folder / "migrations")
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=True
        )


def measure(tree: Path, script: str, kind: str, seconds: int, work: Path, pg: str) -> float:
    if kind == "postgres":
        with postgres_database(pg) as url, receiver(url, tree) as base:
            return wrk(base, script, seconds).rps
    database = work / f"{os.urandom(6).hex()}.db"
    with receiver(f"sqlite+aiosqlite:///{database}", tree) as base:
        return wrk(base, script, seconds).rps


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("revision", help="the version to compare the working tree with")
    parser.add_argument("--new", help="a revision to use instead of the working tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="run the scenarios whose name has this")
    parser.add_argument("--seconds", type=int, default=10)
    add_postgres_flag(parser)
    args = parser.parse_args()
    scenarios = [s for s in SCENARIOS if args.only in s[0]]
    results: dict[tuple[str, str], list[float]] = {}
    work = Path(tempfile.mkdtemp(prefix="receiver-ab-db-"))
    newer = worktree(args.new) if args.new else contextlib.nullcontext(ROOT)
    with worktree(args.revision) as old, newer as new:
        label = args.new or "working tree"
        trees = {args.revision: old, label: new}
        for round_ in range(args.rounds):
            with bare() as base:
                ceiling = wrk(base, "fresh.lua", args.seconds).rps
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for version in order:
                for name, script, kind in scenarios:
                    rps = measure(trees[version], script, kind, args.seconds, work, args.postgres)
                    results.setdefault((version, name), []).append(rps / ceiling)
                    print(f"round {round_ + 1} {version}: {name}: {rps:,.0f}/s", flush=True)
    print()
    label = args.new or "working tree"
    print(f"| scenario | {args.revision} / bare | {label} / bare | new / old |")
    print("| --- | --- | --- | --- |")
    for name, _script, _kind in scenarios:
        old_ratios = results[(args.revision, name)]
        new_ratios = results[(label, name)]
        old_median, new_median = statistics.median(old_ratios), statistics.median(new_ratios)
        print(
            f"| {name} | {old_median:.3f} ({min(old_ratios):.3f} to {max(old_ratios):.3f}) "
            f"| {new_median:.3f} ({min(new_ratios):.3f} to {max(new_ratios):.3f}) "
            f"| {new_median / old_median:.2f} |"
        )


if __name__ == "__main__":
    main()
