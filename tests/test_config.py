from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from balancebot.config import parse_duration
from balancebot.configure import load_config, parse_config
from balancebot.errors import ConfigError
from balancebot.models import Severity

ROOT = Path(__file__).resolve().parents[1]


def problems(
    raw: dict[str, object], tmp_path: Path, env: dict[str, str] | None = None
) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, tmp_path, env=env or {})
    return raised.value.problems


def account(**extra: object) -> dict[str, object]:
    return {"name": "prod", "api_key": "k", **extra}


def test_env_interpolation_and_defaults(tmp_path: Path) -> None:
    config = parse_config(
        {"accounts": [account(api_key="${KEY}", base_url="${URL:-https://api.deepseek.com}")]},
        tmp_path,
        env={"KEY": "sk-x"},
    )
    assert config.accounts[0].api_key.get_secret_value() == "sk-x"
    assert config.accounts[0].base_url == "https://api.deepseek.com"


def test_missing_env_var_names_the_key_path(tmp_path: Path) -> None:
    raw = {"accounts": [account(), {"name": "b", "api_key": "${DEEPSEEK_KEY_2}"}]}
    assert problems(raw, tmp_path) == [
        "accounts[1].api_key: environment variable DEEPSEEK_KEY_2 is not set"
    ]


def test_secret_from_file(tmp_path: Path) -> None:
    (tmp_path / "key.txt").write_text("sk-from-file\n")
    config = parse_config(
        {"accounts": [{"name": "a", "api_key_file": "key.txt"}]}, tmp_path, env={}
    )
    assert config.accounts[0].api_key.get_secret_value() == "sk-from-file"
    assert "sk-from-file" not in repr(config)


def test_loose_secret_files_get_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = tmp_path / "key.txt"
    key.write_text("sk-from-file\n")
    key.chmod(0o644)
    parse_config({"accounts": [{"name": "a", "api_key_file": "key.txt"}]}, tmp_path, env={})
    assert f"accounts[0].api_key_file: {key} can be read by other users (mode 0o644)" in (
        caplog.text
    )
    caplog.clear()
    key.chmod(0o600)
    parse_config({"accounts": [{"name": "a", "api_key_file": "key.txt"}]}, tmp_path, env={})
    assert caplog.text == ""


def test_secret_file_problems(tmp_path: Path) -> None:
    raw = {
        "accounts": [
            {"name": "a", "api_key_file": "missing.txt"},
            {"name": "b", "api_key": "x", "api_key_file": "k"},
        ]
    }
    found = problems(raw, tmp_path)
    assert found[0].startswith("accounts[0].api_key_file: cannot read ")
    assert found[1] == "accounts[1].api_key_file: set at most one of api_key and api_key_file"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    raw = {
        "timezone": "Mars/Olympus",
        "accounts": [account(check_interval="soon", colour="blue"), account()],
        "rules": [
            {"name": "low", "type": "threshold", "thresholds": {"CNY": {}}},
            {"name": "x", "type": "sometimes"},
        ],
        "routes": [{"notifiers": ["pager"]}],
    }
    found = problems(raw, tmp_path)
    assert "timezone: unknown time zone 'Mars/Olympus'" in found
    assert any(p.startswith("accounts[0].check_interval: 'soon' is not a duration") for p in found)
    assert "accounts[0].colour: unknown key (known: name, api_key, provider, base_url, " in (
        "\n".join(found)
    )
    assert "rules[0].thresholds.CNY: set warning_below, critical_below or both" in found
    assert "rules[1].type: expected one of 'threshold', 'unavailable', 'check_failed', " in (
        "\n".join(found)
    )


def test_cross_references_are_checked(tmp_path: Path) -> None:
    raw = {
        "accounts": [account(), account()],
        "rules": [{"name": "u", "type": "unavailable", "accounts": ["nope"]}],
        "routes": [{"notifiers": ["pager"], "rules": ["missing"]}],
    }
    assert problems(raw, tmp_path) == [
        "accounts[1].name: duplicate name 'prod'",
        "rules[0].accounts: no account named 'nope' (configured: 'prod')",
        "routes[0].notifiers: no notifier named 'pager' (configured: 'console')",
        "routes[0].rules: no rule named 'missing' (configured: 'u')",
    ]


def test_a_long_list_of_names_is_cut_short_in_an_error(tmp_path: Path) -> None:
    raw = {
        "accounts": [account(name=f"a{i:02}") for i in range(20)],
        "rules": [{"name": "u", "type": "unavailable", "accounts": ["nope"]}],
    }
    listed = ", ".join(f"'a{i:02}'" for i in range(12))
    assert problems(raw, tmp_path) == [
        f"rules[0].accounts: no account named 'nope' (configured: {listed} and 8 more)"
    ]


def test_plugins_are_checked(tmp_path: Path) -> None:
    raw = {
        "accounts": [account(provider="openai")],
        "notifiers": [{"name": "n", "type": "pager"}, {"name": "c", "type": "console", "x": 1}],
    }
    found = problems(raw, tmp_path)
    assert found[0].startswith("accounts[0].provider: unknown provider 'openai' (installed: ")
    assert found[1].startswith("notifiers[0].type: unknown notifier 'pager'")
    assert found[2] == "notifiers[1].x: unknown key (none are known here)"


def test_threshold_order_and_amounts(tmp_path: Path) -> None:
    raw = {
        "accounts": [account()],
        "rules": [
            {
                "name": "low",
                "type": "threshold",
                "thresholds": {"USD": {"warning_below": "1", "critical_below": "2"}},
            }
        ],
    }
    assert problems(raw, tmp_path) == [
        "rules[0].thresholds.USD: critical_below must not be above warning_below"
    ]
    raw["rules"][0]["thresholds"] = {"USD": {"warning_below": 7.1, "critical_below": "1.50"}}  # type: ignore[index]
    rule = parse_config(raw, tmp_path, env={}).rules[0]
    assert rule.thresholds["USD"].warning_below == Decimal("7.1")  # type: ignore[union-attr]


def test_defaults(tmp_path: Path) -> None:
    config = parse_config({"accounts": [account()]}, tmp_path, env={})
    assert [r.type for r in config.rules] == ["unavailable", "check_failed"]
    assert [n.type for n in config.notifiers] == ["console"]
    assert config.store.database_url == f"sqlite:///{tmp_path / 'balancebot.db'}"
    assert config.accounts[0].check_interval == timedelta(minutes=5)


def test_routes(tmp_path: Path) -> None:
    config = parse_config(
        {
            "accounts": [account(), {"name": "dev", "api_key": "k"}],
            "notifiers": [{"name": "a", "type": "console"}, {"name": "b", "type": "console"}],
            "routes": [
                {"notifiers": ["a"]},
                {"notifiers": ["b"], "accounts": ["prod"], "min_severity": "critical"},
            ],
        },
        tmp_path,
        env={},
    )
    assert config.route("prod", "r", Severity.CRITICAL) == ["a", "b"]
    assert config.route("prod", "r", Severity.WARNING) == ["a"]
    assert config.route("dev", "r", Severity.CRITICAL) == ["a"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "-5s", "0", True, "1h-2m"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_validate_command_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[[accounts]]\nname = "a"\napi_key = "k"\n')
    bad = tmp_path / "bad.toml"
    bad.write_text('[[accounts]]\nname = "a"\napi_key = "${NOPE_NOT_SET}"\n')
    broken = tmp_path / "broken.toml"
    broken.write_text("[[accounts]\n")
    run = [sys.executable, "-m", "balancebot", "validate", "-c"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    failed = subprocess.run([*run, str(bad)], capture_output=True, text=True, check=False)
    assert failed.returncode == 2
    assert "accounts[0].api_key: environment variable NOPE_NOT_SET is not set" in failed.stderr
    unparsable = subprocess.run([*run, str(broken)], capture_output=True, text=True, check=False)
    assert unparsable.returncode == 2
    assert "not valid TOML" in unparsable.stderr


def test_missing_keys_bad_values_and_bad_amounts_are_reported_together(tmp_path: Path) -> None:
    raw = {
        "accounts": [{"name": "a"}, account(name="b", timeout="later", api_key=" ")],
        "rules": [
            {
                "name": "low",
                "type": "threshold",
                "thresholds": {"eur": {"warning_below": "1"}, "CNY": {"warning_below": "NaN"}},
            },
            {"name": "typeless"},
        ],
    }
    assert problems(raw, tmp_path) == [
        "accounts[0].api_key: missing",
        "accounts[1].timeout: 'later' is not a duration like 30s, 5m, 4h or 1h30m",
        "rules[0].thresholds.eur: Expected `str` matching regex '^[A-Z]{3}$'",
        "rules[0].thresholds.CNY: warning_below NaN is not a finite amount",
        "rules[1].type: expected one of 'threshold', 'unavailable', 'check_failed', 'runway',"
        " 'spend_spike', 'top_up', not None",
    ]
    raw["accounts"] = [account(api_key=" ")]
    raw["rules"] = []
    assert problems(raw, tmp_path) == ["accounts[0]: api_key is empty"]


def test_notifier_tokens_stay_out_of_reprs(tmp_path: Path) -> None:
    config = parse_config(
        {
            "accounts": [account(api_key="sk-SECRET-A")],
            "notifiers": [
                {"name": "tg", "type": "telegram", "bot_token": "123:SECRET-T", "chat_ids": [1]}
            ],
        },
        tmp_path,
        env={},
    )
    assert config.notifiers[0].options["chat_ids"] == [1]
    assert "SECRET" not in repr(config)


def test_a_file_saved_with_a_utf8_bom_loads(tmp_path: Path) -> None:
    """Notepad's "UTF-8" starts with a BOM; tomllib alone says "Invalid statement"."""
    path = tmp_path / "balancebot.toml"
    path.write_text('[[accounts]]\nname = "a"\napi_key = "k"\n', encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert load_config(path, env={}).accounts[0].name == "a"
    path.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf[[accounts]]\n")  # only one is a BOM
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, env={})
