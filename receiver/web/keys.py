"""Typed keys for what the application shares between handlers."""

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from receiver.config import FileConfig
from receiver.notify.worker import Outbox
from receiver.secrets import Masker
from receiver.settings import Settings
from receiver.store.engine import Writer

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
WRITER = web.AppKey("writer", Writer)
HEAD_REVISION = web.AppKey("head_revision", str)
CONFIG = web.AppKey("config", FileConfig)
OUTBOX = web.AppKey("outbox", Outbox)
MASKER = web.AppKey("masker", Masker)
