"""Alertmanager's webhook payload (version 4) as it really arrives on the wire.

The models are lenient where real senders differ (missing fingerprint, 0/3/9 fractional
digits, the zero time for "no end") and strict where a mistake would corrupt history
(status values, label types, timestamps that do not parse).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = 0xFFFFFFFFFFFFFFFF
_SEPARATOR = 0xFF

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))$"
)


def fingerprint(labels: dict[str, str]) -> str:
    """The label-set fingerprint Prometheus and Alertmanager use: FNV-1a 64, 16 hex digits.

    Needed when a sender omits `fingerprint`, so that its alerts still dedup with the
    ones Alertmanager sends for the same label set.
    """
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def parse_timestamp(value: str) -> datetime | None:
    """RFC 3339 with any number of fractional digits, truncated to microseconds, as UTC.

    Go's zero time (year 1) means "not set" in Alertmanager and becomes None.
    """
    if _plain_utc(value):  # what Alertmanager sends: one C call instead of a regex and eight
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass  # the general parser below says what is wrong
        else:
            return None if parsed.year <= 1 else parsed
    return _parse_rfc3339(value)


def _plain_utc(value: str) -> bool:
    """`YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z`, the shape `datetime.fromisoformat` reads exactly as
    RFC 3339 (its other ISO 8601 forms, such as week dates, fail these positions)."""
    size = len(value)
    return (
        (size == 20 or (22 <= size <= 27 and value[19] == "."))
        and value[-1] == "Z"
        and value[4] == value[7] == "-"
        and value[10] == "T"
        and value[13] == value[16] == ":"
    )


def _parse_rfc3339(value: str) -> datetime | None:
    m = _TIMESTAMP.match(value.strip())
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micros = int((m.group(7) or "0")[:6].ljust(6, "0"))
    if m.group(8):
        tz = UTC
    else:
        offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        tz = timezone(-offset if m.group(9) == "-" else offset)
    if year <= 1:
        return None
    try:
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz).astimezone(UTC)
    except OverflowError as exc:  # 9999-12-31T23:59:59-01:00 is past the last UTC year
        raise ValueError(f"timestamp out of range: {value!r}") from exc


def _timestamp(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    return parse_timestamp(value)


Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]
LabelSet = dict[str, str]


def _storable_text(value: Any) -> None:
    """Databases refuse NUL and lone surrogates in text; refuse them here, where the sender
    can be told where, instead of failing the transaction into an endless retry.

    The common case, nothing wrong, is settled by one pass of orjson (NUL comes out
    escaped, a lone surrogate fails to encode, and so does nesting past 254 levels); only
    a suspect payload is walked to name the place, or to find that nothing is wrong after
    all (an integer beyond 64 bits, say). The walk stops at MAX_DEPTH levels."""
    try:
        if b"\\u0000" not in orjson.dumps(value):
            return
    except TypeError:  # a lone surrogate, or anything orjson does not take
        pass
    _name_the_place(value)


MAX_DEPTH = 32  # Alertmanager's payload is 4 deep; this leaves room for senders' extras


def _name_the_place(value: Any, path: str = "", depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"{path} is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'body'} contains a NUL character (\\u0000)")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"{path or 'body'} is not valid Unicode: {exc.reason}") from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key!s}" if path else str(key)
            _name_the_place(key, where.encode("utf-8", "backslashreplace").decode(), depth + 1)
            _name_the_place(item, where.encode("utf-8", "backslashreplace").decode(), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _name_the_place(item, f"{path}[{i}]", depth + 1)


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class WireAlert(_Wire):
    status: Literal["firing", "resolved"]
    labels: LabelSet
    annotations: LabelSet = Field(default_factory=dict)
    starts_at: Timestamp = Field(alias="startsAt")
    ends_at: Timestamp = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = Field(default="", max_length=64)

    @model_validator(mode="after")
    def _complete(self) -> WireAlert:
        if self.starts_at is None:
            raise ValueError("startsAt must be a real time, not the zero time")
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(self.labels))
        return self

    @property
    def start(self) -> datetime:
        assert self.starts_at is not None  # guaranteed by _complete
        return self.starts_at


class Webhook(_Wire):
    version: Literal["4"] = "4"
    receiver: str = Field(min_length=1, max_length=255)
    status: Literal["firing", "resolved"]
    alerts: list[WireAlert]
    group_labels: LabelSet = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelSet = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelSet = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, ge=0, le=2**31 - 1, alias="truncatedAlerts")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        _storable_text(data)
        return data

    @model_validator(mode="after")
    def _default_group_key(self) -> Webhook:
        if not self.group_key:
            rendered = ", ".join(f'{k}="{v}"' for k, v in sorted(self.group_labels.items()))
            object.__setattr__(self, "group_key", "{}:{" + rendered + "}")
        return self
