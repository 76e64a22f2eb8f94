from datetime import timedelta

import pytest

from receiver.domain.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("4h", timedelta(hours=4)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "4", "4 hours", "1.5h", "h", "-1h", "1h30", "9999999999w"])
def test_parse_rejects_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match="30s, 5m, 4h"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=42), "42s"),
        (timedelta(minutes=5, seconds=10), "5m"),
        (timedelta(hours=4), "4h"),
        (timedelta(hours=1, minutes=5), "1h 5m"),
        (timedelta(days=3, hours=2, minutes=9), "3d 2h"),
        (timedelta(days=2), "2d"),
        (timedelta(seconds=-3), "0s"),
    ],
)
def test_format(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
