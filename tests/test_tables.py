"""Timestamps on SQLite are stored as the text SQLAlchemy's DATETIME writes, so that files
written by any version read the same (the column type formats them itself, faster)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from receiver.store.tables import UTCDateTime

DIALECT = sqlite.dialect()
MOMENTS = [
    datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=UTC),
    datetime(2026, 11, 26, 10, 0, 0, tzinfo=UTC),
    datetime(2026, 11, 26, 10, 0, 0, 7, tzinfo=UTC),
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 11, 26, 12, 30, 0, 500000, tzinfo=timezone(timedelta(hours=2, minutes=30))),
]


@pytest.mark.parametrize("moment", MOMENTS)
def test_sqlite_text_is_sqlalchemys_and_reads_back(moment: datetime) -> None:
    to_text = UTCDateTime().bind_processor(DIALECT)
    from_text = UTCDateTime().result_processor(DIALECT, None)
    reference = DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    assert to_text is not None
    assert from_text is not None
    assert reference is not None
    text = to_text(moment)
    assert text == reference(moment.astimezone(UTC).replace(tzinfo=None))
    back = from_text(text)
    assert back == moment
    assert back.tzinfo is UTC


def test_naive_datetimes_are_refused() -> None:
    to_text = UTCDateTime().bind_processor(DIALECT)
    assert to_text is not None
    with pytest.raises(ValueError, match="naive"):
        to_text(datetime(2026, 11, 26, 10, 0, 0))
    assert to_text(None) is None
