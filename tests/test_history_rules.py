"""The pure rules behind the history pages: urgency, time windows, CSV cells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from receiver.domain.history import csv_cell, severity_of, severity_rank, window

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_critical_comes_before_warning_before_info_before_anything_else() -> None:
    ranked = sorted(["", "page", "info", "critical", "warning"], key=severity_rank)
    assert ranked[:3] == ["critical", "warning", "info"]
    assert severity_rank("page") == severity_rank("") == 3


def test_an_incident_is_as_urgent_as_its_common_or_most_urgent_member_severity() -> None:
    assert severity_of({"severity": "info"}, [{"severity": "critical"}]) == "info"
    assert severity_of({}, [{"severity": "warning"}, {"severity": "critical"}]) == "critical"
    assert severity_of({}, [{"instance": "a"}]) == ""
    assert severity_of({}, []) == ""


def test_a_named_range_ends_now_and_custom_bounds_are_checked() -> None:
    assert window("24h", None, None, NOW) == (NOW - timedelta(hours=24), None)
    assert window(None, NOW - timedelta(days=1), NOW, NOW) == (NOW - timedelta(days=1), NOW)
    assert window(None, None, None, NOW) == (None, None)
    with pytest.raises(ValueError, match="range must be one of 1h, 24h, 7d, 30d"):
        window("2y", None, None, NOW)
    with pytest.raises(ValueError, match="not both"):
        window("1h", NOW, None, NOW)
    with pytest.raises(ValueError, match="earlier"):
        window(None, NOW, NOW, NOW)


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_that_a_spreadsheet_would_run_becomes_text(text: str) -> None:
    assert csv_cell(text) == "'" + text


def test_other_cells_stay_as_they_are() -> None:
    assert csv_cell("api-1") == "api-1"
    assert csv_cell("") == ""
    assert csv_cell("a=b") == "a=b"
