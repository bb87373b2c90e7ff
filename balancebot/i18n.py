"""Languages for user-facing messages: gettext catalogs in `balancebot/locale`.

English is the source language. The process has one language, chosen by `language` in
the config and activated once at start-up; `_()` marks and translates a message.
Numbers are formatted by the caller, so amounts keep their currency and two decimals.
"""

from __future__ import annotations

import gettext

LANGUAGES = ("en", "zh")
DOMAIN = "balancebot"

_active: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"
_ENGLISH = gettext.NullTranslations()


def language() -> str:
    return _language


def activate(language: str) -> None:
    global _active, _language
    _language = language
    if language == "en":
        _active = gettext.NullTranslations()
        return
    from importlib import resources  # here: English, the default, needs no catalog

    with resources.as_file(resources.files(__package__) / "locale") as directory:
        _active = gettext.translation(DOMAIN, localedir=directory, languages=[language])


def _(message: str) -> str:
    return _active.gettext(message)


def ngettext(singular: str, plural: str, n: int, translate: bool = True) -> str:
    """A message with a number in it: "1 day", "3 days" (Chinese has one form).
    `translate=False`: English whatever the language (e.g. no font to draw Chinese)."""
    return (_active if translate else _ENGLISH).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; `_()` translates it where shown."""
    return message
