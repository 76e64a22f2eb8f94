"""Copy SQLite's write-ahead log into the database file off the commit path.

SQLite does this inside a commit once the log passes 1,000 pages: that commit then
copies the pages and syncs the file while every webhook of its batch waits, which
doubled p99 latency under load. Here a thread with its own connection runs a PASSIVE
checkpoint (it never waits for the writer or readers, nor makes them wait) shortly after
commits. The writer's own automatic checkpoint stays as a backstop at a higher mark
(WRITER_AUTOCHECKPOINT_PAGES): under steady writes a PASSIVE checkpoint never quite
catches up with the end of the log, so the log only starts over when the writer finishes
one, by then with little left to copy.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from urllib.parse import quote

log = logging.getLogger(__name__)

WRITER_AUTOCHECKPOINT_PAGES = 8000  # 32 MB of log with 4 KiB pages
PAUSE_SECONDS = 0.25  # at most four checkpoints a second
_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"  # answers (busy, log pages, pages copied)


class Checkpointer:
    def __init__(self, database: str) -> None:
        self._database = database
        self._due = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def due(self) -> None:
        """Called after each commit: cheap, and many calls make one checkpoint."""
        self._due.set()

    def close(self) -> None:
        self._stop.set()
        self._due.set()
        self._thread.join()

    def _connect(self) -> sqlite3.Connection:
        # mode=rw: never create a file where the database was (it may have been moved).
        uri = f"file:{quote(self._database)}?mode=rw"
        return sqlite3.connect(uri, uri=True, check_same_thread=False)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.is_set():
                self._due.wait()
                self._due.clear()
                if self._stop.is_set():
                    return
                try:
                    conn = conn or self._connect()
                    _busy, log_pages, _copied = conn.execute(_CHECKPOINT).fetchone()
                    if log_pages < 0:  # not in WAL mode (schema left to the operator)
                        log.info("%s is not in WAL mode: no checkpoints to run", self._database)
                        return
                except sqlite3.Error as exc:  # the writer's own checkpoint still bounds the log
                    log.warning("background WAL checkpoint failed, will retry: %s", exc)
                    if conn is not None:
                        conn.close()
                    conn = None
                self._stop.wait(PAUSE_SECONDS)
        finally:
            if conn is not None:
                conn.close()
