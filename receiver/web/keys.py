"""Typed keys for what the application shares between handlers."""

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from receiver.settings import Settings
from receiver.store.engine import Writer

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
WRITER = web.AppKey("writer", Writer)
HEAD_REVISION = web.AppKey("head_revision", str)
