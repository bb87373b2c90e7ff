"""The status page in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
driven by Selenium), served by a running daemon against the fakes: the accounts, alerts
and charts are on it, the login is needed, nothing overflows a 375 px phone, dark mode
turns it dark, and it speaks Chinese with `language = "zh"`.

Screenshots go to tests/artifacts/ (kept by CI). Without the browser the test is skipped,
except under CI=true, where it fails: CI installs it (`.ci/run`).
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from balancebot import i18n
from balancebot.config import Config
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY
from .status_daemon import TOKEN, status_daemon

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FLAGS = [
    "--headless=new",
    "--no-sandbox",  # as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # else it calls Google at start, on a closed network
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]
PHONE = 375


def _browser_paths() -> tuple[str, str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if binary is None or driver is None:
        missing = "chromium" if binary is None else "chromedriver"
        reason = f"{missing} is not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return binary, driver


class Browser:
    """One Chromium, driven synchronously: every call goes through `run` in a thread, so
    the daemon on the test's event loop keeps answering."""

    def __init__(self, binary: str, driver: str, profile: str) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in [*FLAGS, f"--user-data-dir={profile}", "--window-size=1280,1000"]:
            options.add_argument(flag)
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=driver))
        self.driver.set_page_load_timeout(30)

    def cdp(self, command: str, **params: Any) -> Any:
        return self.driver.execute_cdp_cmd(command, params)

    def open(self, url: str) -> None:
        self.driver.get(url)

    def js(self, script: str) -> Any:
        return self.driver.execute_script(script)

    def phone(self) -> None:
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            width=PHONE,
            height=812,
            deviceScaleFactor=2,
            mobile=True,
        )

    def dark(self) -> None:
        self.cdp(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": "dark"}],
        )

    def screenshot(self, name: str) -> None:
        """The whole page, not only the part in the window."""
        shot = self.cdp("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / name).write_bytes(base64.b64decode(shot["data"]))

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture
def browser() -> Iterator[Browser]:
    binary, driver = _browser_paths()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        started = Browser(binary, driver, profile)
        try:
            yield started
        finally:
            started.quit()


def run(call: Callable[..., Any], *args: Any) -> Any:
    return asyncio.to_thread(call, *args)


PAGE_FACTS = """
const cards = [...document.querySelectorAll('section.card')];
return {
  title: document.title,
  lang: document.documentElement.lang,
  accounts: cards.map(c => c.id),
  states: cards.map(c => c.className),
  alerts: [...document.querySelectorAll('ul.alerts li')].map(li => li.innerText),
  silences: [...document.querySelectorAll('ul.silences li')].map(li => li.innerText),
  charts: cards.map(c => c.querySelectorAll('svg.chart').length),
  prodMarks: ['path.line', 'line.warn', 'line.crit', 'path.topup', 'rect.failed'].map(
    s => document.querySelectorAll('#account-prod svg.chart ' + s).length),
  chartWidth: document.querySelector('svg.chart').getBoundingClientRect().width,
  text: document.body.innerText,
  scripts: document.scripts.length,
  scrollWidth: document.documentElement.scrollWidth,
  bodyScrollWidth: document.body.scrollWidth,
  wide: [...document.querySelectorAll('body *')].filter(
    e => e.getBoundingClientRect().right > window.innerWidth + 0.5).map(e => e.tagName),
  background: getComputedStyle(document.body).backgroundColor,
  innerWidth: window.innerWidth,
};
"""


def luminance(css: str) -> float:
    red, green, blue = (int(v) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


async def test_the_page_in_chromium(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    browser: Browser,
    tmp_path: Path,
) -> None:
    async with status_daemon(make_config, simulator, status_token=TOKEN) as (_daemon, base):
        await run(browser.open, f"{base}/")
        refused = await run(browser.js, "return document.body.innerText")
        await run(browser.open, f"{base}/?token={TOKEN}")
        wide = await run(browser.js, PAGE_FACTS)
        await run(browser.screenshot, "status-en-1280.png")
        await run(browser.phone)
        await run(browser.open, f"{base}/?token={TOKEN}")
        phone = await run(browser.js, PAGE_FACTS)
        await run(browser.screenshot, "status-en-375.png")
        await run(browser.dark)
        await run(browser.open, f"{base}/?token={TOKEN}")
        dark = await run(browser.js, PAGE_FACTS)
        await run(browser.screenshot, "status-en-375-dark.png")
        json_link = await run(
            browser.js, "return document.querySelector('footer a').getAttribute('href')"
        )
    assert refused.startswith("401")
    assert "prod" not in refused
    assert wide["accounts"] == ["account-prod", "account-dev", "account-broken"]
    assert wide["states"] == ["card critical", "card ok", "card critical"]
    assert wide["title"].startswith("2 alerts firing")
    assert any("prod low CNY" in a and "CRITICAL" in a for a in wide["alerts"])
    assert any("broken failing" in a for a in wide["alerts"])
    assert wide["silences"] and "moving keys" in wide["silences"][0]
    assert wide["charts"] == [1, 2, 0]  # prod CNY; dev CNY and USD; broken: no balance yet
    assert all(wide["prodMarks"]), wide["prodMarks"]  # line, thresholds, top-up, failures
    assert "8.20" in wide["text"] and "authentication failed" in wide["text"]
    assert API_KEY not in wide["text"] and TOKEN not in wide["text"]
    assert wide["scripts"] == 0
    assert phone["innerWidth"] == PHONE
    assert phone["scrollWidth"] <= PHONE and phone["bodyScrollWidth"] <= PHONE
    assert phone["wide"] == []  # no element reaches past the screen's right edge
    assert phone["chartWidth"] > 250  # the chart fills the card, not a thumbnail
    assert luminance(wide["background"]) > 200
    assert luminance(dark["background"]) < 60
    assert dark["scrollWidth"] <= PHONE
    assert json_link == f"api/v1/status?token={TOKEN}"

    try:
        zh_store = {"path": str(tmp_path / "zh.db")}
        async with status_daemon(
            make_config, simulator, language="zh", status_token=TOKEN, store=zh_store
        ) as (_daemon, base):
            await run(browser.open, f"{base}/?token={TOKEN}")
            chinese = await run(browser.js, PAGE_FACTS)
            await run(browser.screenshot, "status-zh-375-dark.png")
    finally:
        i18n.activate("en")
    assert chinese["lang"] == "zh-CN"
    assert "账户" in chinese["text"], chinese["text"][:300]
    assert chinese["scrollWidth"] <= PHONE and chinese["wide"] == []
    assert chinese["charts"] == [1, 2, 0]
