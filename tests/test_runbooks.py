"""Runbooks as plain data: parsing, matching, links, coverage, and the shipped set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from receiver.domain import runbooks as runbooks_rules
from receiver.domain.links import runbook_links
from receiver.domain.runbooks import Runbooks, Usage, coverage
from receiver.runtime.errors import ConfigError
from receiver.runtime.runbooks import load_runbooks, parse_runbook

ROOT = Path(__file__).resolve().parent.parent
GOOD = """\
---
title: High P95 latency
match: ['alertname="HighLatencyP95Critical"']
owner: inference-team
---
Some context first.

## Check
1. Look at the **request rate** panel.
2. Compare with [memory](http://grafana/d/mem).
   - a nested bullet that is not a step
3. Roll back if a deploy caused it.
"""


def test_front_matter_and_steps() -> None:
    runbook = parse_runbook(Path("runbooks/high-latency.md"), GOOD)
    assert runbook.slug == "high-latency"
    assert runbook.title == "High P95 latency"
    assert runbook.owner == "inference-team"
    assert [str(m) for m in runbook.matchers] == ['alertname="HighLatencyP95Critical"']
    assert runbook.steps == (
        "Look at the **request rate** panel.",
        "Compare with [memory](http://grafana/d/mem).",
        "Roll back if a deploy caused it.",
    )
    assert runbook.body.startswith("Some context first.")


def test_alertname_shortcut_and_sections_as_steps() -> None:
    text = "---\ntitle: Disk\nalertname: DiskFull\n---\n## Free space\ntext\n## Grow the disk\n"
    runbook = parse_runbook(Path("disk.md"), text)
    assert [str(m) for m in runbook.matchers] == ['alertname="DiskFull"']
    assert runbook.steps == ("Free space", "Grow the disk")


@pytest.mark.parametrize(
    ("name", "text", "line", "needle"),
    [
        ("a.md", "no front matter here", 1, "no front matter"),
        ("a.md", "---\ntitle: [unclosed\nmatch: x\n---\n", 3, "invalid YAML"),
        ("a.md", "---\nmatch: ['a=\"b\"']\n---\n", 2, "title is missing"),
        ("a.md", "---\ntitle: T\n---\n", 2, "no matchers"),
        ("a.md", "---\ntitle: T\nmatch: ['sev']\n---\n", 3, 'name="value"'),
        ("a.md", "---\ntitle: T\nalertname: X\ncolour: red\n---\n", 4, "unknown key 'colour'"),
        ("Bad Name.md", "---\ntitle: T\nalertname: X\n---\n", 1, "not a usable slug"),
    ],
)
def test_broken_runbooks_say_file_and_line(name: str, text: str, line: int, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_runbook(Path("rb") / name, text)
    assert any(p.startswith(f"rb/{name}:{line}: ") and needle in p for p in caught.value.problems)


def test_most_specific_runbook_first(tmp_path: Path) -> None:
    (tmp_path / "general.md").write_text("---\ntitle: G\nmatch: ['severity=~\".+\"']\n---\n")
    (tmp_path / "specific.md").write_text(
        "---\ntitle: S\nmatch: ['severity=\"critical\"', 'team=\"db\"']\n---\n"
    )
    (tmp_path / "other.md").write_text("---\ntitle: O\nalertname: Other\n---\n")
    (tmp_path / "notes.txt").write_text("not a runbook")
    runbooks = load_runbooks(tmp_path)
    labels = {"alertname": "X", "severity": "critical", "team": "db"}
    assert [r.slug for r in runbooks.pick([labels])] == ["specific", "general"]
    assert runbooks.pick([{"alertname": "Y"}]) == []


def test_one_broken_file_fails_the_folder_with_every_problem(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: A\n---\n")
    (tmp_path / "b.md").write_text("nothing")
    with pytest.raises(ConfigError) as caught:
        load_runbooks(tmp_path)
    assert len(caught.value.problems) == 2


def test_missing_folder_is_empty() -> None:
    assert load_runbooks(Path("/nonexistent/runbooks")).items == ()


def test_runbook_links_only_http() -> None:
    annotations = {
        "runbook_url": "https://wiki.example.com/rb",
        "runbook": "javascript:alert(1)",
        "playbook": " http://play.example.com/x ",
        "summary": "https://not-a-runbook",
    }
    assert runbook_links(annotations) == [
        ("runbook_url", "https://wiki.example.com/rb"),
        ("playbook", "http://play.example.com/x"),
    ]


def test_coverage_counts_medians_and_gaps() -> None:
    runbooks = Runbooks(
        (
            parse_runbook(Path("lat.md"), "---\ntitle: L\nalertname: Latency\n---\n"),
            parse_runbook(Path("idle.md"), "---\ntitle: I\nalertname: Never\n---\n"),
            parse_runbook(Path("api.md"), "---\ntitle: A\nmatch: ['instance=~\"api-.*\"']\n---\n"),
        )
    )
    t = datetime(2026, 11, 1, tzinfo=UTC)
    alerts = [
        ({"alertname": "Latency"}, t, t + timedelta(minutes=10)),
        ({"alertname": "Latency", "instance": "api-1"}, t, t + timedelta(minutes=30)),
        ({"alertname": "Latency"}, t, None),
        ({"alertname": "DiskFull"}, t, None),
        ({"alertname": "DiskFull", "instance": "api-2"}, t, None),
        ({}, t, None),
    ]
    # The rollup counts the whole period: two more Latency alerts than the sample holds.
    names = [("Latency", "", 5), ("DiskFull", "", 2), ("", "", 1)]
    sample = [(labels, end - start if end else None, 1) for labels, start, end in alerts]
    found = coverage(runbooks, names, sample, t)
    assert found.usage["lat"] == Usage(5, timedelta(minutes=20), sampled=False)
    assert found.usage["idle"] == Usage(0, None, sampled=False)
    assert found.usage["api"] == Usage(2, timedelta(minutes=30), sampled=True)
    assert found.unmatched == {"DiskFull": 2, "": 1}
    assert found.sampled_since == t


@pytest.mark.parametrize(
    ("alertname", "slug"),
    [
        ("HighLatencyP95Critical", "high-latency-p95"),
        ("HighLatencyP95Warning", "high-latency-p95"),
        ("HighToolCallLatencyP95Critical", "tool-call-latency"),
        ("LowThroughputCritical", "low-throughput"),
        ("HighMemoryUsageWarning", "high-memory"),
        ("LowConnectionReuseCritical", "connection-reuse"),
        ("HighErrorRateWarning", "error-rate"),
        ("SlowStartupCritical", "slow-startup"),
        ("SlowShutdownWarning", "slow-shutdown"),
        ("CircuitBreakerTrips", "circuit-breaker-trips"),
        ("TargetDown", "metrics-not-appearing"),
        ("PrometheusSlowQueries", "slow-dashboard-queries"),
        ("AlertReceiverDown", "receiver-down"),
        ("AlertReceiverWebhookErrors", "receiver-webhook-errors"),
        ("AlertReceiverNotificationsFailing", "receiver-notifications-failing"),
        ("AlertReceiverOutboxBacklog", "receiver-outbox-backlog"),
    ],
)
def test_shipped_runbooks_cover_the_kits_alerts(alertname: str, slug: str) -> None:
    runbooks = load_runbooks(ROOT / "deploy" / "runbooks")
    assert [r.slug for r in runbooks.pick([{"alertname": alertname}])] == [slug]
    assert len(runbooks.by_slug[slug].steps) >= 3


def test_remembered_matches_follow_every_label_a_matcher_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runbooks_rules, "MATCHED_KEPT", 2)
    books = Runbooks(
        (parse_runbook(Path("api.md"), "---\ntitle: A\nmatch: ['instance=~\"api-.*\"']\n---\n"),)
    )
    for _ in range(2):  # the second round reads what the first remembered (or forgot)
        for instance, found in (("api-1", ["api"]), ("db-1", []), ("api-2", ["api"])):
            labels = {"alertname": "X", "instance": instance}
            assert [r.slug for r in books.pick([labels])] == found
    assert [r.slug for r in books.pick([{"alertname": "X"}])] == []
