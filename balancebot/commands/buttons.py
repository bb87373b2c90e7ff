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

from ..errors import StoreError
from ..i18n import N_, _
from ..labels import Matcher
from ..models import AlertKey, AlertStatus, Notification, Severity, Silence, TransitionKind
from ..notify import group_matchers, group_members, labels_of
from ..render import human_duration, local_time
from ..silences import release_unmuted
from .access import Caller
from .alerting import MAX_MUTE, may_see, restricted
from .core import REFUSAL

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
MUTED, UNMUTED = "🔕", "🔔"
NOTE_MARKS = (f"{MUTED} ", f"{UNMUTED} ")  # how a note a click adds to a message begins
_MUTE = re.compile(r"m(1h|4h|24h|ur):([A-Za-z0-9_-]{16})", re.ASCII)
_UNMUTE = re.compile(r"u([1-9][0-9]{0,17})", re.ASCII)  # a silence id
_GROUP_MUTE = re.compile(r"g(1h|4h|24h|ur):([0-9a-f]{32})", re.ASCII)  # a group's key
_GROUP_UNMUTE = re.compile(r"v([0-9a-f]{32})", re.ASCII)


def key_ref(key: AlertKey) -> str:
    """16 characters naming an alert key (96 bits of its SHA-256)."""
    raw = "\0".join((key.account, key.rule, key.subject)).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode()


def mute_buttons(key: AlertKey) -> list[tuple[str, str]]:
    """(label, data) per button."""
    return [(_(label), f"m{action}:{key_ref(key)}") for action, label in LABELS.items()]


def buttons_for(notification: Notification) -> list[tuple[str, str]]:
    """The mute buttons of an alert notice, or of a grouped message (they mute every alert
    of the group); none on resolved notices and digests."""
    if notification.kind in (TransitionKind.RESOLVED, TransitionKind.DIGEST):
        return []
    if notification.group:
        return [(_(label), f"g{action}:{notification.group}") for action, label in LABELS.items()]
    return mute_buttons(AlertKey(notification.account, notification.rule, notification.subject))


@dataclass(frozen=True, slots=True)
class Pressed:
    """What a click did: `note` to add to the message, with `buttons` replacing its
    buttons, when it worked; else only `answer`, to the person who clicked (None: a
    stranger already told no, so nothing at all, not even an answer)."""

    answer: str | None
    note: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()


async def press(commands: Commands, caller: Caller, data: str) -> Pressed:
    """What a click does; a failure (the store unreadable, say) is answered and logged in
    one line here, the same on every platform, rather than left to the chat library."""
    try:
        return await _press(commands, caller, data)
    except StoreError as exc:
        log.warning("a button click from %s failed: %s", caller.label, exc)
    except Exception:
        log.exception("a button click from %s failed", caller.label)
    return Pressed(_("Sorry, that failed; the error is in the bot's log."))


async def _press(commands: Commands, caller: Caller, data: str) -> Pressed:
    """Authorize, then mute the alert the button names (or end the mutes set on it)."""
    accounts = commands.access.accounts_for(caller)
    if not accounts:  # told as a command is told: once per chat per period, then nothing
        return Pressed(_(REFUSAL) if commands.refuse(caller) else None)
    if found := _UNMUTE.fullmatch(data):
        return await _unmute(commands, caller, accounts, int(found.group(1)))
    if found := _GROUP_MUTE.fullmatch(data):
        return await _mute_group(commands, caller, accounts, *found.groups())
    if found := _GROUP_UNMUTE.fullmatch(data):
        return await _unmute_group(commands, caller, accounts, found.group(1))
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
    silence, made = await commands.store.mute_alert(key, until, caller.label, now, until_resolved)
    who = caller.name or caller.label
    what = " ".join(x for x in (key.account, key.rule, key.subject) if x)
    changed = "muted" if made else f"extended silence {silence.id} on"
    log.info("%s %s %s from a button (%s)", caller.label, changed, what, action)
    unmute = ((_("Unmute"), f"u{silence.id}"),)
    if silence.until_resolved:
        note = _("Muted by {who} until resolved").format(who=who)
        if not until_resolved:  # the mute there was already longer
            return Pressed(_("Already muted until resolved"), f"{MUTED} {note}", unmute)
        return Pressed(_("Muted until resolved"), f"{MUTED} {note}", unmute)
    time = local_time(silence.until, commands.zone)
    note = _("Muted by {who} until {time}").format(who=who, time=time)
    if silence.until > until:
        return Pressed(_("Already muted until {time}").format(time=time), f"{MUTED} {note}", unmute)
    answer = _("Muted for {duration}").format(duration=human_duration(SPANS[action]))
    return Pressed(answer, f"{MUTED} {note}", unmute)


async def _unmute(
    commands: Commands, caller: Caller, accounts: frozenset[str], silence_id: int
) -> Pressed:
    """End every mute set from a button on the alert, then send what they held back; the
    message says so if another mute (a /mute of its account or rule) still holds it."""
    now = commands.clock.now()
    visible = {s.id for s in await commands.store.active_silences(now) if s.account in accounts}
    if silence_id not in visible:
        return Pressed(_("That mute has already ended."))
    ended = await commands.store.unmute_alert(silence_id, now)
    if ended is None or not ended[1]:
        return Pressed(_("That mute has already ended."))
    key, count = ended
    what = " ".join(x for x in (key.account, key.rule, key.subject) if x)
    log.info("%s ended %d button mute(s) of %s from a button", caller.label, count, what)
    if await release_unmuted(commands.store, now, commands.memory.remember_told, commands.config):
        commands.dispatcher.wake()
    who = caller.name or caller.label
    state = (await commands.store.alert_states()).get(key)
    severity = Severity.WARNING if state is None or state.severity is None else state.severity
    holding = [
        s
        for s in await commands.store.active_silences(now)
        if s.mutes(
            TransitionKind.REPEAT, key, severity, now, labels_of(commands.config, key, severity)
        )
    ]
    if holding:  # a /mute of its account or rule: saying "unmuted" would be a lie
        note = _(
            "Unmuted by {who}, but still muted until {time} by a mute of its account or rule"
        ).format(who=who, time=local_time(max(s.until for s in holding), commands.zone))
        return Pressed(_("Unmuted; still muted by another mute"), f"{MUTED} {note}")
    note = _("Unmuted by {who}").format(who=who)
    return Pressed(_("Unmuted"), f"{UNMUTED} {note}", tuple(mute_buttons(key)))


async def _mute_group(
    commands: Commands, caller: Caller, accounts: frozenset[str], action: str, group: str
) -> Pressed:
    """A grouped message's mute: one mute by the group's labels (of the caller's accounts
    only), which quiets its newcomers too; until resolved, a button mute on each alert of
    the group now firing that the caller may see (each ends with its alert)."""
    states = await commands.store.alert_states()
    members = [k for k in group_members(commands.config, states, group) if k.account in accounts]
    matchers = group_matchers(commands.config, states, group)
    if not members or matchers is None:
        return Pressed(_("No alert of that group is firing that you may mute."))
    now = commands.clock.now()
    until_resolved = action == UNTIL_RESOLVED
    until = now + (MAX_MUTE if until_resolved else SPANS[action])
    if until_resolved:
        for key in members:
            await commands.store.mute_alert(key, until, caller.label, now, until_resolved)
    else:
        full = accounts == frozenset(a.name for a in commands.config.accounts)
        mine = restricted(matchers, accounts, full)
        active = await commands.store.active_silences(now)
        same = [
            s for s in _group_silences(commands, accounts, matchers, active) if s.until >= until
        ]
        if not same:  # a second click within the span changes nothing
            await commands.store.add_silence(None, None, until, caller.label, now, matchers=mine)
    log.info(
        "%s muted %d alert(s) of a group from a button (%s)", caller.label, len(members), action
    )
    who = caller.name or caller.label
    if until_resolved:
        note = _("{count} alert(s) muted by {who} until resolved")
        answer = _("Muted until resolved")
    else:
        note = _("{count} alert(s) muted by {who} until {time}")
        answer = _("Muted for {duration}").format(duration=human_duration(SPANS[action]))
    time = local_time(until, commands.zone)
    note = note.format(count=len(members), who=who, time=time)
    return Pressed(answer, f"{MUTED} {note}", ((_("Unmute"), f"v{group}"),))


def _group_silences(
    commands: Commands,
    accounts: frozenset[str],
    matchers: tuple[Matcher, ...],
    active: list[Silence],
) -> list[Silence]:
    """The active mutes of a group by its labels the caller may see: ones with exactly the
    group's matchers, or those kept to some accounts."""
    everyone = [a.name for a in commands.config.accounts]
    full = accounts == frozenset(everyone)
    return [
        s
        for s in active
        if s.account is None
        and s.rule is None
        and (
            s.matchers == matchers
            or (s.matchers[:-1] == matchers and s.matchers[-1].name == "account")
        )
        and may_see(s, accounts, full, everyone)
    ]


async def _unmute_group(
    commands: Commands, caller: Caller, accounts: frozenset[str], group: str
) -> Pressed:
    """End the group's mute by labels and the button mutes of the group's alerts the
    caller may see, then send what they held back."""
    now = commands.clock.now()
    states = await commands.store.alert_states()
    members = {k for k in group_members(commands.config, states, group) if k.account in accounts}
    matchers = group_matchers(commands.config, states, group)
    active = await commands.store.active_silences(now)
    ended = 0
    if matchers is not None:
        for silence in _group_silences(commands, accounts, matchers, active):
            ended += await commands.store.end_silence(silence.id, now)
    for silence in active:
        bound = AlertKey(silence.account or "", silence.rule or "", silence.subject or "")
        if silence.subject is not None and bound in members:
            done = await commands.store.unmute_alert(silence.id, now)
            ended += done[1] if done is not None else 0
    if not ended:
        return Pressed(_("That mute has already ended."))
    log.info("%s ended %d mute(s) of a group from a button", caller.label, ended)
    if await release_unmuted(commands.store, now, commands.memory.remember_told, commands.config):
        commands.dispatcher.wake()
    note = _("Unmuted by {who}").format(who=caller.name or caller.label)
    buttons = tuple((_(label), f"g{action}:{group}") for action, label in LABELS.items())
    return Pressed(_("Unmuted"), f"{UNMUTED} {note}", buttons)
