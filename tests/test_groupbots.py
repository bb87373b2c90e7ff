"""Feishu/Lark, DingTalk and WeCom group bots, end to end against loopback fakes that
answer as the platforms do (balancebot/testing/groupbots.py): signatures checked, result
codes in HTTP 200 answers, rate limits enforced on the same fake clock as the notifier."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from balancebot.cli.notify_test import send_test_messages
from balancebot.config import Config
from balancebot.configure import config_secrets
from balancebot.errors import ConfigError, DeliveryError
from balancebot.integrations.groupbot import GroupBotNotifier
from balancebot.models import Notification, Severity, TransitionKind
from balancebot.notifiers import notifier_class
from balancebot.redact import install
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.groupbots import Answer, Bot, GroupBots

from .channels import alert, daemon_with, shown

TOKEN = "tok-5f0c2e8a-91d4-4b7e"
SECRET = "SEC0123456789abcdef0123456789abcdef"


@dataclass(frozen=True)
class Platform:
    type: str
    signs: bool
    code_field: str
    rate_code: int
    rate_wait: float
    per_minute: int

    def url(self, fake: GroupBots, token: str = TOKEN) -> str:
        return {"feishu": fake.feishu_url, "dingtalk": fake.dingtalk_url, "wecom": fake.wecom_url}[
            self.type
        ](token)

    def bots(self, fake: GroupBots) -> dict[str, Bot]:
        return {"feishu": fake.feishu, "dingtalk": fake.dingtalk, "wecom": fake.wecom}[self.type]

    def text(self, posted: dict[str, Any]) -> str:
        """Everything a person sees of a posted message."""
        if self.type == "feishu":
            card = posted["card"]
            body = [e["text"]["content"] for e in card["elements"] if e["tag"] == "div"]
            return "\n".join([card["header"]["title"]["content"], *body])
        if self.type == "dingtalk":
            return f"{posted['markdown']['title']}\n{posted['markdown']['text']}"
        return str(posted["markdown"]["content"])


FEISHU = Platform("feishu", True, "code", 11232, 60.0, 100)
DINGTALK = Platform("dingtalk", True, "errcode", 130101, 600.0, 20)
WECOM = Platform("wecom", False, "errcode", 45009, 60.0, 20)
PLATFORMS = [FEISHU, DINGTALK, WECOM]
SIGNING = [FEISHU, DINGTALK]
BAD_SIGNATURE = {"feishu": 19021, "dingtalk": 310000}


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[GroupBots]:
    async with GroupBots(clock) as server:
        yield server


def bot_of(platform: Platform, fake: GroupBots, **settings: Any) -> Bot:
    bot = Bot(secret=SECRET if platform.signs else None, **settings)
    platform.bots(fake)[TOKEN] = bot
    return bot


def options(platform: Platform, fake: GroupBots, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"url": platform.url(fake)}
    if platform.signs:
        found["secret"] = SECRET
    return {**found, **extra}


def notifier(platform: Platform, clock: FakeClock, **given: Any) -> GroupBotNotifier:
    made = notifier_class(platform.type).from_options("bot", given, clock)
    assert isinstance(made, GroupBotNotifier)
    return made


def message(headline: str = "CRITICAL: prod DeepSeek balance 8.00 CNY < 10.00") -> Notification:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    details = ("CNY: 8.00 (granted 0.00, topped-up 8.00)", "Rule: low")
    return Notification(
        TransitionKind.FIRING, Severity.CRITICAL, "prod", "low", "CNY", headline, details, at, at
    )


async def refusal(made: GroupBotNotifier, note: Notification | None = None) -> DeliveryError:
    await made.start()
    try:
        with pytest.raises(DeliveryError) as raised:
            await made.send(note or message(), made.targets()[0])
    finally:
        await made.close()
    return raised.value


async def sent(made: GroupBotNotifier, *notes: Notification) -> None:
    await made.start()
    try:
        for note in notes:
            await made.slot(made.targets()[0])
            await made.send(note, made.targets()[0])
    finally:
        await made.close()


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.type)
async def test_an_alert_reaches_the_group_through_the_daemon(
    platform: Platform,
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    fake: GroupBots,
) -> None:
    bot = bot_of(platform, fake)
    config = {"name": "cn", "type": platform.type, **options(platform, fake)}
    async with daemon_with(make_config, simulator, clock, config) as daemon:
        assert await alert(daemon, simulator, clock, "8.00") == 1
    [posted] = bot.posted
    text = platform.text(posted)
    assert "🔴 CRITICAL: prod DeepSeek balance 8.00 CNY < 10.00" in text.replace("\u2039", "<")
    assert "CNY: 8.00" in text and "Rule: low" in text
    if platform.type == "feishu":
        assert posted["msg_type"] == "interactive"
        assert posted["card"]["header"]["template"] == "red"
    elif platform.type == "dingtalk":
        assert posted["msgtype"] == "markdown"
        assert posted["markdown"]["text"].startswith("#### 🔴 CRITICAL: prod")
        assert "- CNY: 8.00" in posted["markdown"]["text"]
    else:
        assert posted["markdown"]["content"].startswith('### <font color="warning">🔴 CRITICAL')
        assert "> CNY: 8.00" in posted["markdown"]["content"]


@pytest.mark.parametrize("platform", SIGNING, ids=lambda p: p.type)
@pytest.mark.parametrize("secret", ["SECnot-the-bots-secret-at-all", None], ids=["wrong", "none"])
async def test_a_bad_signature_is_refused_for_good(
    platform: Platform, secret: str | None, clock: FakeClock, fake: GroupBots
) -> None:
    bot = bot_of(platform, fake)
    given = {"url": platform.url(fake), **({"secret": secret} if secret else {})}
    error = await refusal(notifier(platform, clock, **given))
    assert error.permanent
    assert f"{platform.code_field} {BAD_SIGNATURE[platform.type]}" in error.message
    assert "signing secret" in error.message  # the hint: what to do
    assert TOKEN not in error.message and SECRET not in error.message
    assert bot.posted == []


@pytest.mark.parametrize("platform", SIGNING, ids=lambda p: p.type)
async def test_a_signature_from_a_clock_off_by_over_an_hour_is_refused(
    platform: Platform, fake: GroupBots
) -> None:
    """The timestamp is in the platform's unit (seconds, milliseconds) and checked."""
    bot_of(platform, fake)
    for offset, delivered in ((3500, True), (3700, False)):
        ours = FakeClock(fake.clock.now() + timedelta(seconds=offset))
        made = notifier(platform, ours, **options(platform, fake))
        if delivered:
            await sent(made, message())
        else:
            assert str(BAD_SIGNATURE[platform.type]) in (await refusal(made)).message


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.type)
async def test_a_burst_is_paced_inside_the_bots_limit(
    platform: Platform, clock: FakeClock, fake: GroupBots
) -> None:
    bot = bot_of(platform, fake)
    burst = platform.per_minute + 5
    started = clock.now()
    await sent(notifier(platform, clock, **options(platform, fake)), *[message()] * burst)
    assert len(bot.posted) == burst  # none refused
    spent = (clock.now() - started).total_seconds()
    assert spent >= 60 * (burst - 1) / platform.per_minute - 1e-6  # waited, on the fake clock


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.type)
async def test_a_rate_limited_bot_is_retried_after_the_platforms_wait(
    platform: Platform, clock: FakeClock, fake: GroupBots
) -> None:
    """Another sender used up the bot's minute: the platform's code, a transient error."""
    bot = bot_of(platform, fake)
    bot.sent_at.extend([clock.now()] * platform.per_minute)
    made = notifier(platform, clock, **options(platform, fake))
    error = await refusal(made)
    assert not error.permanent and error.retry_after == platform.rate_wait
    assert f"{platform.code_field} {platform.rate_code}" in error.message
    clock.advance(61)
    if platform.type == "dingtalk":  # the 21st message blocked the bot for ten minutes
        assert not (await refusal(made)).permanent
        clock.advance(540)
    await sent(made, message())
    assert len(bot.posted) == 1


def answer(platform: Platform, code: int) -> dict[str, Any]:
    return {platform.code_field: code, "msg" if platform.type == "feishu" else "errmsg": "x"}


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.type)
@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (200, -1, False),  # the service busy
        (200, 40001, True),  # any other refusal: resending the same message cannot help
        (502, "<html>bad gateway</html>", False),
        (429, "", False),
        (404, "not found", True),
        (200, "<html>a captive portal</html>", True),  # not the bot's answer
        (302, "", True),  # redirects are not followed
    ],
)
async def test_answers_map_to_retry_decisions(
    platform: Platform,
    status: int,
    body: int | str,
    permanent: bool,
    clock: FakeClock,
    fake: GroupBots,
) -> None:
    bot_of(platform, fake)
    given = answer(platform, body) if isinstance(body, int) else body
    fake.answers.append(Answer(status, given))
    error = await refusal(notifier(platform, clock, **options(platform, fake)))
    assert error.permanent is permanent
    assert TOKEN not in error.message


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.type)
async def test_an_unknown_token_is_permanent(
    platform: Platform, clock: FakeClock, fake: GroupBots
) -> None:
    error = await refusal(notifier(platform, clock, **options(platform, fake)))
    assert error.permanent and "webhook URL is wrong" in error.message
    assert TOKEN not in error.message


@pytest.mark.parametrize("platform", SIGNING, ids=lambda p: p.type)
async def test_a_keyword_filter_is_met_by_the_footer(
    platform: Platform, clock: FakeClock, fake: GroupBots
) -> None:
    bot = bot_of(platform, fake, keywords=("balancebot",))
    made = notifier(platform, clock, **options(platform, fake))
    await sent(made, message())
    assert len(bot.posted) == 1
    bot.keywords = ("告警",)
    error = await refusal(made)
    assert error.permanent and "'balancebot'" in error.message


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.type)
async def test_a_long_chinese_message_fits_the_platforms_limit(
    platform: Platform, clock: FakeClock, fake: GroupBots
) -> None:
    bot = bot_of(platform, fake)
    long = Notification(
        TransitionKind.RESOLVED,
        Severity.WARNING,
        "生产",
        "low",
        "CNY",
        "已恢复：生产 DeepSeek 余额 80.00 CNY",
        tuple(f"第 {i} 行：人民币余额 80.00（赠送 0.00，充值 80.00）" for i in range(400)),
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    await sent(notifier(platform, clock, **options(platform, fake)), long)
    text = platform.text(bot.posted[0])
    assert "✅ 已恢复：生产 DeepSeek 余额 80.00 CNY" in text
    assert "第 0 行" in text and "第 399 行" not in text and "…" in text
    if platform.type == "wecom":
        assert len(text.encode()) <= 4096
        assert text.startswith('### <font color="info">')  # green: resolved
    if platform.type == "feishu":
        assert bot.posted[0]["card"]["header"]["template"] == "green"


async def test_chinese_alerts_through_the_daemon(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    fake: GroupBots,
) -> None:
    bot = bot_of(WECOM, fake)
    config = {"name": "cn", "type": "wecom", "url": WECOM.url(fake)}
    zh: Callable[..., Config] = lambda **top: make_config(language="zh", **top)  # noqa: E731
    async with daemon_with(zh, simulator, clock, config) as daemon:
        assert await alert(daemon, simulator, clock, "8.00") == 1
    content = WECOM.text(bot.posted[0])
    assert "严重" in content and "prod" in content and "8.00" in content


@pytest.mark.parametrize(
    ("kind", "url", "problem"),
    [
        ("feishu", "https://oapi.dingtalk.com/robot/send?access_token=x", "custom bot webhook"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send", "custom bot webhook"),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "group bot webhook"),
        ("wecom", "qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "is not a URL"),
    ],
)
def test_a_webhook_of_another_platform_is_a_config_error(
    kind: str, url: str, problem: str, make_config: Callable[..., Config]
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(notifiers=[{"name": "cn", "type": kind, "url": url}])
    assert problem in str(caught.value) and "notifiers[0]" in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        ("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/0f1e2d3c-aaaa"),
        ("feishu", "https://open.larksuite.com/open-apis/bot/v2/hook/0f1e2d3c-aaaa"),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=0f1e2d3c"),
        ("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0f1e2d3c-aaaa"),
    ],
)
def test_the_platforms_own_webhooks_are_accepted(
    kind: str, url: str, make_config: Callable[..., Config]
) -> None:
    config = make_config(notifiers=[{"name": "cn", "type": kind, "url": url}])
    made = notifier_class(kind).from_options("cn", config.notifiers[0].options)
    assert made.targets() == [url.split("/open-apis")[0].split("/robot")[0].split("/cgi")[0] + "/…"]
    assert "0f1e2d3c" not in made.describe()


async def test_notify_test_reaches_each_bot_and_says_which_fails(
    make_config: Callable[..., Config],
) -> None:
    async with GroupBots() as fake:  # on the system clock, as notify-test is
        await notify_test(make_config, fake)


async def notify_test(make_config: Callable[..., Config], fake: GroupBots) -> None:
    for platform in PLATFORMS:
        bot_of(platform, fake)
    notifiers = [{"name": p.type, "type": p.type, **options(p, fake)} for p in PLATFORMS]
    notifiers.append(
        {"name": "stale", "type": "dingtalk", "url": DINGTALK.url(fake), "secret": "SECx"}
    )
    outcomes = await send_test_messages(make_config(notifiers=notifiers))
    lines = [o.line() for o in outcomes]
    assert [line.split()[:2] for line in lines[:3]] == [["ok", p.type] for p in PLATFORMS]
    assert lines[3].startswith("FAILED  stale → http://127.0.0.1")
    assert "errcode 310000" in lines[3] and lines[3].endswith("(permanent)")
    for platform in PLATFORMS:
        [posted] = platform.bots(fake)[TOKEN].posted
        assert "balancebot" in platform.text(posted)


async def test_tokens_and_secrets_stay_out_of_logs_and_status(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    fake: GroupBots,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bot_of(DINGTALK, fake)
    config = {"name": "cn", "type": "dingtalk", "url": DINGTALK.url(fake), "secret": SECRET + "x"}
    caplog.set_level(logging.DEBUG)
    async with daemon_with(make_config, simulator, clock, config) as daemon:
        install(config_secrets(daemon.config))
        await alert(daemon, simulator, clock, "8.00")
        visible = shown(daemon, "cn")
    assert "errcode 310000" in visible and "127.0.0.1" in visible
    for text in (caplog.text, visible):
        assert TOKEN not in text and SECRET not in text
