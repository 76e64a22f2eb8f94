"""The configuration file: channels, routes and delivery, every mistake with file:line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from receiver.runtime.config import FileConfig, load_config
from receiver.runtime.errors import ConfigError

GOOD = """\
channels:
  oncall-chat: "json://127.0.0.1:9000/hook?token=${HOOK_TOKEN}"
  ops-email: ["mailto://alerts:${SMTP_PASS}@example.com?smtp=127.0.0.1&to=ops@example.com"]
routes:
  - match: ['severity="critical"', 'team=~"db|infra"']
    channels: [oncall-chat, ops-email]
    repeat_interval: 4h
    fallback: ops-email
    title: "{{ incident.name }}"
  - channels: [ops-email]
    send_resolved: false
    continue: true
delivery:
  max_attempts: 5
  backoff: 2s
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "receiver.yml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "tok3n-value")
    monkeypatch.setenv("SMTP_PASS", "hunter22")


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.channels["oncall-chat"] == ["json://127.0.0.1:9000/hook?token=tok3n-value"]
    assert len(config.channels["ops-email"]) == 1
    first, second = config.routes
    assert [str(m) for m in first.match] == ['severity="critical"', 'team=~"db|infra"']
    assert first.repeat_interval == timedelta(hours=4)
    assert first.title is not None
    assert first.body is None
    assert second.continue_
    assert not second.send_resolved
    assert config.delivery.max_attempts == 5
    assert config.delivery.backoff == timedelta(seconds=2)
    assert {"tok3n-value", "hunter22"} <= config.secrets


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == FileConfig()


@pytest.mark.parametrize(
    ("change", "line", "needle"),
    [
        (("repeat_interval: 4h", "repeat_interval: 4 hours"), 7, "not a duration"),
        (('team=~"db|infra"', 'team=~"(db"'), 5, "invalid regular expression"),
        (("'severity=\"critical\"'", "'severity'"), 5, 'name="value"'),
        (("fallback: ops-email", "fallback: pager"), 8, "unknown fallback channel 'pager'"),
        (("channels: [ops-email]", "channels: [opsemail]"), 10, "unknown channel 'opsemail'"),
        (("json://127.0.0.1", "jsonx://127.0.0.1"), 2, "not a URL Apprise can use"),
        (('title: "{{ incident.name }}"', 'title: "{% if %}"'), 9, "template line 1"),
        # A title is plain text: the body's |code filter is not there.
        (('title: "{{ incident.name }}"', 'title: "{{ incident.name|code }}"'), 9, "'code'"),
        (("send_resolved: false", "send_resolve: false"), 11, "unknown key"),
        (("backoff: 2s", "backof: 2s"), 15, "unknown key 'delivery.backof'"),
        (("max_attempts: 5", "max_attempts: 0"), 14, "greater than or equal to 1"),
        (("continue: true", "continue: maybe"), 12, "routes.1.continue"),
    ],
)
def test_mistakes_name_file_line_and_fix(
    tmp_path: Path, change: tuple[str, str], line: int, needle: str
) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}:{line}: "), problem
    assert needle in problem


def test_missing_environment_variable_is_a_mistake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMTP_PASS")
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}:3: environment variable SMTP_PASS is not set; "
        "export it or write the value in place of ${SMTP_PASS}"
    ]


def test_bad_url_message_does_not_repeat_the_secret(tmp_path: Path) -> None:
    path = write(tmp_path, 'channels:\n  x: "nope://user:topsecret@host"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "topsecret" not in str(caught.value)
    assert "nope://..." in str(caught.value)
