"""Config checks added for a newcomer's first hour and for secret mishaps (issues 11, 12)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from balancebot.config import ThresholdRuleConfig
from balancebot.config.locate import find_config
from balancebot.configure import parse_config
from balancebot.errors import ConfigError

from .test_config import account, problems


@pytest.mark.parametrize("raw", ["sk-1\n", " sk-1\t", "\r\nsk-1\n\n"])
def test_secrets_lose_surrounding_whitespace(tmp_path: Path, raw: str) -> None:
    config = parse_config({"accounts": [account(api_key="${K}")]}, tmp_path, env={"K": raw})
    assert config.accounts[0].api_key.get_secret_value() == "sk-1"
    (tmp_path / "key").write_text(raw)
    (tmp_path / "key").chmod(0o600)
    config = parse_config({"accounts": [{"name": "a", "api_key_file": "key"}]}, tmp_path, env={})
    assert config.accounts[0].api_key.get_secret_value() == "sk-1"


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("sk-abc\u201d", "non-ASCII character U+201D at position 7"),
        ("sk-a\nbc", "control character (U+000A) at position 5"),
        ("sk-\x7fabc", "control character (U+007F) at position 4"),
        ("sk-ab\u00e9c", "non-ASCII character U+00E9"),
    ],
)
def test_secrets_that_cannot_go_in_a_header_are_refused(
    tmp_path: Path, raw: str, said: str
) -> None:
    found = problems({"accounts": [account(api_key="${K}")]}, tmp_path, env={"K": raw})
    assert len(found) == 1
    assert found[0].startswith("accounts[0].api_key: the secret holds")
    assert said in found[0] and "sk-a" not in found[0]


def test_shell_style_and_unclosed_references_are_flagged(tmp_path: Path) -> None:
    raw = {
        "accounts": [
            account(api_key="$DEEPSEEK_API_KEY"),
            account(name="b", api_key="${DEEPSEEK_API_KEY"),
            account(name="c", api_key="${DEEPSEEK-KEY}"),
            account(name="d", api_key="sk-$$literal"),
        ]
    }
    assert problems(raw, tmp_path, env={"DEEPSEEK_API_KEY": "sk-1"}) == [
        "accounts[0].api_key: $DEEPSEEK_API_KEY is not expanded; write ${DEEPSEEK_API_KEY} "
        "(or $$ for a literal $)",
        "accounts[1].api_key: '${' without a closing '}'; write ${DEEPSEEK_API_KEY}",
        "accounts[2].api_key: '${DEEPSEEK-KEY}' is not a variable reference; write ${NAME} "
        "or ${NAME:-default} (or $$ for a literal $)",
    ]


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("postgres://u@db:5432/bb", "postgresql://u@db:5432/bb"),
        ("postgresql+asyncpg://u@db/bb", "postgresql://u@db/bb"),
        ("PostgreSQL+psycopg://u@db/bb", "postgresql://u@db/bb"),
        ("sqlite+aiosqlite:////var/lib/bb.db", "sqlite:////var/lib/bb.db"),
    ],
)
def test_store_urls_are_normalised(tmp_path: Path, url: str, normalised: str) -> None:
    config = parse_config({"accounts": [account()], "store": {"url": url}}, tmp_path, env={})
    assert config.store.url == normalised


@pytest.mark.parametrize("url", ["mysql://u@db/bb", "mssql+pyodbc://x", "db.sqlite"])
def test_unsupported_databases_are_refused(tmp_path: Path, url: str) -> None:
    (found,) = problems({"accounts": [account()], "store": {"url": url}}, tmp_path)
    assert found.startswith("store: url ")
    assert "unsupported database; supported: sqlite:///" in found and "postgres://" in found


def test_enum_errors_list_the_allowed_values(tmp_path: Path) -> None:
    raw = {
        "accounts": [account()],
        "language": "fr",
        "routes": [{"notifiers": ["console"]}, {"notifiers": ["nosuch"], "min_severity": "error"}],
        "chat": {"allow": [{"platform": "irc", "users": [1]}]},
    }
    assert problems(raw, tmp_path) == [
        "language: 'fr' is not one of 'en', 'zh'",
        "routes[1].min_severity: 'error' is not one of 'info', 'warning', 'critical'",
        "routes[1].notifiers: no notifier named 'nosuch' (configured: 'console')",
        "chat.allow[0].platform: no front-end 'irc' "
        "(telegram, slack or a configured [chat.<name>] plugin)",
    ]


def test_zero_jitter_is_valid_and_negative_is_not(tmp_path: Path) -> None:
    config = parse_config({"accounts": [account(jitter="0s")]}, tmp_path, env={})
    assert config.accounts[0].jitter is not None
    assert config.accounts[0].jitter.total_seconds() == 0
    assert problems({"accounts": [account(check_interval="0s")]}, tmp_path) == [
        "accounts[0].check_interval: a duration must be positive"
    ]


def test_structural_and_cross_reference_problems_come_out_together(tmp_path: Path) -> None:
    """The example's Slack HTTP mode, uncommented as it was: two mistakes, one report."""
    raw = {
        "accounts": [account()],
        "notifiers": [{"name": "team", "type": "slack", "bot_token": "xoxb-1", "channels": ["C1"]}],
        "chat": {
            "slack": {"notifier": "team", "mode": "http", "signing_secret": "s", "listen": ":3000"}
        },
    }
    found = problems(raw, tmp_path)
    assert found[0].startswith("chat.slack.listen: unknown key")
    assert found[1:] == ["chat.slack.mode: http mode is served by [http]; set enabled = true"]


def test_a_command_resolves_only_the_notifiers_it_uses(tmp_path: Path) -> None:
    raw = {
        "accounts": [account()],
        "notifiers": [
            {"name": "console", "type": "console"},
            {"name": "tg", "type": "telegram", "bot_token": "${TG}", "chat_ids": [1]},
        ],
        "chat": {"telegram": {"notifier": "tg"}},
    }
    assert [n.name for n in parse_config(raw, tmp_path, env={}, notifiers=()).notifiers] == []
    only = parse_config(raw, tmp_path, env={}, notifiers=["console"])
    assert [n.name for n in only.notifiers] == ["console"] and only.chat.telegram is None
    assert problems(raw, tmp_path) == ["notifiers[1].bot_token: environment variable TG is not set"]


FOUND = "the first of the default places that exists"


def test_config_file_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    xdg = tmp_path / "xdg"
    env = {"XDG_CONFIG_HOME": str(xdg), "HOME": str(tmp_path)}
    with pytest.raises(ConfigError) as none:
        find_config(None, env)
    assert str(none.value).count("\n") == 1
    assert (
        f"looked in $BALANCEBOT_CONFIG (not set), balancebot.toml, {xdg}/balancebot/config.toml, "
        "/etc/balancebot/config.toml" in str(none.value)
    )
    (xdg / "balancebot").mkdir(parents=True)
    (xdg / "balancebot" / "config.toml").write_text("")
    assert find_config(None, env) == (xdg / "balancebot" / "config.toml", FOUND)
    (tmp_path / "balancebot.toml").write_text("")
    assert find_config(None, env) == (Path("balancebot.toml"), FOUND)
    with pytest.raises(ConfigError, match=r"BALANCEBOT_CONFIG is '/nonexistent\.toml'"):
        find_config(None, {**env, "BALANCEBOT_CONFIG": "/nonexistent.toml"})
    explicit = tmp_path / "elsewhere.toml"
    explicit.write_text("")
    assert find_config(None, {**env, "BALANCEBOT_CONFIG": str(explicit)})[0] == explicit
    assert find_config("given.toml", {**env, "BALANCEBOT_CONFIG": str(explicit)}) == (
        Path("given.toml"),
        "-c",
    )
    no_xdg = {"HOME": str(tmp_path)}
    (tmp_path / "balancebot.toml").unlink()
    (tmp_path / ".config" / "balancebot").mkdir(parents=True)
    (tmp_path / ".config" / "balancebot" / "config.toml").write_text("")
    assert find_config(None, no_xdg)[0] == tmp_path / ".config" / "balancebot" / "config.toml"


NAME_RULE = "a name is 1 to 64 characters without spaces or control characters"


@pytest.mark.parametrize(
    ("where", "raw"),
    [
        ("accounts[0].name", {"accounts": [account(name="prod\x1b[2J")]}),
        ("accounts[0].name", {"accounts": [account(name="ab\u202edc")]}),
        ("accounts[0].name", {"accounts": [account(name="a\x00b")]}),
        ("accounts[0].name", {"accounts": [account(name="a\u200bb")]}),  # zero-width space
        ("accounts[0].name", {"accounts": [account(name="a b")]}),
        ("accounts[0].name", {"accounts": [account(name="x" * 65)]}),
        ("accounts[0].name", {"accounts": [account(name="")]}),
        (
            "rules[0].name",
            {"accounts": [account()], "rules": [{"type": "unavailable", "name": "r\u2066"}]},
        ),
        (
            "notifiers[0].name",
            {"accounts": [account()], "notifiers": [{"name": "n\x07", "type": "console"}]},
        ),
    ],
)
def test_names_with_control_characters_are_refused_in_words(
    tmp_path: Path, where: str, raw: dict[str, object]
) -> None:
    found = [p for p in problems(raw, tmp_path) if p.startswith(f"{where}:")]
    assert len(found) == 1 and found[0].endswith(NAME_RULE), found
    assert "regex" not in found[0] and "\x1b" not in found[0] and "\u202e" not in found[0]


def test_names_in_any_script_are_valid(tmp_path: Path) -> None:
    config = parse_config({"accounts": [account(name="生产-账户")]}, tmp_path, env={})
    assert config.accounts[0].name == "生产-账户"


@pytest.mark.parametrize("start", ["7:00", "24:00", "07:60", "0700", " 07:00"])
def test_quiet_hours_times_are_explained_in_words(tmp_path: Path, start: str) -> None:
    raw = {"accounts": [account()], "quiet_hours": [{"start": start, "end": "08:00"}]}
    assert problems(raw, tmp_path) == [
        f"quiet_hours[0]: start: {start!r} is not a time like 07:00 "
        "(24-hour hours and minutes, 00:00 to 23:59)"
    ]


def _rule(kind: str, **options: object) -> dict[str, object]:
    return {"accounts": [account()], "rules": [{"type": kind, "name": "r", **options}]}


def _limits(**limits: object) -> dict[str, object]:
    return _rule("threshold", thresholds={"USD": limits})


RANGE = "out of range: an amount has at most 15 digits before the point"
PLACES = "an amount has at most 8 decimal places"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_limits(warning_below="1e400"), f"rules[0].thresholds.USD.warning_below: {RANGE}"),
        (_limits(warning_below="1e15"), f"rules[0].thresholds.USD.warning_below: {RANGE}"),
        (_limits(warning_below="-1e20"), f"rules[0].thresholds.USD.warning_below: {RANGE}"),
        (
            _limits(critical_below="0.000000001"),
            f"rules[0].thresholds.USD.critical_below: {PLACES}",
        ),
        (
            _limits(warning_below="5", min_top_up="1e400"),
            f"rules[0].thresholds.USD.min_top_up: {RANGE}",
        ),
        (
            _limits(warning_below="5", warning_below_percent="99.000000001"),
            "rules[0].thresholds.USD: warning_below_percent has more than 8 decimal places",
        ),
        (_rule("runway", warning_days="1e400"), f"rules[0].warning_days: {RANGE}"),
        (_rule("spend_spike", factor="1e400"), f"rules[0].factor: {RANGE}"),
        (_rule("spend_spike", min_spend="1e-9"), f"rules[0].min_spend: {PLACES}"),
        (_rule("top_up", min_amount="1e400"), f"rules[0].min_amount: {RANGE}"),
        (
            _rule("threshold", thresholds={"USD": {"warning_below": 5}}, hysteresis="1e400"),
            f"rules[0].hysteresis: {RANGE}",
        ),
    ],
)
def test_amounts_are_bounded_like_provider_amounts(
    tmp_path: Path, raw: dict[str, object], message: str
) -> None:
    assert problems(raw, tmp_path) == [message]


def test_the_largest_amounts_provider_amounts_allow_are_valid(tmp_path: Path) -> None:
    limits = {"warning_below": "999999999999999.99999999", "critical_below": "-5.10000000000"}
    config = parse_config(_limits(**limits), tmp_path, env={})
    rule = config.rules[0]
    assert isinstance(rule, ThresholdRuleConfig)
    assert rule.thresholds["USD"].warning_below == Decimal("999999999999999.99999999")


CHAT_KEYS = "known: allow, balance_max_age, buttons, slack, telegram, and [chat.<name>] tables"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # [[chat.access]] once said "chat.frontends.access: Expected `object`, got `array`"
        (
            {"chat": {"access": [{"platform": "telegram", "users": [1]}]}},
            f"chat.access: unknown key ({CHAT_KEYS} of installed front-ends); "
            "did you mean chat.allow?",
        ),
        (
            {"chat": {"butons": False}},
            f"chat.butons: unknown key ({CHAT_KEYS} of installed front-ends); "
            "did you mean chat.buttons?",
        ),
        (
            {"chat": {"colour": 3}},
            f"chat.colour: unknown key ({CHAT_KEYS} of installed front-ends)",
        ),
        # a list of front-end names once got "did you mean chat.frontends?": the key the
        # file may not write, suggested in place of itself
        (
            {"chat": {"frontends": ["telegram"]}},
            f"chat.frontends: unknown key ({CHAT_KEYS} of installed front-ends)",
        ),
        (
            {"chat": {"slak": {"notifier": "x", "app_token": "t"}}},
            "chat.slak: unknown frontend 'slak' (installed: acmechat, slack, telegram); "
            "did you mean chat.slack?",
        ),
        (
            {"accounts": [account(chek_interval="5m")]},
            "accounts[0].chek_interval: unknown key (known: name, api_key, provider, base_url, "
            "check_interval, jitter, timeout, connect_timeout, options, labels); "
            "did you mean accounts[0].check_interval?",
        ),
    ],
)
def test_unknown_keys_are_named_as_written_with_a_suggestion(
    tmp_path: Path, raw: dict[str, object], expected: str
) -> None:
    found = problems({"accounts": [account()], **raw}, tmp_path)
    assert expected in found and not any("frontends" in p for p in found if p != expected)
    assert not any(p.startswith(expected) and p != expected for p in found), found


@pytest.mark.parametrize("schedule", ["0 0 31 2 *", "0 0 30 2 *", "0 9 31 4,6,9,11 *"])
def test_a_digest_schedule_that_never_fires_is_refused(tmp_path: Path, schedule: str) -> None:
    assert problems({"accounts": [account()], "digest": {"schedule": schedule}}, tmp_path) == [
        f"digest: schedule {schedule!r} never fires: no date in four years matches it "
        "(a day the month does not have, like February 31st?)"
    ]


@pytest.mark.parametrize("schedule", ["0 9 * * *", "0 0 29 2 *", "59 23 31 12 *", "0 9 * * mon"])
def test_digest_schedules_that_fire_however_seldom_are_valid(tmp_path: Path, schedule: str) -> None:
    raw = {"accounts": [account()], "digest": {"schedule": schedule}}
    assert parse_config(raw, tmp_path, env={}).digest.schedule == schedule


@pytest.mark.parametrize("mode", ["bogus", "", "REQUIRE", "verify", "true"])
def test_a_bogus_postgres_sslmode_is_refused_by_validate(tmp_path: Path, mode: str) -> None:
    url = f"postgres://bb:s3cret@db:5432/bb?sslmode={mode}"
    assert problems({"accounts": [account()], "store": {"url": url}}, tmp_path) == [
        f"store: url: sslmode {mode!r} is not a PostgreSQL SSL mode; use one of disable, "
        "allow, prefer, require, verify-ca, verify-full"
    ]


@pytest.mark.parametrize(
    "mode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full", "verify_full"]
)
def test_libpq_sslmodes_are_valid(tmp_path: Path, mode: str) -> None:
    url = f"postgresql://bb@db/bb?connect_timeout=5&sslmode={mode}"
    config = parse_config({"accounts": [account()], "store": {"url": url}}, tmp_path, env={})
    assert config.store.url == url


def test_the_sslmodes_validate_allows_are_the_ones_asyncpg_takes() -> None:
    from asyncpg.connect_utils import SSLMode

    from balancebot.config.store_url import SSLMODES

    assert {mode.replace("-", "_") for mode in SSLMODES} == {mode.name for mode in SSLMode}
