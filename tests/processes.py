"""Receivers as real processes (`python -m receiver serve`), for what only a process
shows: several replicas on one database, SIGTERM, SIGKILL, its logs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

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
