"""The one error type for mistakes in the files the receiver reads."""

from __future__ import annotations


class ConfigError(Exception):
    """Mistakes in the config file or the runbooks: each problem is one line
    `file:line: what is wrong; how to fix it`, and all of them are reported at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
