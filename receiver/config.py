"""The YAML configuration file (`--config`): loaded strictly, every mistake with file:line.

`${NAME}` in a value is replaced by that environment variable, so secrets stay out of
the file; a variable that is not set is a mistake, reported like any other.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """A configuration mistake: each problem is one line `file:line: what; how to fix`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class FileConfig(BaseModel):
    """Everything the file may hold; later capabilities add their sections here."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Path_ = tuple[str | int, ...]


def _line_index(node: yaml.Node, path: Path_, index: dict[Path_, int]) -> None:
    index[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            _line_index(value, child, index)
            index[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_index(item, (*path, i), index)


def _expand(value: Any, where: Path_, problems: list[str], line_of: Any) -> Any:
    if isinstance(value, str):

        def replace(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                problems.append(
                    f"{line_of(where)}: environment variable {name} is not set; "
                    f"export it or write the value in place of ${{{name}}}"
                )
                return ""
            return os.environ[name]

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: _expand(v, (*where, k), problems, line_of) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*where, i), problems, line_of) for i, v in enumerate(value)]
    return value


def load_config(path: Path) -> FileConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the configuration file: {exc.strerror}"]) from exc
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

    problems: list[str] = []
    data = _expand(data, (), problems, line_of)
    if problems:
        raise ConfigError(problems)
    try:
        return FileConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_explain(e, line_of) for e in exc.errors()]) from exc


def _explain(error: Any, line_of: Any) -> str:
    loc = tuple(error["loc"])
    dotted = ".".join(str(p) for p in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{line_of(loc)}: unknown key {dotted!r}; check its spelling or remove it"
    return f"{line_of(loc)}: {dotted}: {error['msg']}"
