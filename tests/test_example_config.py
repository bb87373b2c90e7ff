"""config.example.toml validates as written and in each of its documented variants."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from balancebot.config import Config, ThresholdRuleConfig
from balancebot.configure import parse_config
from balancebot.models import Severity

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"
ENV = {
    "DEEPSEEK_API_KEY": "sk-1",
    "DEEPSEEK_API_KEY_STAGING": "sk-2",
    "TELEGRAM_BOT_TOKEN": "1:abc",
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_APP_TOKEN": "xapp-1",
    "SLACK_SIGNING_SECRET": "s3cret",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x",
    "HEARTBEAT_URL": "https://hc-ping.com/0000",
    "BALANCEBOT_STATUS_TOKEN": "status-token-0123456789",
    "BALANCEBOT_MCP_TOKEN": "mcp-token-0123456789abcdef",
    "VENICE_ADMIN_KEY": "venice-admin-1",
    "FAL_ADMIN_KEY": "fal-id:fal-secret",
    "XAI_MANAGEMENT_KEY": "xai-management-1",
    "RELAY_ACCESS_TOKEN": "relay-access-1",
    "TENCENTCLOUD_SECRET_KEY": "tencent-secret-1",
    "TENCENTCLOUD_SECRET_ID": "AKIDtencent1",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "aliyun-secret-1",
    "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIaliyun1",
    "VOLCENGINE_SECRET_ACCESS_KEY": "volc-secret-1",
    "VOLCENGINE_ACCESS_KEY_ID": "AKLTvolc1",
    "PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
}
_START = re.compile(r"^# >>> variant: ([\w-]+)(?: \(needs: ([\w, -]+)\))?$")


def variants(text: str) -> dict[str, tuple[list[str], list[int]]]:
    """Each variant's needs and the line numbers of its block."""
    found: dict[str, tuple[list[str], list[int]]] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines()):
        if match := _START.match(line):
            current = match.group(1)
            needs = [n.strip() for n in (match.group(2) or "").split(",") if n.strip()]
            found[current] = (needs, [])
        elif line == "# <<<":
            current = None
        elif current is not None:
            found[current][1].append(number)
    assert current is None, "a variant block is not closed with '# <<<'"
    return found


def with_variant(name: str) -> str:
    text = EXAMPLE.read_text()
    blocks = variants(text)
    wanted, todo = set(), [name]
    while todo:
        variant = todo.pop()
        wanted.add(variant)
        todo += [n for n in blocks[variant][0] if n not in wanted]
    lines = text.splitlines()
    for variant in wanted:
        for number in blocks[variant][1]:
            line = lines[number]
            assert line == "#" or line.startswith(("# ", "## ")), f"line {number + 1}: {line}"
            if not line.startswith("## "):
                lines[number] = line.removeprefix("#").removeprefix(" ")
    return "\n".join(lines)


def load(text: str) -> Config:
    import tomllib

    return parse_config(tomllib.loads(text), EXAMPLE.parent, env=ENV)


def test_the_default_example_runs_offline_with_one_variable() -> None:
    import tomllib

    config = parse_config(
        tomllib.loads(EXAMPLE.read_text()), EXAMPLE.parent, env={"DEEPSEEK_API_KEY": "sk-1"}
    )
    assert [n.type for n in config.notifiers] == ["console"]
    assert config.chat.telegram is None and config.chat.slack is None
    assert config.digest.schedule is None and not config.http.enabled


@pytest.mark.parametrize("variant", sorted(variants(EXAMPLE.read_text())))
def test_each_documented_variant_validates(variant: str) -> None:
    config = load(with_variant(variant))
    if variant == "routes":
        assert config.route("prod", "low-balance", Severity.CRITICAL) == [
            "console",
            "team",
            "oncall",
        ]
    if variant == "chat-slack-http":
        assert config.chat.slack is not None and config.chat.slack.mode == "http"
        assert config.http.enabled
    if variant == "admin-keys":
        providers = [a.provider for a in config.accounts]
        assert providers == ["deepseek", "venice", "fal", "xai", "new-api"]
        assert [r.name for r in config.rules][:2] == ["low-usd", "low-balance"]
        assert config.rules[1].accounts == ["prod"]
    if variant == "clouds":
        assert [a.provider for a in config.accounts] == [
            "deepseek",
            "tencentcloud",
            "aliyun",
            "volcengine",
        ]
        assert config.rules[0].accounts is None  # the CNY rule watches them too
    if variant == "percent":
        low = config.rules[0]
        assert isinstance(low, ThresholdRuleConfig) and low.name == "low-balance"
        limits = low.thresholds["CNY"]
        assert (limits.warning_below_percent, limits.critical_below_percent) == (20, 5)
        assert limits.warning_below == Decimal("50.00")
    if variant == "mcp-http":
        assert config.mcp.http and config.mcp.allow_mute and config.mcp.accounts == ["prod"]
    if variant == "postgres":
        assert config.store.url == "postgresql://balancebot@127.0.0.1:5432/balancebot"


def test_every_variant_is_found() -> None:
    assert set(variants(EXAMPLE.read_text())) >= {
        "postgres",
        "staging",
        "telegram",
        "slack",
        "slack-webhook",
        "routes",
        "chat-telegram",
        "chat-slack-socket",
        "chat-slack-http",
        "allow",
        "http",
        "digest",
        "heartbeat",
        "mcp",
        "mcp-http",
        "admin-keys",
        "percent",
    }
