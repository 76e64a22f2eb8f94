import pytest

from receiver.domain.matchers import Matcher, MatcherError, matches_all, parse_matcher

LABELS = {"alertname": "HighLatency", "severity": "critical", "team": "db"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('severity="critical"', True),
        ("severity=critical", True),
        ('severity!="critical"', False),
        ('team=~"db|infra"', True),
        ('team=~"d"', False),  # anchored: a partial match is no match
        ('team!~"web.*"', True),
        ('missing=""', True),  # an absent label matches the empty string
        ('missing!=""', False),
        ('alertname=~"High.*"', True),
        ('  severity = "critical"  ', True),
    ],
)
def test_matching(text: str, expected: bool) -> None:
    assert parse_matcher(text).matches(LABELS) is expected


def test_quoted_values_keep_escapes_and_commas() -> None:
    m = parse_matcher(r'summary="a \"quoted\", value"')
    assert m == Matcher("summary", "=", 'a "quoted", value')
    assert str(m) == r'summary="a \"quoted\", value"'


@pytest.mark.parametrize("text", ["severity", "=x", 'sev~"x"', 'a="b"c', "1abc=x"])
def test_unparseable_matchers_say_what_a_good_one_looks_like(text: str) -> None:
    with pytest.raises(MatcherError, match=r'name="value"'):
        parse_matcher(text)


def test_broken_regex_is_reported() -> None:
    with pytest.raises(MatcherError, match="invalid regular expression"):
        parse_matcher('team=~"(db"')


def test_matches_all_needs_every_matcher() -> None:
    both = [parse_matcher('severity="critical"'), parse_matcher('team="db"')]
    assert matches_all(both, LABELS)
    assert not matches_all([*both, parse_matcher('team="web"')], LABELS)
    assert matches_all([], LABELS)
