"""Service settings: command-line flag, else RECEIVER_* environment variable, else default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./receiver.db"
LogLevel = Literal["debug", "info", "warning", "error"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECEIVER_", extra="forbid")

    host: str = Field("0.0.0.0", description="address to listen on")
    port: int = Field(5001, ge=0, le=65535, description="port to listen on (0: any free port)")
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB",
    )
    config: Path | None = Field(None, description="YAML configuration file (optional)")
    log_level: LogLevel = Field("info", description="log verbosity")
    max_body_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="largest webhook body accepted, in bytes"
    )
    migrate: bool = Field(True, description="upgrade the database schema on start")
    external_url: str = Field(
        "",
        description="the URL people reach this service at, for links in messages "
        "(e.g. https://alerts.example.com)",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        "NORMAL",
        description="SQLite durability: NORMAL survives a process crash, FULL a power loss",
    )

    @field_validator("database_url")
    @classmethod
    def _supported_driver(cls, url: str) -> str:
        if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST/DB"
            )
        return url

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
