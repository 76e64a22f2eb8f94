"""Real delivery targets started by the tests: an HTTP sink for Apprise's json:// and an
SMTP server (aiosmtpd) for mailto://, both on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from aiosmtpd.controller import Controller


@dataclass
class JsonSink:
    """Records what Apprise posts; answers the statuses in `script` first, then `status`."""

    server: TestServer | None = None
    received: list[dict[str, Any]] = field(default_factory=list)
    script: list[int] = field(default_factory=list)
    status: int = 200
    hits: int = 0
    delay: float = 0.0

    def url(self, path: str = "hook") -> str:
        assert self.server is not None
        return f"json://127.0.0.1:{self.server.port}/{path}"

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        await asyncio.sleep(self.delay)
        answer = self.script.pop(0) if self.script else self.status
        body = await request.json()
        if answer < 300:
            self.received.append({"path": request.path, **body})
        return web.Response(status=answer, text=f"sink says {answer}")

    def titles(self) -> list[str]:
        return [m["title"] for m in self.received]


async def start_json_sink() -> JsonSink:
    sink = JsonSink()
    app = web.Application()
    app.router.add_post("/{tail:.*}", sink.handle)
    sink.server = TestServer(app, host="127.0.0.1", port=0)
    await sink.server.start_server()
    return sink


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@dataclass
class SmtpSink:
    controller: Controller
    mailbox: _Mailbox

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def url(self, to: str = "oncall@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=alerts@example.com&to={to}&mode=insecure"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def start_smtp_sink() -> SmtpSink:
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return SmtpSink(controller, mailbox)


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str, seconds: float = 20
) -> None:
    """Wait for a condition the system reaches asynchronously (deliveries, retries)."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        await asyncio.sleep(0.05)
