"""What the running service reads from files, and reloading it without a restart.

`POST /-/reload` and SIGHUP (the Prometheus convention) read the config file and the
runbooks folder again. A broken file is reported with its file and line, and the last
good set stays in force.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from receiver.config import ConfigError, FileConfig, load_config
from receiver.runbooks import RunbookError, Runbooks, load_runbooks
from receiver.secrets import Masker
from receiver.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_RUNBOOKS_DIR = Path("runbooks")


@dataclass(frozen=True)
class Setup:
    config: FileConfig
    runbooks: Runbooks


class SetupError(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_setup(settings: Settings) -> Setup:
    """The config file (if any) and the runbooks folder it names (default ./runbooks)."""
    try:
        config = load_config(settings.config) if settings.config else FileConfig()
        runbooks = load_runbooks(config.runbooks_dir or DEFAULT_RUNBOOKS_DIR)
    except (ConfigError, RunbookError) as exc:
        raise SetupError(exc.problems) from exc
    return Setup(config, runbooks)


class Live:
    def __init__(self, settings: Settings, setup: Setup, mask: Masker, always: set[str]) -> None:
        self._settings, self._mask, self._always = settings, mask, always
        self.current = setup
        mask.update(always | setup.config.secrets)

    def reload(self) -> list[str]:
        """Load everything again; on any problem keep what runs and answer the problems."""
        try:
            fresh = load_setup(self._settings)
        except SetupError as exc:
            for problem in exc.problems:
                log.error("reload failed, keeping the running configuration: %s", problem)
            return exc.problems
        self._mask.update(self._always | fresh.config.secrets)
        self.current = fresh
        log.info(
            "reloaded: %d channels, %d routes, %d runbooks",
            len(fresh.config.channels),
            len(fresh.config.routes),
            len(fresh.runbooks.items),
        )
        return []
