"""Channels: named sets of Apprise URLs, and one send through them.

A message is a plain-text title and a Markdown body. Apprise converts the body for each
service (to HTML for email) but hands most services the title as it is; only a service
that folds the title into its body (`title_maxlen <= 0`) converts it like the body. So
those get the title escaped as Markdown, the others get it as plain text, and no user
sees a backslash that was meant for a Markdown parser.

Apprise does blocking I/O; `Apprise.async_notify` runs each service's send in Apprise's
own thread pool, never on the event loop. A fresh Apprise object per send sidesteps the
per-object throttle of some plugins (email waits 5.5 s between two sends on one object):
our own pacing is one message per incident change, and the retry policy is ours too.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

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
_CUSTOM = ("+", "-", ":")  # Apprise's query keys for headers, GET parameters, payload fields


def _pairs(query: str) -> list[tuple[str, str]]:
    """Query keys and values as written (parse_qsl would read a header's + as a space)."""
    return [(key, value) for key, _, value in (pair.partition("=") for pair in query.split("&"))]


def _forms(part: str) -> set[str]:
    """A URL part as written, decoded, and encoded again as Apprise writes it in logs;
    those long enough to mask."""
    decoded = unquote(part)
    forms = {part, decoded, quote(decoded, safe=""), quote_plus(decoded)}
    return {form for form in forms if len(form) >= _MIN_SECRET}


def given_secrets(url: str) -> set[str]:
    """The parts of a channel URL that are secret whatever its service: path segments and
    the values of custom headers, GET parameters and payload fields. A service sends
    them as given, so Apprise's privacy form, which its debug log uses, shows them, yet
    a token can sit in any of them. Known without Apprise, so they can be masked before
    Apprise logs the URL while parsing it."""
    parts = urlsplit(url)
    custom = [value for key, value in _pairs(parts.query) if unquote(key).startswith(_CUSTOM)]
    given = parts.path.split("/") + custom
    return {form for part in given for form in _forms(part)}


def url_secrets(raw: str, private: str) -> set[str]:
    """The parts of `raw` the masker must hide: the given ones, and user, password, host
    and query values when its privacy form hides them (Apprise knows which parts its
    service holds secret: a Slack token is the host and path, a mail password the
    userinfo)."""
    shown = set(_TOKENS.findall(unquote(private)))
    parts = urlsplit(raw)
    hidden = [parts.username, parts.password, *parts.netloc.rsplit("@", 1)[-1].split(":")]
    hidden += [value for _key, value in _pairs(parts.query)]
    found = given_secrets(raw)
    for part in hidden:
        if part and not set(_TOKENS.findall(unquote(part))) <= shown:
            found |= _forms(part)
    return found


def secrets_of(urls: list[str]) -> set[str]:
    """What the masker must hide of these channel URLs."""
    found: set[str] = set()
    for url in urls:
        found |= url_secrets(url, privacy_form(url))
    return found


_SYNTAX = re.compile(
    r"[\\`*\[\]<~|]"  # inline syntax anywhere: escapes, code, emphasis, links, HTML
    r"|_(?![^\W_])|(?<![^\W_])_"  # `_` emphasis, except inside a word like api_1
    r"|&(?=#?\w+;)"  # an entity such as &lt;
)
_LINE_START = re.compile(  # blocks: headings, quotes, list items, underlines; after CR too
    r"(?<![^\r\n])([ \t]*(?:\d+(?=[.)](?:\s|\Z)))?)([#>]|[-+=](?=[-+=\s]|\Z)|(?<=\d)[.)])"
)


def markdown_text(text: str) -> str:
    """Text as Markdown that reads as that text and nothing more: no HTML, link, emphasis
    or block of its own. Backslash escapes rather than HTML entities: Apprise's Markdown
    to HTML turns them into entities anyway, and its chat dialects (Slack, Discord,
    Telegram) decode escapes but would show `&lt;` as written. Only what is syntax where
    it stands is escaped, so "CPU > 90% on api_1" stays as it is in text channels too."""
    return _LINE_START.sub(r"\1\\\2", _SYNTAX.sub(r"\\\g<0>", text))


@dataclass(frozen=True)
class Message:
    title: str  # plain text
    body: str  # Markdown
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


def _folds_title(service: Any) -> bool:
    """Whether Apprise reads this service's title as Markdown, like the body: only when
    the service folds it into a body it converts (it has no Markdown-to-text step)."""
    import apprise

    converted = service.resolve_format(apprise.NotifyFormat.MARKDOWN)
    return bool(service.title_maxlen <= 0 and converted != apprise.NotifyFormat.TEXT)


async def send(
    urls: list[str], message: Message, deadline: timedelta, mask: Callable[[str], str]
) -> SendOutcome:
    import apprise

    plain: list[Any] = []  # by the title each service takes
    folded: list[Any] = []
    for url in urls:
        service = apprise.Apprise.instantiate(url)
        if service is not None:
            (folded if _folds_title(service) else plain).append(service)
    started = time.monotonic()
    # A manager only for a title some service takes: each looks up its locale on the
    # filesystem, about a third of a send's set-up on the event loop in an alert storm.
    results = await asyncio.gather(
        *(
            apprise.Apprise(services).async_notify(
                body=message.body,
                title=title,
                notify_type=apprise.NotifyType(message.severity),
                body_format=apprise.NotifyFormat.MARKDOWN,
                timeout=deadline.total_seconds(),
                log_level=logging.WARNING,
            )
            for services, title in ((plain, message.title), (folded, markdown_text(message.title)))
            if services
        )
    )
    seconds = time.monotonic() - started
    services = [
        ServiceOutcome(
            url=mask(shown_url(service.url)),
            ok=bool(service),
            status=service.status.name.lower(),
            errors=[mask(entry.message) for entry in service.logs()],
        )
        for result in results
        for service in result
    ]
    ok = bool(results) and all(results) and all(s.ok for s in services)
    timed_out = bool(services) and all(s.status == "timeout" for s in services)
    status = "delivered" if ok else ("timeout" if timed_out else "failed")
    return SendOutcome(ok, status, seconds, services)


async def send_test(
    channel: str, urls: list[str], deadline: timedelta, mask: Callable[[str], str]
) -> SendOutcome:
    """A short test message through every URL of `channel`: what `notify-test` and the
    channels page send, so both prove the same thing."""
    message = Message(
        title=f"[TEST] alert-receiver: channel {channel}",
        body=f"A test message from alert-receiver on {socket.gethostname()} at "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC. If you read this, the channel works.\n",
        severity="info",
    )
    return await send(urls, message, deadline, mask)
