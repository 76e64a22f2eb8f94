"""Typed keys for what the application shares between handlers."""

import asyncio

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from receiver.notify.worker import Outbox
from receiver.observe import Observer
from receiver.runtime.live import Live
from receiver.runtime.secrets import Masker
from receiver.runtime.settings import Settings
from receiver.store.engine import Writer

SETTINGS = web.AppKey("settings", Settings)
BASE_URL = web.AppKey("base_url", str)  # of every link sent or shown: Settings.base_url()
ENGINE = web.AppKey("engine", AsyncEngine)
WRITER = web.AppKey("writer", Writer)
LIVE = web.AppKey("live", Live)
OUTBOX = web.AppKey("outbox", Outbox)
MASKER = web.AppKey("masker", Masker)
OBSERVER = web.AppKey("observer", Observer)
DRAINING = web.AppKey("draining", asyncio.Event)  # set on SIGTERM: not ready any more
USER: web.RequestKey[str | None] = web.RequestKey("user")  # who signed in, if anyone
