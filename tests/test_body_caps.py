"""Issue 21 §1: no outgoing call reads more than a bounded amount of an answer, decompressed.

Each channel's real client (httpx for the webhook and heartbeat, PTB, slack-sdk on aiohttp,
apprise on requests)
is pointed at a loopback server answering with a 64 MiB body, or with 64 KiB of gzip that
inflates to 64 MiB. What the client read is measured on the wire (the bytes the server got
to send before the client hung up: at most the cap plus the kernel's socket buffers) and in
memory (tracemalloc's peak while the send ran, which counts the inflated bytes)."""

from __future__ import annotations

import asyncio
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from balancebot.config import Config, convert
from balancebot.config.models import HeartbeatConfig
from balancebot.errors import DeliveryError, MalformedResponse, UpstreamUnavailable
from balancebot.heartbeat import Heartbeat
from balancebot.httpcap import CappedBody
from balancebot.integrations.apprise.notifier import AppriseNotifier
from balancebot.integrations.slack.notifier import SlackNotifier
from balancebot.integrations.telegram.notifier import TelegramNotifier
from balancebot.integrations.webhook.notifier import WebhookNotifier
from balancebot.models import (
    BalanceSnapshot,
    CurrencyBalance,
)
from balancebot.notifiers import Notifier
from balancebot.providers import Fetcher, http_client
from balancebot.providers.engine import SyncFetcher, sync_client
from balancebot.providers.json import JsonProvider
from balancebot.testing.bigbody import BigBody, gzip_bomb
from balancebot.testing.clock import FakeClock

from .channels import notification, refused

HUGE = 64 << 20
ON_THE_WIRE = 24 << 20  # the cap, plus what both kernels buffer on loopback (~10 MiB)
IN_MEMORY = 8 << 20
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def telegram(url: str, clock: FakeClock) -> Notifier:
    options = {"bot_token": "123:abcdefgh", "chat_ids": [42], "base_url": f"{url}/bot"}
    return TelegramNotifier.from_options("tg", options, clock)


def slack_api(url: str, clock: FakeClock) -> Notifier:
    options = {"bot_token": "xoxb-test-123", "channels": ["C1"], "base_url": f"{url}/api/"}
    return SlackNotifier.from_options("s", options, clock)


def slack_hook(url: str, clock: FakeClock) -> Notifier:
    return SlackNotifier.from_options("h", {"webhook_url": f"{url}/hooks/x"}, clock)


def webhook(url: str, clock: FakeClock) -> Notifier:
    options = {"urls": [f"{url}/hook"], "secret": "s" * 16}
    return WebhookNotifier.from_options("w", options, clock)


def apprise(url: str, clock: FakeClock) -> Notifier:
    return AppriseNotifier.from_options("a", {"urls": [f"json{url.removeprefix('http')}/j"]})


CHANNELS = {"telegram": telegram, "slack-api": slack_api, "slack-hook": slack_hook}
CHANNELS |= {"webhook": webhook, "apprise": apprise}


async def send_through(make: Callable[[str, FakeClock], Notifier], server: BigBody) -> None:
    error = await refused(make(server.url, FakeClock()))  # a 500: retried later
    assert len(error.message) < 300  # whatever the body said, one short line


async def peak_while(run: Callable[[], Awaitable[None]]) -> int:
    tracemalloc.start()
    try:
        await run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
async def huge() -> AsyncIterator[BigBody]:
    async with BigBody(status=500, size=HUGE) as server:
        yield server


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(HUGE)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_huge_error_body_is_not_read(huge: BigBody, channel: str) -> None:
    await send_through(CHANNELS[channel], huge)
    assert huge.requests == 1
    assert huge.sent < ON_THE_WIRE, f"{huge.sent / 2**20:.0f} MiB read"


@pytest.mark.parametrize("status", [500, 200])
@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_gzip_bomb_is_not_inflated(bomb: bytes, channel: str, status: int) -> None:
    _load_apprise_plugins()  # once per process, not inside the measured window
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    async with BigBody(status=status, body=bomb, headers=headers) as server:
        if status == 500:
            peak = await peak_while(lambda: send_through(CHANNELS[channel], server))
        else:  # a "success" whose body is no answer at all: a failure, never 64 MiB
            peak = await peak_while(lambda: send_or_not(CHANNELS[channel], server))
    assert server.requests == 1
    assert peak < IN_MEMORY, f"{peak / 2**20:.0f} MiB allocated"


def _load_apprise_plugins() -> None:
    """apprise imports its ~100 plugins on first use (about 18 MiB): under pytest-xdist this
    test may be a worker's first apprise user, and that is no inflated body."""
    import apprise

    apprise.Apprise().add("json://127.0.0.1:9/")


async def send_or_not(make: Callable[[str, FakeClock], Notifier], server: BigBody) -> None:
    notifier = make(server.url, FakeClock())
    await notifier.start()
    try:
        await notifier.send(notification(), notifier.targets()[0])
    except DeliveryError:
        pass  # Telegram and Slack read the answer; the webhook only its status
    finally:
        await notifier.close()


def heartbeat(url: str) -> Heartbeat:
    config = convert({"url": url, "timeout": "5s"}, HeartbeatConfig)
    return Heartbeat(config, ["prod"])


async def beat(hb: Heartbeat) -> None:
    done = hb.beats.wait()
    balances = {"USD": CurrencyBalance(Decimal(1), Decimal(0), Decimal(1))}
    hb.observe(BalanceSnapshot("prod", "deepseek", NOW, True, balances))
    await done
    await hb.close()


async def test_the_heartbeat_reads_no_huge_answer(huge: BigBody, bomb: bytes) -> None:
    await beat(heartbeat(huge.url))
    assert huge.sent < ON_THE_WIRE
    async with BigBody(status=200, body=bomb, headers={"Content-Encoding": "gzip"}) as server:
        hb = heartbeat(server.url)
        peak = await peak_while(lambda: beat(hb))
        assert hb.sent == 1  # a 200 is a beat, whatever its body
    assert peak < IN_MEMORY


def deflated(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("coding", "wire", "expected"),
    [
        ("", b"hello", b"hello"),
        ("identity", b"x" * 100, b"x" * 10),
        ("gzip", deflated(b"x" * 100, 16 + zlib.MAX_WBITS), b"x" * 10),
        ("GZip ", deflated(b"hi", 16 + zlib.MAX_WBITS), b"hi"),
        ("deflate", deflated(b"y" * 100, zlib.MAX_WBITS), b"y" * 10),
        ("deflate", deflated(b"raw", -zlib.MAX_WBITS), b"raw"),  # as some servers send it
        ("gzip", b"not gzip at all", b""),
        ("br", b"\x8b\x02\x80hi\x03", b""),  # not asked for: unreadable, not guessed at
        ("gzip, gzip", deflated(deflated(b"z", 31), 31), b""),
    ],
)
def test_capped_body_decodes_at_most_the_cap(coding: str, wire: bytes, expected: bytes) -> None:
    body = CappedBody(coding, 10)
    for i in range(0, len(wire), 3):  # as it arrives, in small pieces
        if not body.feed(wire[i : i + 3]):
            break
    assert body.content == expected


def test_a_bomb_chunk_inflates_no_further_than_the_cap() -> None:
    body = CappedBody("gzip", 1000)
    assert body.feed(gzip_bomb(16 << 20)) is False  # one chunk, 16 MiB inside
    assert len(body.content) == 1000


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("sync", [False, True], ids=["daemon", "check"])
async def test_a_provider_never_inflates_a_bomb(
    make_config: Callable[..., Config], bomb: bytes, status: int, sync: bool
) -> None:
    """The engine stops at 256 KiB of content, but httpx inflated each 64 KiB of gzip
    whole before it could: 64 MiB at a time, for every check of every account."""
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    async with BigBody(status=status, body=bomb, headers=headers) as server:
        options = {"url": f"{server.url}/b", "balance": "b", "currency": "USD"}
        config = make_config(
            accounts=[{"name": "p", "provider": "json", "api_key": "k" * 16, "options": options}]
        )
        account = config.accounts[0]

        async def fetch() -> None:
            if sync:
                with sync_client() as http:
                    fetcher = SyncFetcher(JsonProvider(), http, FakeClock())
                    await asyncio.to_thread(fetcher.fetch, account)
            else:
                async with http_client(config) as client:
                    await Fetcher(JsonProvider(), client, FakeClock()).fetch(account)

        async def refused() -> None:
            with pytest.raises(MalformedResponse if status == 200 else UpstreamUnavailable):
                await fetch()

        peak = await peak_while(refused)
    assert peak < IN_MEMORY, f"{peak / 2**20:.0f} MiB allocated"
