"""Service settings: command-line flag, else RECEIVER_* environment variable, else default."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url

from receiver.domain.durations import Duration
from receiver.domain.links import base_url, safe_link
from receiver.runtime.logs import LogFormat

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./receiver.db"
ENV_PREFIX = "RECEIVER_"
LogLevel = Literal["debug", "info", "warning", "error"]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _environment(cls, flags: Any) -> Any:
        """RECEIVER_<NAME> (in any case) fills in what no flag gave."""
        if not isinstance(flags, dict):
            return flags
        env = {
            name[len(ENV_PREFIX) :].lower(): value
            for name, value in os.environ.items()
            if name[: len(ENV_PREFIX)].upper() == ENV_PREFIX
        }
        return {**{f: env[f] for f in cls.model_fields if f in env}, **flags}

    host: str = Field("0.0.0.0", description="address to listen on")
    port: int = Field(5001, ge=0, le=65535, description="port to listen on (0: any free port)")
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB",
    )
    config: Path | None = Field(None, description="YAML configuration file (optional)")
    web_config_file: Path | None = Field(
        None,
        description="users (bcrypt) and TLS, in the format Prometheus and Alertmanager read",
    )
    log_level: LogLevel = Field("info", description="log verbosity")
    log_format: LogFormat = Field(
        "auto", description="json, text, or auto: text on a terminal, JSON lines otherwise"
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="largest webhook body accepted, in bytes"
    )
    max_alerts_per_webhook: int = Field(
        10_000, gt=0, description="most alerts one webhook may carry; more is a 413"
    )
    max_value_bytes: int = Field(
        64 * 1024, gt=0, description="largest label or annotation value, in UTF-8 bytes"
    )
    max_queued_writes: int = Field(
        1000,
        gt=0,
        description="webhooks waiting for the database at most; more are answered 503 "
        "(Alertmanager retries) instead of piling up in memory",
    )
    database_timeout: Duration = Field(
        timedelta(seconds=10),
        description="longest wait on the database (connecting, a pooled connection, one "
        "statement, SQLite's lock); past it the answer is 503 and Alertmanager retries",
    )
    max_concurrent_requests: int = Field(
        1024,
        gt=0,
        description="requests handled at once at most; more are answered 503 with "
        "Retry-After at once (health checks are always answered)",
    )
    shutdown_timeout: Duration = Field(
        timedelta(milliseconds=1500),
        description="on SIGTERM, how long requests in flight and sends under way may take "
        "to finish, together; what is left is handed back for the next start or replica",
    )
    migrate: bool = Field(True, description="upgrade the database schema on start")
    external_url: str = Field(
        "",
        description="the URL people reach this service at, for links in messages "
        "(e.g. https://alerts.example.com; default http://HOSTNAME:PORT, as Alertmanager's)",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description="SQLite durability: NORMAL survives a process crash, FULL a power loss",
    )

    @field_validator("config", "web_config_file", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        # `RECEIVER_CONFIG=` (a compose file's unset variable) means no file, not ".".
        # Other settings keep an empty value and are validated: an empty database URL
        # must fail rather than fall back to a local file.
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _supported_driver(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST/DB"
            )
        if url.startswith("sqlite") and _in_memory(url):
            raise ValueError(
                "an in-memory SQLite database would lose every alert at exit; "
                "give a file: sqlite+aiosqlite:///PATH"
            )
        return url

    @field_validator("external_url")
    @classmethod
    def _http_or_nothing(cls, url: str) -> str:
        # Anything else would make every link in messages silently disappear.
        if url and safe_link(url) is None:
            raise ValueError("give an http:// or https:// URL, e.g. https://alerts.example.com")
        return url.strip()

    def base_url(self) -> str:
        """The base of every link this service sends or shows (the host name read here)."""
        return base_url(self.external_url, socket.gethostname(), self.port)

    @field_validator("database_timeout", "shutdown_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s, e.g. 10s")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    database = parsed.database or ""
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or parsed.query.get("mode") == "memory"
    )
