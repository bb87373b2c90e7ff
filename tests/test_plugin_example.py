"""The plugin boundary, proved from outside: tests/plugin_example is a separate
distribution, installed here with pip, that registers a provider, a notifier and a chat
front-end through entry points. balancebot runs as a process that finds them on
PYTHONPATH: lists the provider, validates its options with the plugin's own struct, and
end to end fetches from the plugin's fake, fires an alert, delivers it through the
plugin's notifier, answers a command typed in the plugin's chat (and refuses a stranger,
the command layer's call) and stops on SIGTERM, with no edit to balancebot for the
plugin."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from balancebot import DeliveryError
from balancebot.testing.bigbody import BigBody
from balancebot.testing.clock import FakeClock
from balancebot.testing.processes import spawn, start_daemon

SOURCE = Path(__file__).parent / "plugin_example"
ORG, KEY, CHAT_TOKEN = "org-42", "acme-key-7f3a9c", "chat-token-5b2e"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The example plugin installed by pip into a directory of its own (no network, the
    test venv's setuptools), for PYTHONPATH; the source tree stays clean."""
    root = tmp_path_factory.mktemp("plugin")
    leftovers = shutil.ignore_patterns("__pycache__", "build", "*.egg-info")  # of .ci/run
    shutil.copytree(SOURCE, root / "src", ignore=leftovers)
    if importlib.util.find_spec("setuptools") is None:  # pragma: no cover - CI has it
        if os.environ.get("CI"):
            pytest.fail("setuptools is needed to install tests/plugin_example")
        pytest.skip("setuptools is needed to install tests/plugin_example")
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    install += ["--no-build-isolation", "--target", str(root / "site"), str(root / "src")]
    done = subprocess.run(install, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    yield str(root / "site")


def fake_module() -> ModuleType:
    """The plugin's fakes, from its source (this test process does not install it)."""
    spec = importlib.util.spec_from_file_location(
        "acme_fake", SOURCE / "balancebot_example_plugin" / "fake.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_config(
    path: Path, acme_url: str, chat_url: str, options: str, chat: str = 'notifier = "team"'
) -> Path:
    path.write_text(f"""
[[accounts]]
name = "research"
provider = "acme"
api_key = "{KEY}"
base_url = "{acme_url}"
jitter = "1ms"
options = {{ {options} }}

[[rules]]
name = "low"
type = "threshold"
thresholds = {{ EUR = {{ warning_below = "5" }} }}

[[notifiers]]
name = "team"
type = "acmechat"
url = "{chat_url}"
token = "{CHAT_TOKEN}"
channels = ["ops"]

[chat.acmechat]
{chat}

[store]
path = "state.db"
""")
    return path


async def run(plugin: str, *args: str) -> tuple[int, str, str]:
    process = await spawn(*args, env={"PYTHONPATH": plugin})
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_providers_lists_the_plugin(plugin_path: str) -> None:
    code, out, _ = await run(plugin_path, "providers")
    assert code == 0
    block = ("\n\n" + out).split("\n\nacme  (Acme)\n", 1)[1].split("\n\n")[0]
    assert "key:     Acme API key (X-Acme-Key)" in block
    assert "options: org_id (required), region='eu', project=None" in block
    assert "from:    balancebot-example-plugin 1.0.0" in block
    assert "balance: not declared by the provider" in block  # written before `bills` existed
    assert "deepseek  (DeepSeek)" in out  # the built-in ones are still there


@pytest.mark.parametrize(
    ("options", "chat", "problem"),
    [
        (f'org_id = "{ORG}"', 'notifier = "team"', None),
        ('region = "us"', 'notifier = "team"', "accounts[0].options.org_id: missing"),
        (f'org_id = "{ORG}", orgid = "x"', "", "accounts[0].options.orgid: unknown key"),
        ('org_id = "42/../admin"', "", "accounts[0].options.org_id: "),
        (f'org_id = "{ORG}"', 'notifer = "team"', "chat.acmechat.notifer: unknown key"),
        (f'org_id = "{ORG}"', 'notifier = "x"', "chat.acmechat.notifier: no acmechat notifier"),
    ],
    ids=["ok", "missing", "unknown", "pattern", "front-end", "front-end-notifier"],
)
async def test_validate_uses_the_plugins_options(
    plugin_path: str, tmp_path: Path, options: str, chat: str, problem: str | None
) -> None:
    url = "http://127.0.0.1:9"
    config = write_config(tmp_path / "c.toml", url, url, options, chat)
    code, out, err = await run(plugin_path, "validate", "-c", str(config))
    if problem is None:
        assert code == 0, err
    else:
        assert code == 2 and problem in err, err
    assert KEY not in out + err and CHAT_TOKEN not in out + err


async def test_end_to_end_through_the_plugin(plugin_path: str, tmp_path: Path) -> None:
    fakes = fake_module()
    channels = ("ops", "lobby")  # the notifier posts to ops; lobby is someone else's
    async with fakes.AcmeFake() as acme, fakes.AcmeChatFake(CHAT_TOKEN, channels) as chat:
        acme.add_account(KEY, org=ORG, credits={"EUR": "3.00"})
        config = write_config(tmp_path / "c.toml", acme.url, chat.url, f'org_id = "{ORG}"')
        process = await start_daemon(config, env={"PYTHONPATH": plugin_path})
        try:
            alert = await chat.wait_sent(lambda m: "research" in m["text"])
            assert alert["channel"] == "ops" and "EUR" in alert["text"] and "5" in alert["text"]
            assert acme.requests[0][1] == f"/v2/orgs/{ORG}/credits"

            asked = await chat.say("ops", "u-ana", "/balance research")
            answer = await chat.wait_sent(lambda m: m.get("reply_to") == asked)
            assert answer["channel"] == "ops" and "3.00" in answer["text"], answer
            # who may ask is the command layer's call: the lobby is no chat it notifies
            stranger = await chat.say("lobby", "u-eve", "/balance")
            refusal = await chat.wait_sent(lambda m: m.get("reply_to") == stranger)
            assert "not allowed" in refusal["text"] and "3.00" not in refusal["text"]
        finally:
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 30)
        assert code == 0
    assert all(CHAT_TOKEN not in json.dumps(m) for m in chat.sent)


def test_the_docs_quote_the_example_as_it_is() -> None:
    """Each code block docs/plugins.md introduces with a link into the example (and the
    blocks right after it) appears word for word in that file."""
    docs = Path(__file__).parents[1] / "docs" / "plugins.md"
    text, source, checked, end = docs.read_text(), None, 0, 0
    for block in re.finditer(r"```\w*\n(.*?)```", text, re.DOTALL):
        gap = text[end : block.start()]
        if gap.strip():
            link = re.findall(r"\]\(\.\./tests/plugin_example/([^)]+)\)", gap)
            source = SOURCE / link[-1] if link and gap.rstrip().endswith(":") else None
        if source is not None:
            assert block.group(1) in source.read_text(), f"not in {source.name}:\n{block[1]}"
            checked += 1
        end = block.end()
    assert checked >= 4


def notifier_module() -> ModuleType:
    """The plugin's notifier, from its source."""
    path = SOURCE / "balancebot_example_plugin" / "notifier.py"
    spec = importlib.util.spec_from_file_location("acme_notifier", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # msgspec resolves the options' annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        ("²", None),  # str.isdigit() says yes, float() raised ValueError: a traceback
        ("9" * 20, 3600.0),  # 1e20 s: past any date the dispatcher can compute
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # an HTTP date, already past
        ("-5", None),
    ],
)
async def test_the_example_reads_retry_after_strictly(header: str, expected: float | None) -> None:
    """docs/plugins.md shows this code for others to copy: it reads Retry-After with
    balancebot's own strict parser, not `isdigit()`."""
    acme = notifier_module()
    async with BigBody(status=429, headers={"Retry-After": header}) as chat:
        options = {"url": chat.url, "token": CHAT_TOKEN, "channels": ["ops"]}
        notifier = acme.AcmeChatNotifier.from_options("team", options, FakeClock())
        try:
            with pytest.raises(DeliveryError) as caught:
                await notifier.post("ops", "hello")
        finally:
            await notifier.close()
    assert caught.value.retry_after == expected and not caught.value.permanent
