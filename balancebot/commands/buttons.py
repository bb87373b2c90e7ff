"""Mute buttons on alert messages, the same on every platform.

A button carries `m<action>:<ref>`: the action (1h, 4h, 24h or `ur`, until resolved) and
a short hash of the alert's key. A click is checked like a command (who may see which
accounts) and the hash is looked up only among the alerts the caller may see, so forged
data can at most name another alert the caller could mute anyway. Fits Telegram's
64-byte callback_data and Slack's action values.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from ..i18n import N_, _
from ..models import AlertKey, AlertStatus, Notification, TransitionKind
from ..render import human_duration, local_time
from ..silences import release_unmuted
from .access import Caller
from .core import REFUSAL
from .operations import MAX_MUTE

if TYPE_CHECKING:
    from .core import Commands

log = logging.getLogger(__name__)

UNTIL_RESOLVED = "ur"
SPANS = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "24h": timedelta(hours=24)}
LABELS = {
    "1h": N_("Mute 1h"),
    "4h": N_("Mute 4h"),
    "24h": N_("Mute 24h"),
    UNTIL_RESOLVED: N_("Mute until resolved"),
}
_MUTE = re.compile(r"m(1h|4h|24h|ur):([A-Za-z0-9_-]{16})", re.ASCII)
_UNMUTE = re.compile(r"u([1-9][0-9]{0,17})", re.ASCII)  # a silence id


def key_ref(key: AlertKey) -> str:
    """16 characters naming an alert key (96 bits of its SHA-256)."""
    raw = "\0".join((key.account, key.rule, key.subject)).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode()


def mute_buttons(key: AlertKey) -> list[tuple[str, str]]:
    """(label, data) per button."""
    return [(_(label), f"m{action}:{key_ref(key)}") for action, label in LABELS.items()]


def buttons_for(notification: Notification) -> list[tuple[str, str]]:
    """The mute buttons of an alert notice; none on resolved notices and digests."""
    if notification.kind in (TransitionKind.RESOLVED, TransitionKind.DIGEST):
        return []
    return mute_buttons(AlertKey(notification.account, notification.rule, notification.subject))


@dataclass(frozen=True, slots=True)
class Pressed:
    """What a click did: `note` to add to the message, with `buttons` replacing its
    buttons, when it worked; else only `answer`, to the person who clicked."""

    answer: str
    note: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()


async def press(commands: Commands, caller: Caller, data: str) -> Pressed:
    """Authorize, then mute the alert the button names (or end the mute it set)."""
    accounts = commands.access.accounts_for(caller)
    if not accounts:
        log.warning("refused a button click from %s in chat %s", caller.label, caller.chat_id)
        if commands.metrics is not None:
            commands.metrics.commands_refused.labels(caller.platform, "answered").inc()
        return Pressed(_(REFUSAL))
    if found := _UNMUTE.fullmatch(data):
        return await _unmute(commands, caller, accounts, int(found.group(1)))
    found = _MUTE.fullmatch(data)
    if found is None:
        return Pressed(_("That button is not one of mine."))
    action, ref = found.groups()
    states = await commands.store.alert_states()
    matching = [k for k in states if k.account in accounts and key_ref(k) == ref]
    if not matching:
        return Pressed(_("No alert for that button that you may mute."))
    key = matching[0]
    now = commands.clock.now()
    until_resolved = action == UNTIL_RESOLVED
    if until_resolved and states[key].status is not AlertStatus.FIRING:
        return Pressed(_("That alert has already resolved."))
    until = now + (MAX_MUTE if until_resolved else SPANS[action])
    silence = await commands.store.add_silence(
        key.account, key.rule, until, caller.label, now, "", key.subject, until_resolved
    )
    who = caller.name or caller.label
    what = " ".join(x for x in (key.account, key.rule, key.subject) if x)
    log.info("%s muted %s from a button (%s)", caller.label, what, action)
    if until_resolved:
        note = _("Muted by {who} until resolved").format(who=who)
        answer = _("Muted until resolved")
    else:
        time = local_time(until, commands.zone)
        note = _("Muted by {who} until {time}").format(who=who, time=time)
        answer = _("Muted for {duration}").format(duration=human_duration(SPANS[action]))
    return Pressed(answer, "🔕 " + note, ((_("Unmute"), f"u{silence.id}"),))


async def _unmute(
    commands: Commands, caller: Caller, accounts: frozenset[str], silence_id: int
) -> Pressed:
    """End a mute set from a button, then send what it held back."""
    now = commands.clock.now()
    found = [
        s
        for s in await commands.store.active_silences(now)
        if s.id == silence_id and s.subject is not None and s.account in accounts
    ]
    if not found or not await commands.store.end_silence(silence_id, now):
        return Pressed(_("That mute has already ended."))
    silence = found[0]
    assert silence.account is not None and silence.rule is not None
    log.info("%s ended silence %d from a button", caller.label, silence_id)
    if await release_unmuted(commands.store, now, commands.pipeline.remember_told):
        commands.dispatcher.wake()
    key = AlertKey(silence.account, silence.rule, silence.subject or "")
    note = _("Unmuted by {who}").format(who=caller.name or caller.label)
    return Pressed(_("Unmuted"), "🔔 " + note, tuple(mute_buttons(key)))
