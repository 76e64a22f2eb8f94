"""Secrets never leave the process: every text that goes out is masked first.

A secret is a value that came from `${VAR}` in the config file, a part of an Apprise URL
that Apprise itself hides in its privacy form (receiver.notify.channels finds those), or
the database password. The masker
replaces each occurrence with `***` in log records (all of them, through the record
factory, so that no handler can bypass it), attempt errors and API output.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
MIN_SECRET = 3  # shorter values would mask half of every log line


def masked_url(url: str) -> str:
    """The URL with its password, if any, replaced by ***: how a database URL is shown."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


class Masker:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Replace the secrets (a reload may bring new ones)."""
        kept = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, kept))) if kept else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text


_ACTIVE: list[Masker] = []
_original_factory = logging.getLogRecordFactory()


def _masked_record(*args: object, **kwargs: object) -> logging.LogRecord:
    record = _original_factory(*args, **kwargs)
    if not _ACTIVE:
        return record
    active = tuple(_ACTIVE)  # one copy: a reload's thread may add or drop its masker now
    message = record.getMessage()
    masked = message
    for mask in active:
        masked = mask(masked)
    if masked != message:
        record.msg, record.args = masked, None
    if record.exc_info and record.exc_info[1] is not None:
        text = logging.Formatter().formatException(record.exc_info)
        for mask in active:
            text = mask(text)
        record.exc_text = text
    return record


def mask_logs(masker: Masker) -> None:
    """Mask every log record from now on, whoever logs it and wherever it goes."""
    if logging.getLogRecordFactory() is not _masked_record:
        logging.setLogRecordFactory(_masked_record)
    _ACTIVE.append(masker)


def unmask_logs(masker: Masker) -> None:
    _ACTIVE.remove(masker)


@contextmanager
def masking(masker: Masker) -> Iterator[None]:
    mask_logs(masker)
    try:
        yield
    finally:
        unmask_logs(masker)
