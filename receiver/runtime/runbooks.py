"""Runbooks from their folder: Markdown files with YAML front matter that say which
alerts they are for.

```markdown
---
title: High P95 latency
match: ['alertname=~"HighLatencyP95.*"']   # Alertmanager matchers, or `alertname: X`
owner: inference-team
---
## Check
1. Look at the request rate panel ...
```

The slug is the file name. The steps are the body's ordered-list items, or, when it has
none, its section headings. Loading is strict: every problem names its file and line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from receiver.domain.matchers import Matcher, MatcherError, parse_matcher
from receiver.domain.runbooks import Runbook, Runbooks
from receiver.runtime.errors import ConfigError

_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_FIELDS = {"title", "match", "alertname", "owner"}


def _steps(body: str) -> tuple[str, ...]:
    from markdown_it import MarkdownIt  # only when there are runbooks to read

    tokens = MarkdownIt("commonmark").parse(body)
    items: list[str] = []
    lists: list[str] = []  # the open lists, outermost first
    for i, token in enumerate(tokens):
        if token.type in ("ordered_list_open", "bullet_list_open"):
            lists.append(token.type)
        elif token.type in ("ordered_list_close", "bullet_list_close"):
            lists.pop()
        elif token.type == "list_item_open" and lists == ["ordered_list_open"]:
            inline = next((t for t in tokens[i:] if t.type == "inline"), None)
            if inline is not None:
                items.append(inline.content.strip())
    if items:
        return tuple(items)
    return tuple(
        tokens[i + 1].content.strip()
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag in ("h2", "h3")
    )


def parse_runbook(path: Path, text: str) -> Runbook:
    where = str(path)
    slug = path.stem
    if not _SLUG.match(slug):
        raise ConfigError(
            [f"{where}:1: file name {path.name!r} is not a usable slug; use lowercase "
             "letters, digits, - and _ (the slug is the file name without .md)"]
        )  # fmt: skip
    front = _FRONT.match(text)
    if front is None:
        raise ConfigError(
            [f"{where}:1: no front matter; start the file with a --- block holding at least "
             "title and match"]
        )  # fmt: skip
    import yaml  # not at module level: a receiver without runbooks never needs it

    try:
        meta = yaml.safe_load(front.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1  # +1 for the opening ---, +1 for 1-based
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}:{line}: invalid YAML in front matter: {reason}"]) from exc
    if not isinstance(meta, dict):
        raise ConfigError([f"{where}:2: front matter must be a mapping (key: value)"])
    problems = [
        f"{where}:{_line_of(front.group(1), key)}: unknown key {key!r}; "
        f"use {', '.join(sorted(_FIELDS))}"
        for key in meta
        if key not in _FIELDS
    ]
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(f"{where}:2: title is missing; add `title: What this runbook is for`")
    matchers = _matchers(meta, front.group(1), where, problems)
    owner = meta.get("owner")
    if problems:
        raise ConfigError(problems)
    body = text[front.end() :]
    return Runbook(
        slug=slug,
        title=str(title).strip(),
        matchers=tuple(matchers),
        owner=str(owner) if owner is not None else None,
        body=body,
        steps=_steps(body),
    )


def _line_of(front: str, key: str) -> int:
    for number, line in enumerate(front.splitlines(), 2):
        if line.startswith(f"{key}:"):
            return number
    return 2


def _matchers(meta: dict[str, Any], front: str, where: str, problems: list[str]) -> list[Matcher]:
    raw = meta.get("match", [])
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        problems.append(f"{where}:{_line_of(front, 'match')}: match must be a list of matchers")
        return []
    matchers: list[Matcher] = []
    for text in raw:
        try:
            matchers.append(parse_matcher(str(text)))
        except MatcherError as exc:
            problems.append(f"{where}:{_line_of(front, 'match')}: {exc}")
    if "alertname" in meta:
        matchers.append(Matcher("alertname", "=", str(meta["alertname"])))
    if not matchers and not problems:
        problems.append(
            f"{where}:2: no matchers: add `match: ['alertname=\"...\"']` or `alertname: ...`"
        )
    return matchers


def load_runbooks(folder: Path | None) -> Runbooks:
    """Every `*.md` in the folder; an absent folder is an empty set, not an error."""
    if folder is None or not folder.is_dir():
        return Runbooks(folder=folder)
    loaded: list[Runbook] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.md")):
        try:
            loaded.append(parse_runbook(path, path.read_text(encoding="utf-8")))
        except ConfigError as exc:
            problems += exc.problems
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {exc}")
    if problems:
        raise ConfigError(problems)
    return Runbooks(tuple(loaded), folder)
