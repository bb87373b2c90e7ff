"""Labels and matchers behave as Alertmanager's do (anchored regexes, absent = empty)."""

import pytest

from balancebot.labels import Matcher, Op, alert_labels, check_label_name, matches_all
from balancebot.models import AlertKey, Severity


def test_every_alert_has_the_standard_labels_and_the_accounts_own() -> None:
    labels = alert_labels(
        AlertKey("prod", "low-balance", "CNY"), Severity.WARNING, "deepseek", {"team": "search"}
    )
    assert labels == {
        "team": "search",
        "alertname": "low-balance",
        "account": "prod",
        "provider": "deepseek",
        "severity": "warning",
        "currency": "CNY",
    }
    assert "currency" not in alert_labels(AlertKey("prod", "down"), Severity.CRITICAL, "x")


def test_balancebots_labels_win_over_an_accounts_own() -> None:
    labels = alert_labels(AlertKey("a", "r"), Severity.INFO, "p", {"account": "forged"})
    assert labels["account"] == "a"


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('team="search"', {"team": "search"}, True),
        ("team=search", {"team": "ads"}, False),
        ('team!="search"', {"team": "ads"}, True),
        ('team!="search"', {}, True),
        ('team=""', {}, True),  # absent is the empty string
        ('account=~"prod-.*"', {"account": "prod-eu"}, True),
        ('account=~"prod"', {"account": "prod-eu"}, False),  # anchored
        ('severity!~"info|warning"', {"severity": "critical"}, True),
        ('severity!~"info|warning"', {"severity": "info"}, False),
        ('  a = "x y" ', {"a": "x y"}, True),
    ],
)
def test_matchers(text: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(text).matches(labels) is expected


def test_parse_reads_the_operator_and_value() -> None:
    assert Matcher.parse('team=~"a|b"') == Matcher.of("team", Op.RE, "a|b")
    assert str(Matcher.parse("team!=x")) == 'team!="x"'


@pytest.mark.parametrize("text", ["team", "=x", "1team=x", 'team=~"("'])
def test_bad_matchers_say_why(text: str) -> None:
    with pytest.raises(ValueError):
        Matcher.parse(text)


def test_matches_all_needs_every_condition() -> None:
    matchers = [Matcher.parse("a=1"), Matcher.parse("b!=2")]
    assert matches_all(matchers, {"a": "1", "b": "3"})
    assert not matches_all(matchers, {"a": "1", "b": "2"})
    assert matches_all([], {})


@pytest.mark.parametrize("name", ["account", "severity", "9x", "team-name"])
def test_an_account_cannot_set_reserved_or_malformed_labels(name: str) -> None:
    with pytest.raises(ValueError):
        check_label_name(name)
    assert check_label_name("team") == "team"
