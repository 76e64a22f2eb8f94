"""What the running service reads from files, and reloading it without a restart.

`POST /-/reload` and SIGHUP (the Prometheus convention) read the config file and the
runbooks folder again. A broken file is reported with its file and line, and the last
good set stays in force.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from receiver.domain import heartbeats
from receiver.domain.auth import Policy
from receiver.domain.routing import Route
from receiver.domain.runbooks import Runbooks
from receiver.notify.worker import Rules
from receiver.runtime.config import FileConfig, load_config
from receiver.runtime.errors import ConfigError
from receiver.runtime.runbooks import load_runbooks
from receiver.runtime.secrets import Masker
from receiver.runtime.settings import Settings
from receiver.runtime.webconfig import WebConfig, load_web_config

log = logging.getLogger(__name__)

DEFAULT_RUNBOOKS_DIR = Path("runbooks")


@dataclass(frozen=True)
class Setup:
    """Everything read from files, loaded together and swapped together."""

    config: FileConfig
    runbooks: Runbooks
    web: WebConfig = field(default_factory=WebConfig)

    @cached_property
    def policy(self) -> Policy:
        """Who may call what (receiver.domain.auth), from both files."""
        auth = self.config.auth
        return Policy(
            users=frozenset(self.web.basic_auth_users),
            admins=None if auth.admins is None else frozenset(auth.admins),
            webhook_users=None if auth.webhook.users is None else frozenset(auth.webhook.users),
            webhook_token=auth.webhook.bearer_token is not None,
        )

    @cached_property
    def routes(self) -> list[Route]:
        """The config file's routes after those of the heartbeats (their own incidents to
        their channels; the heartbeat alerts themselves nowhere)."""
        return heartbeats.routes(self.config.heartbeats) + self.config.routes

    @cached_property
    def delivery_rules(self) -> Rules:
        """The part the outbox worker reads."""
        config = self.config
        return Rules(
            config.channels, self.routes, config.delivery, self.runbooks, config.runbook_steps
        )


_LOOPBACK = ("127.", "::1", "localhost")


def exposed(settings: Settings, setup: Setup) -> bool:
    """Listening beyond this machine with nobody to sign in: worth a warning in the log
    and a banner on every page."""
    return not setup.policy.signs_in and not settings.host.startswith(_LOOPBACK)


def load_setup(settings: Settings) -> Setup:
    """The web config file and the config file (if any), and the runbooks folder it names
    (default ./runbooks)."""
    web = load_web_config(settings.web_config_file) if settings.web_config_file else WebConfig()
    users = frozenset(web.basic_auth_users) if settings.web_config_file else None
    config = load_config(settings.config, users) if settings.config else FileConfig()
    return Setup(config, load_runbooks(config.runbooks_dir or DEFAULT_RUNBOOKS_DIR), web)


class Live:
    def __init__(self, settings: Settings, setup: Setup, mask: Masker, always: set[str]) -> None:
        self._settings, self._mask, self._always = settings, mask, always
        self.current = setup
        mask.update(always | setup.config.secrets)
        self._reloading = asyncio.Lock()
        self._signalled: set[asyncio.Task[list[str]]] = set()

    async def reload(self) -> list[str]:
        """Load everything again; on any problem keep what runs and answer the problems.
        Parsing YAML, Markdown and Apprise URLs runs in a thread, so webhooks and health
        checks go on meanwhile; reloads take turns, so the last one asked wins."""
        async with self._reloading:
            try:
                fresh = await asyncio.to_thread(load_setup, self._settings)
            except ConfigError as exc:
                for problem in exc.problems:
                    log.error("reload failed, keeping the running configuration: %s", problem)
                return exc.problems
            self._swap(fresh)
        return []

    def reload_soon(self) -> None:
        """For a signal handler, which cannot await."""
        task = asyncio.get_running_loop().create_task(self.reload(), name="reload")
        self._signalled.add(task)
        task.add_done_callback(self._signalled.discard)

    def _swap(self, fresh: Setup) -> None:
        self._mask.update(self._always | fresh.config.secrets)
        self.current = fresh
        log.info(
            "reloaded: %d channels, %d routes, %d runbooks",
            len(fresh.config.channels),
            len(fresh.config.routes),
            len(fresh.runbooks.items),
        )
