"""A real browser on the real pages: Debian's chromium driven by Playwright, against a
real `serve` process on a SQLite file, seeded through POST /alerts like Alertmanager.

Every page a test opens is watched: a console error, an uncaught script error, a dialog
(an injected `alert(1)` that ran) or a request to anywhere but 127.0.0.1 fails the test.
Screenshots go to $UI_SCREENSHOTS (default: the test's temporary folder), so that a
person can look at every page; docs/ui.md shows the best of them.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import require
from tests.processes import address, serve

RUNBOOKS = Path(__file__).resolve().parents[2] / "deploy" / "runbooks"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class Watch:
    """What went wrong on the pages of one test."""

    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], "console or script errors"
        assert self.outside == [], "requests that left 127.0.0.1"
        assert self.dialogs == [], "a dialog opened: injected script ran"


@dataclass
class Site:
    base: str
    shots: Path

    def post(self, path: str, body: Any) -> Any:
        request = urllib.request.Request(
            self.base + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=10) as resp:
            return json.loads(resp.read())


class _Sink(http.server.ThreadingHTTPServer):
    daemon_threads = True


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    """A chat service that takes every message (the channels' own tests look inside)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright is not installed (pip install -e '.[test]')")
    require(os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One receiver for the module's tests, on its own SQLite file."""
    folder = tmp_path_factory.mktemp("site")
    shots = Path(os.environ.get("UI_SCREENSHOTS", folder / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    sink = _Sink(("127.0.0.1", 0), _SinkHandler)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    chat = f"json://127.0.0.1:{sink.server_address[1]}"
    config = folder / "receiver.yml"
    config.write_text(
        f"runbooks_dir: {RUNBOOKS}\n"  # steps on pages
        "channels:\n"  # notifications on pages: a local sink that takes everything
        f"  oncall-chat: {chat}/oncall\n"
        f"  team-b-chat: {chat}/team-b\n"
        "routes:\n"
        "  - match: ['severity=\"critical\"']\n"
        "    channels: [oncall-chat]\n"
        "  - match: ['receiver=\"team-b\"']\n"
        "    channels: [team-b-chat]\n"
    )
    proc = serve(
        f"sqlite+aiosqlite:///{folder / 'receiver.db'}",
        "--config",
        str(config),
        "--max-value-bytes",
        "200000",  # room for a hostile 100 KB annotation
    )
    try:
        yield Site(address(proc), shots)
    finally:
        sink.shutdown()
        sink.server_close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def watch() -> Watch:
    return Watch()


Pages = Callable[..., Any]


def _watched(ctx: Any, watch: Watch) -> Any:
    """Every request of this profile is checked before it leaves."""

    def guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            route.continue_()
        else:
            watch.outside.append(route.request.url)
            route.abort()

    ctx.route("**/*", guard)
    return ctx


def _watched_page(ctx: Any, watch: Watch) -> Any:
    tab = ctx.new_page()
    tab.on(
        "console",
        lambda m: watch.errors.append(m.text) if m.type == "error" else None,
    )
    tab.on("pageerror", lambda e: watch.errors.append(str(e)))

    def dialog(d: Any) -> None:
        watch.dialogs.append(d.message)
        d.dismiss()

    tab.on("dialog", dialog)
    return tab


@pytest.fixture
def context(browser: Any, watch: Watch) -> Iterator[Any]:
    """A fresh browser profile; every request is checked before it leaves."""
    ctx = _watched(browser.new_context(viewport={"width": 1280, "height": 860}), watch)
    yield ctx
    ctx.close()
    watch.assert_clean()


@pytest.fixture
def page(context: Any, watch: Watch) -> Any:
    return _watched_page(context, watch)


@pytest.fixture
def new_page(browser: Any, watch: Watch) -> Iterator[Pages]:
    """A watched page in a fresh profile of its own options (dark, another time zone,
    no JavaScript, a phone's viewport...): `new_page(color_scheme="dark")`."""
    made: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 860})
        ctx = _watched(browser.new_context(**options), watch)
        made.append(ctx)
        return _watched_page(ctx, watch)

    yield make
    for ctx in made:
        ctx.close()
    watch.assert_clean()
