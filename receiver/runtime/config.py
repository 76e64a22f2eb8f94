"""The YAML configuration file (`--config`): loaded strictly, every mistake with file:line.

`${NAME}` in a value is replaced by that environment variable, so secrets stay out of
the file; a variable that is not set is a mistake, reported like any other.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from receiver.domain.auth import AuthSection
from receiver.domain.heartbeats import Heartbeat
from receiver.domain.routing import Route
from receiver.notify.policy import Delivery
from receiver.runtime.errors import ConfigError
from receiver.runtime.secrets import MIN_SECRET, Masker, masking
from receiver.write.retention import Retention

if TYPE_CHECKING:
    import yaml

log = logging.getLogger(__name__)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)
LineOf = Callable[[Path_], str]


def _url_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class FileConfig(BaseModel):
    """Everything the configuration file may hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[str, Annotated[list[str], BeforeValidator(_url_list)]] = Field(
        default_factory=dict
    )
    routes: list[Route] = Field(default_factory=list)
    delivery: Delivery = Field(default_factory=Delivery)
    retention: Retention = Field(default_factory=Retention)
    auth: AuthSection = Field(default_factory=AuthSection)
    heartbeats: list[Heartbeat] = Field(default_factory=list)
    runbooks_dir: Path | None = None
    runbook_steps: int = Field(3, ge=0, le=50)
    _secrets: frozenset[str] = PrivateAttr(frozenset())

    @property
    def secrets(self) -> frozenset[str]:
        """Values that came from ${VAR} expansion (secrets by the file's own say-so), and
        the parts of channel URLs that Apprise hides in their privacy form."""
        return self._secrets

    def problems(self) -> list[tuple[Path_, str]]:
        """What the schema cannot see: URLs Apprise cannot use, route templates that do
        not compile, and names that point at nothing (a route's channel or fallback that
        is not defined)."""
        from receiver.notify.channels import check_url

        problems: list[tuple[Path_, str]] = []
        for name, urls in self.channels.items():
            if not urls:
                problems.append((("channels", name), f"channel {name!r} has no URL"))
            for i, url in enumerate(urls):
                try:
                    check_url(url, f"channel {name!r} URL #{i + 1}")
                except ValueError as exc:
                    problems.append((("channels", name, i), str(exc)))
        for i, route in enumerate(self.routes):
            problems += self._unknown(("routes", i), route.channels)
            for name, source in (("title", route.title), ("body", route.body)):
                if source is not None:
                    problem = _template_problem(source, title=name == "title")
                    if problem:
                        problems.append((("routes", i, name), f"routes.{i}.{name}: {problem}"))
            if route.fallback is not None:
                problems += self._unknown(("routes", i), [route.fallback], "fallback")
        names: set[str] = set()
        for i, hb in enumerate(self.heartbeats):
            if hb.name in names:
                problems.append(
                    (("heartbeats", i), f"a second heartbeat named {hb.name!r}; give it a name:")
                )
            names.add(hb.name)
            problems += self._unknown(("heartbeats", i), hb.channels)
        return problems

    def _unknown(
        self, where: Path_, channels: list[str], key: str = "channels"
    ) -> list[tuple[Path_, str]]:
        """A name that points at no channel: at its place in the file, with the known ones."""
        known = ", ".join(sorted(self.channels)) or "none"
        what = "fallback channel" if key == "fallback" else "channel"
        return [
            (
                (*where, key) if key == "fallback" else (*where, key, j),
                f"unknown {what} {channel!r}; define it under channels (defined: {known})",
            )
            for j, channel in enumerate(channels)
            if channel not in self.channels
        ]

    def auth_problems(self, users: frozenset[str] | None) -> list[tuple[Path_, str]]:
        """Names in `auth` must be users of the web config file."""
        named: list[tuple[Path_, str]] = [
            *((("auth", "admins", i), name) for i, name in enumerate(self.auth.admins or [])),
            *(
                (("auth", "webhook", "users", i), name)
                for i, name in enumerate(self.auth.webhook.users or [])
            ),
        ]
        if users is None:
            return [
                (where, f"auth names user {name!r}, but there is no web config file to sign "
                 "in with; give --web-config-file with basic_auth_users")
                for where, name in named
            ]  # fmt: skip
        known = ", ".join(sorted(users)) or "none"
        return [
            (where, f"{name!r} is not a user of the web config file (users: {known}); add "
             "them to its basic_auth_users or fix the name")
            for where, name in named
            if name not in users
        ]  # fmt: skip


def _template_problem(source: str, title: bool) -> str | None:
    # Jinja2 loads only when a route brings its own template.
    from receiver.notify.render import TemplateError, compile_template

    try:
        compile_template(source, title=title)
    except TemplateError as exc:
        return str(exc)
    return None


def _line_index(node: yaml.Node, path: Path_, index: dict[Path_, int]) -> None:
    import yaml

    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            _line_index(value, child, index)
            index[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), index)


def _expand(value: Any, where: Path_, problems: list[str], line_of: LineOf, used: set[str]) -> Any:
    if isinstance(value, str):

        def replace(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                problems.append(
                    f"{line_of(where)}: environment variable {name} is not set; "
                    f"export it or write the value in place of ${{{name}}}"
                )
                return ""
            secret = os.environ[name]
            if 0 < len(secret) < MIN_SECRET:
                log.warning(
                    "%s: ${%s} is %d characters long; values under %d are not masked in "
                    "logs and output (too short to tell from ordinary text): if it is a "
                    "secret, use a longer one",
                    line_of(where),
                    name,
                    len(secret),
                    MIN_SECRET,
                )
            used.add(secret)
            return secret

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: _expand(v, (*where, k), problems, line_of, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*where, i), problems, line_of, used) for i, v in enumerate(value)]
    return value


def read_yaml(path: Path, what: str) -> tuple[dict[str, Any], LineOf]:
    """A YAML mapping and where each of its keys is (`file:line`), for messages that say
    where a mistake is; `what` names the file in the message when it cannot be read."""
    import yaml  # not at module level: a receiver without a config file never needs it

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the {what}: {exc.strerror}"]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: invalid YAML: {reason}; fix the syntax there"]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: the file must be a mapping of sections (key: value)"])

    index: dict[Path_, int] = {}
    if node is not None:
        _line_index(node, (), index)

    def line_of(where: Path_) -> str:
        for cut in range(len(where), -1, -1):
            if where[:cut] in index:
                return f"{path}:{index[where[:cut]]}"
        return str(path)

    return data, line_of


def validated(model: type[M], data: dict[str, Any], line_of: LineOf) -> M:
    """`model` from `data`, or a ConfigError with every mistake at its file:line."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_explain(e, line_of) for e in exc.errors()]) from exc


def load_config(path: Path, users: frozenset[str] | None = None) -> FileConfig:
    """`users`: the web config file's, which `auth` may name (None: no such file)."""
    data, line_of = read_yaml(path, "configuration file")
    problems: list[str] = []
    used: set[str] = set()
    data = _expand(data, (), problems, line_of, used)
    if problems:
        raise ConfigError(problems)
    from receiver.notify.channels import given_secrets

    # Apprise logs the URLs it parses while we validate them, before their privacy forms
    # are known: mask what is secret in any URL, and what came from ${VAR}.
    given = {s for url in _channel_urls(data) for s in given_secrets(url)}
    with masking(Masker(used | given)):
        config = validated(FileConfig, data, line_of)
        broken = config.problems() + config.auth_problems(users)
        if broken:
            raise ConfigError([f"{line_of(where)}: {message}" for where, message in broken])
        from receiver.notify.channels import secrets_of

        urls = [url for urls in config.channels.values() for url in urls]
        token = config.auth.webhook.bearer_token
        config._secrets = frozenset(used | given | secrets_of(urls) | ({token} if token else set()))
    if config.runbooks_dir is not None and not config.runbooks_dir.is_absolute():
        # Relative to the file, so that a config and its runbooks move together.
        config = config.model_copy(update={"runbooks_dir": path.parent / config.runbooks_dir})
    token_file = config.auth.webhook.bearer_token_file
    if token_file is not None:
        config = _with_token_from(config, path.parent / token_file, line_of)
    return config


def _with_token_from(config: FileConfig, path: Path, line_of: LineOf) -> FileConfig:
    """The token file read into `bearer_token` (relative to the config file, read at start
    and on every reload), and made a secret."""
    where = line_of(("auth", "webhook", "bearer_token_file"))
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError([f"{where}: cannot read {path}: {reason}; give a readable file"]) from exc
    if not token:
        raise ConfigError([f"{where}: {path} is empty; write the token in it"])
    webhook = config.auth.webhook.model_copy(
        update={"bearer_token": token, "bearer_token_file": None}
    )
    fresh = config.model_copy(update={"auth": config.auth.model_copy(update={"webhook": webhook})})
    fresh._secrets = config.secrets | {token}
    return fresh


def _channel_urls(data: dict[str, Any]) -> list[str]:
    """The channel URLs of a file not validated yet (whatever of it is a string)."""
    channels = data.get("channels")
    if not isinstance(channels, dict):
        return []
    urls = [
        [v] if isinstance(v, str) else v for v in channels.values() if isinstance(v, str | list)
    ]
    return [url for group in urls for url in group if isinstance(url, str)]


def _explain(error: Any, line_of: LineOf) -> str:
    loc = tuple("continue" if p == "continue_" else p for p in error["loc"])
    dotted = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{line_of(loc)}: unknown key {dotted!r}; check its spelling or remove it"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{line_of(loc)}: {dotted}: {message}"
