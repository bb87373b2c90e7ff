"""`balancebot notify-test`: send one test message through each notifier and target."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..clock import SystemClock
from ..config import Config
from ..daemon import build_notifiers
from ..errors import DeliveryError
from ..i18n import _
from ..models import Notification, Severity, TransitionKind


@dataclass(frozen=True, slots=True)
class TestOutcome:
    notifier: str
    target: str
    error: DeliveryError | None

    def line(self) -> str:
        where = f"{self.notifier} → {self.target}" if self.target else self.notifier
        if self.error is None:
            return f"ok      {where}: delivered"
        kind = "permanent" if self.error.permanent else "transient"
        return f"FAILED  {where}: {excerpt(self.error.message)} ({kind})"


EXCERPT_CHARS = 160


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line of at most `limit` characters: a receiver's error page (a 13-line HTML
    document from a proxy) must not flood the terminal. An HTML page says itself in its
    <title> (what followed the page, such as the status, is kept); anything else is its
    whitespace collapsed."""
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    if title is not None:
        after = re.search(r"\s*\([^()<>]*\)$", text)
        page = f"an HTML page, “{title.group(1).strip()}”"
        text = f"{text[: text.find('<')]}{page}{after.group() if after else ''}"
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


async def send_test_messages(config: Config, only: tuple[str, ...] = ()) -> list[TestOutcome]:
    clock = SystemClock()
    now = clock.now()
    message = Notification(
        kind=TransitionKind.FIRING,
        severity=Severity.INFO,
        account="-",
        rule="notify-test",
        subject="",
        headline=_("TEST: balancebot can deliver here"),
        details=(
            _("Sent by `balancebot notify-test` at {time}").format(
                time=f"{now:%Y-%m-%d %H:%M:%S} UTC"
            ),
        ),
        at=now,
        started_at=now,
    )
    notifiers = build_notifiers(config, clock)
    outcomes = []
    for name, notifier in notifiers.items():
        if only and name not in only:
            continue
        await notifier.start()
        try:
            for target in notifier.targets():
                try:
                    await notifier.send(message, target)
                except DeliveryError as exc:
                    outcomes.append(TestOutcome(name, target, exc))
                else:
                    outcomes.append(TestOutcome(name, target, None))
        finally:
            await notifier.close()
    return outcomes
