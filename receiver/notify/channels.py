"""Channels: named sets of Apprise URLs, and one send through them.

Apprise does blocking I/O; `Apprise.async_notify` runs each service's send in Apprise's
own thread pool, never on the event loop. A fresh Apprise object per send sidesteps the
per-object throttle of some plugins (email waits 5.5 s between two sends on one object):
our own pacing is one message per incident change, and the retry policy is ours too.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

# Apprise is imported where it is used: a receiver without channels never loads it, and
# one with channels loads it (and all its plugins) while validating them at start-up.


def _instantiate(url: str) -> Any:
    import apprise

    return apprise.Apprise.instantiate(url)


def check_url(url: str, label: str) -> None:
    """Validate without any network traffic; the message never repeats the URL itself."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if not scheme:
        raise ValueError(f"{label} is not a URL; write it like slack://... or mailto://...")
    if _instantiate(url) is None:
        raise ValueError(
            f"{label} ({scheme}://...) is not a URL Apprise can use: check the scheme and the "
            "parts that service requires (see Apprise's documentation for the service)"
        )


def privacy_form(url: str) -> str:
    """The URL as Apprise shows it with its secrets hidden (each service knows which of
    its parts are secret: a Slack token is the path, a mail password the userinfo)."""
    plugin = _instantiate(url)
    if plugin is None:
        return "(invalid URL)"
    return str(plugin.url(privacy=True))


def shown_url(url: str) -> str:
    """A channel URL as people see it (check-config, the delivery log): scheme and host,
    every part after the host masked. Apprise's privacy form leaves what a service does
    not call secret, such as a token in a json:// path or a header."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    if not parts.scheme or not host:
        return "(invalid URL)"
    rest = parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc
    return f"{parts.scheme}://{host}" + ("/***" if rest else "")


_TOKENS = re.compile(r"[^/:@?&=#,;+\s]+")
_MIN_SECRET = 3  # as the masker's


def url_secrets(raw: str, private: str) -> set[str]:
    """The parts of `raw` that its privacy form hides: user, password, host, path
    segments and query values it does not show as they are."""
    shown = set(_TOKENS.findall(unquote(private)))
    parts = urlsplit(raw)
    candidates = [parts.username, parts.password]
    candidates += parts.netloc.rsplit("@", 1)[-1].split(":")  # host, and what sits as port
    candidates += parts.path.split("/")
    candidates += [value for _key, value in parse_qsl(parts.query)]
    found = set()
    for candidate in candidates:
        if not candidate:
            continue
        for form in {candidate, unquote(candidate)}:
            if len(form) >= _MIN_SECRET and not set(_TOKENS.findall(form)) <= shown:
                found.add(form)
    return found


def secrets_of(urls: list[str]) -> set[str]:
    """What the masker must hide of these channel URLs."""
    found: set[str] = set()
    for url in urls:
        found |= url_secrets(url, privacy_form(url))
    return found


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    severity: str  # apprise notify type: info, success, warning, failure


@dataclass(frozen=True)
class ServiceOutcome:
    url: str  # masked
    ok: bool
    status: str
    errors: list[str]


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    status: str  # delivered | failed | timeout
    seconds: float
    services: list[ServiceOutcome]
    problem: str | None = None  # why nothing could be sent at all

    @property
    def error(self) -> str | None:
        if self.ok:
            return None
        if self.problem is not None:
            return self.problem
        lines = [
            f"{s.url}: {s.status}: {'; '.join(s.errors) or 'no detail'}" for s in self.services
        ]
        return "\n".join(lines) or self.status

    def as_json(self) -> list[dict[str, object]]:
        return [
            {"url": s.url, "ok": s.ok, "status": s.status, "errors": s.errors}
            for s in self.services
        ]


async def send(
    urls: list[str], message: Message, deadline: timedelta, mask: Callable[[str], str]
) -> SendOutcome:
    import apprise

    notifier = apprise.Apprise()
    for url in urls:
        notifier.add(url)
    started = time.monotonic()
    result = await notifier.async_notify(
        body=message.body,
        title=message.title,
        notify_type=apprise.NotifyType(message.severity),
        body_format=apprise.NotifyFormat.MARKDOWN,
        timeout=deadline.total_seconds(),
        log_level=logging.WARNING,
    )
    seconds = time.monotonic() - started
    services = [
        ServiceOutcome(
            url=mask(shown_url(service.url)),
            ok=bool(service),
            status=service.status.name.lower(),
            errors=[mask(entry.message) for entry in service.logs()],
        )
        for service in result
    ]
    ok = bool(result) and all(s.ok for s in services)
    status = "delivered" if ok else ("timeout" if result.status.name == "TIMEOUT" else "failed")
    return SendOutcome(ok, status, seconds, services)
