"""Alertmanager label matchers: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`.

Regexes are anchored at both ends, as in Alertmanager; a label that is absent matches as
the empty string, so `team!=""` means "has a team label". Regexes are RE2, as
Alertmanager's are (Go's regexp): matching takes time linear in the text, so no pattern,
not even one typed into the API by a stranger, can stall the service; a pattern is
limited to MAX_PATTERN characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import re2
from pydantic import BeforeValidator

Op = Literal["=", "!=", "=~", "!~"]

_MATCHER = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")\s*
        (?P<op>=~|!~|!=|=)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|[^\s,"{}]*)\s*$""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}
MAX_PATTERN = 4096
_OPTIONS = re2.Options()
_OPTIONS.dot_nl = True  # `.` matches a newline too, as it always did here
_OPTIONS.log_errors = False  # a bad pattern is the caller's error, answered, not logged


def _reason(exc: Exception) -> str:
    """RE2's message, which the binding hands over as bytes."""
    found = exc.args[0] if exc.args else exc
    return found.decode(errors="replace") if isinstance(found, bytes) else str(found)


class MatcherError(ValueError):
    """A matcher that does not parse; the message says what a valid one looks like."""


def _unquote(text: str) -> str:
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        return text
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            if len(self.value) > MAX_PATTERN:
                raise MatcherError(
                    f"{self.name}{self.op}...: regular expression longer than {MAX_PATTERN} "
                    "characters; match on fewer alternatives or a shorter pattern"
                )
            try:
                object.__setattr__(self, "_regex", re2.compile(self.value, _OPTIONS))
            except re2.error as exc:
                reason = (
                    exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
                )
                raise MatcherError(f"{self}: invalid regular expression: {reason}") from exc

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self._regex.fullmatch(actual) is not None  # type: ignore[attr-defined]
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    m = _MATCHER.match(text)
    if m is None:
        raise MatcherError(
            f'cannot parse matcher {text!r}: expected name="value" with one of the '
            'operators =, !=, =~, !~ (for example severity=~"critical|page")'
        )
    op: Op = m.group("op")  # type: ignore[assignment]
    return Matcher(_unquote(m.group("name")), op, _unquote(m.group("value")))


def matches_all(matchers: list[Matcher], labels: dict[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def _matcher(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return parse_matcher(value)
    except MatcherError as exc:
        raise ValueError(str(exc)) from exc


MatcherField = Annotated[Matcher, BeforeValidator(_matcher)]
"""A Matcher field that a configuration file writes in Alertmanager syntax."""
