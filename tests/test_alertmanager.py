from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from receiver.domain.wire import Webhook, _parse_rfc3339, fingerprint, parse_timestamp
from tests.payloads import alert, webhook


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T10:00:00Z", datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)),
        ("2026-11-26T10:00:00.123Z", datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=UTC)),
        (
            "2026-11-26T10:00:00.123456789Z",
            datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC),
        ),
        ("2026-11-26T12:30:00.5+02:30", datetime(2026, 11, 26, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-26T08:00:00-02:00", datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC)),
    ],
)
def test_timestamps_become_utc_truncated_to_microseconds(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is UTC


def test_nanoseconds_truncate_rather_than_round() -> None:
    # Rounding would move .9999999 into the next second and split one alert into two keys.
    assert parse_timestamp("2026-11-26T10:00:00.999999999Z") == datetime(
        2026, 11, 26, 10, 0, 0, 999999, tzinfo=UTC
    )


def test_go_zero_time_means_no_time() -> None:
    assert parse_timestamp("0001-01-01T00:00:00Z") is None


@pytest.mark.parametrize("text", ["yesterday", "2026-11-26", "2026-11-26T10:00:00", "1700000000"])
def test_unparseable_timestamps_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_timestamp(text)


def _outcome(parse: Callable[[str], datetime | None], text: str) -> object:
    try:
        parsed = parse(text)
    except ValueError:
        return ValueError
    return (parsed, parsed.tzinfo) if parsed is not None else None


_SHAPES = [
    "2026-11-26T10:00:00Z",
    "0001-01-01T00:00:00Z",
    "2026-02-29T10:00:00Z",  # not a leap year
    "2026-11-26T24:00:00Z",
    "2026-W48-4T10:00:00Z",  # an ISO week date: fromisoformat reads it, RFC 3339 does not
    "2026-11-26T10:00Z",
    "2026-11-26 10:00:00Z",
    "2026-11-26T10:00:00.Z",
    "2026-11-26T10:00:00,5Z",
    "20261126T100000.000Z",
    "2026-11-26T10:00:00.1234567Z",
    "2026-11-26T10:00:00+00:00",
    "2026-11-26T10:00:0aZ",
    " 2026-11-26T10:00:00Z",
]


@pytest.mark.parametrize(
    "text",
    _SHAPES
    + [f"2026-11-26T23:59:59.{'987654321'[:digits]}Z" for digits in range(1, 10)]
    + [f"2026-11-26T10:00:00.{'0' * digits}Z" for digits in range(1, 10)],
)
def test_the_fast_path_reads_exactly_what_the_general_parser_reads(text: str) -> None:
    assert _outcome(parse_timestamp, text) == _outcome(_parse_rfc3339, text)


def test_fingerprint_of_empty_label_set_is_the_fnv_offset_basis() -> None:
    assert fingerprint({}) == "cbf29ce484222325"


def test_fingerprint_ignores_label_order_and_separates_names_from_values() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})
    assert len(fingerprint({"alertname": "X"})) == 16


def test_missing_fingerprint_is_computed_from_labels() -> None:
    body = webhook(alert())
    del body["alerts"][0]["fingerprint"]
    hook = Webhook.model_validate(body)
    assert hook.alerts[0].fingerprint == fingerprint(body["alerts"][0]["labels"])


def test_firing_alert_with_zero_end_has_no_end() -> None:
    hook = Webhook.model_validate(webhook(alert()))
    assert hook.alerts[0].ends_at is None
    assert hook.alerts[0].generator_url.startswith("http://")


def test_per_alert_status_is_kept_inside_a_firing_group() -> None:
    body = webhook(
        alert(instance="a"),
        alert(instance="b", status="resolved", ends="2026-11-26T10:05:00Z"),
        status="firing",
    )
    hook = Webhook.model_validate(body)
    assert [a.status for a in hook.alerts] == ["firing", "resolved"]


def test_group_key_defaults_from_group_labels() -> None:
    body = webhook(alert())
    del body["groupKey"]
    assert Webhook.model_validate(body).group_key == '{}:{alertname="HighLatencyP95"}'


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda b: b.update(version="3"), "version"),
        (lambda b: b["alerts"][0].update(status="pending"), "alerts.0.status"),
        (lambda b: b["alerts"][0].update(startsAt="soon"), "alerts.0.startsAt"),
        (lambda b: b["alerts"][0].update(startsAt="0001-01-01T00:00:00Z"), "alerts.0"),
        (lambda b: b["alerts"][0]["labels"].update(n=5), "alerts.0.labels.n"),
        (lambda b: b.update(truncatedAlerts=-1), "truncatedAlerts"),
        (lambda b: b.pop("receiver"), "receiver"),
    ],
)
def test_schema_violations_name_the_field(mutate, path: str) -> None:  # type: ignore[no-untyped-def]
    body = webhook(alert())
    mutate(body)
    with pytest.raises(ValidationError) as caught:
        Webhook.model_validate(body)
    paths = {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}
    assert path in paths


def test_text_that_only_looks_like_an_escaped_nul_is_accepted() -> None:
    # a literal backslash followed by "u0000" makes the quick check suspicious; the walk
    # that follows finds nothing wrong, so the webhook stands
    body = webhook(alert(path="C:\\u0000", emoji="\U0001f525"))
    hook = Webhook.model_validate(body)
    assert hook.alerts[0].labels["path"] == "C:\\u0000"
    assert hook.alerts[0].labels["emoji"] == "\U0001f525"
