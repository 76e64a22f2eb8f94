"""Receivers as real processes (`python -m receiver serve`), for what only a process
shows: several replicas on one database, SIGTERM, SIGKILL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time


def serve(database_url: str, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "receiver", "serve", "--host", "127.0.0.1", "--port", "0", *flags],
        env={**os.environ, "RECEIVER_DATABASE_URL": database_url},
        stderr=subprocess.PIPE,
        text=True,
    )


def address(proc: subprocess.Popen[str]) -> str:
    """The base URL the process logs once it listens (blocking: call it in a thread)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        seen.append(line)
        found = re.search(r"listening on (https?://127\.0\.0\.1:\d+)", line)
        if found:
            return found.group(1)
        if not line and proc.poll() is not None:
            break
    raise AssertionError("serve did not start:\n" + "".join(seen))
