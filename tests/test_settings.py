"""Settings: a flag wins over its RECEIVER_* variable, which wins over the default."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from receiver.runtime.settings import DEFAULT_DATABASE_URL, Settings


@pytest.fixture(autouse=True)
def _no_receiver_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("RECEIVER_"):
            monkeypatch.delenv(name)


def test_defaults_without_flags_or_variables() -> None:
    settings = Settings()
    assert (settings.port, settings.database_url, settings.config) == (
        5001,
        DEFAULT_DATABASE_URL,
        None,
    )
    assert settings.migrate is True


def test_variables_fill_in_and_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEIVER_PORT", "6001")
    monkeypatch.setenv("receiver_migrate", "false")
    monkeypatch.setenv("RECEIVER_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("RECEIVER_CONFIG", "/etc/receiver.yml")
    settings = Settings()
    assert settings.port == 6001
    assert settings.migrate is False
    assert settings.log_level == "debug"
    assert settings.config == Path("/etc/receiver.yml")


def test_a_flag_wins_over_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEIVER_PORT", "6001")
    assert Settings(port=7001).port == 7001


def test_an_empty_config_variable_means_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEIVER_CONFIG", "")
    assert Settings().config is None


@pytest.mark.parametrize("name", ["RECEIVER_DATABASE_URL", "RECEIVER_PORT"])
def test_other_empty_variables_are_mistakes_not_defaults(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # An empty RECEIVER_DATABASE_URL (a secret that did not arrive) must not quietly
    # store alerts in a local file instead.
    monkeypatch.setenv(name, "")
    with pytest.raises(ValidationError):
        Settings()


def test_a_bad_variable_is_reported_under_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEIVER_MAX_BODY_BYTES", "-1")
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert [e["loc"] for e in caught.value.errors()] == [("max_body_bytes",)]


def test_unrelated_variables_and_unknown_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEIVER_NOT_A_SETTING", "x")  # ignored, as any other variable
    assert Settings().port == 5001
    with pytest.raises(ValidationError):
        Settings(not_a_setting="x")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite://",
        "sqlite+aiosqlite:///",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file::memory:?uri=true",
        "sqlite+aiosqlite:///file:x?mode=memory&uri=true",
    ],
)
def test_an_in_memory_sqlite_database_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="give a file"):
        Settings(database_url=url)


def test_file_databases_are_accepted() -> None:
    for url in ("sqlite+aiosqlite:///./receiver.db", "sqlite+aiosqlite:////var/lib/r/a.db"):
        assert Settings(database_url=url).database_url == url


def test_the_database_timeout_is_a_duration_and_must_be_positive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().database_timeout == timedelta(seconds=10)
    monkeypatch.setenv("RECEIVER_DATABASE_TIMEOUT", "1500ms")
    assert Settings().database_timeout == timedelta(milliseconds=1500)
    for bad in ("0s", "ten seconds"):
        with pytest.raises(ValidationError, match=r"0s|duration"):
            Settings(database_timeout=bad)
