"""Maintain the message catalogs: `python tools/catalogs.py`.

Extracts every `_()`/`N_()`/`ngettext()` message from the package into
balancebot/locale/balancebot.pot, merges new ones into each language's .po (to be
translated by hand), and compiles each .po into the .mo the package loads when the .mo
no longer says what the .po says. tests/test_i18n.py fails when any step is due; it compares
what a .mo says (messages, translations, plural forms), never its bytes, which carry the
compiling Babel's version.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "balancebot"
LOCALE = PACKAGE / "locale"
LANGUAGES = ("zh",)


def extract() -> Catalog:
    catalog = Catalog(project="balancebot", charset="utf-8")
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PACKAGE), keywords={"_": None, "N_": None, "ngettext": (1, 2)}, comment_tags=()
    ):
        catalog.add(message)
    return catalog


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "balancebot.po"


def compiled(po: Path) -> bytes:
    with po.open("rb") as source:
        catalog = read_po(source)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


Said = dict[tuple[str | None, str | tuple[str, ...]], str | tuple[str, ...]]


def said(catalog: Catalog) -> Said:
    """What a catalog says to the program: every translated message (by context and id),
    as `write_mo` keeps them; the header (dates, tool versions) is left out."""

    def plain(text: object) -> str | tuple[str, ...]:
        return tuple(text) if isinstance(text, list | tuple) else str(text)

    return {
        (m.context, plain(m.id)): plain(m.string)
        for m in catalog
        if m.id and m.string and not m.fuzzy
    }


def differences(po: Path, mo: Path) -> list[str]:
    """How `mo` fails to say what `po` says; empty when it is current."""
    with po.open("rb") as source:
        wanted = read_po(source)
    if not mo.exists():
        return [f"{mo.name} is missing"]
    with mo.open("rb") as source:
        have = read_mo(source)
    found = [f"plural forms: {have.plural_forms!r}, not {wanted.plural_forms!r}"]
    if have.plural_forms == wanted.plural_forms:
        found = []
    want, got = said(wanted), said(have)
    found += [
        f"{key[1]!r}: {got.get(key)!r}, not {want.get(key)!r}"
        for key in sorted(set(want) | set(got), key=repr)
        if want.get(key) != got.get(key)
    ]
    return found


def main() -> None:
    template = extract()
    with (LOCALE / "balancebot.pot").open("wb") as out:
        write_po(out, template, omit_header=True, no_location=True, sort_output=True)
    for language in LANGUAGES:
        po = po_path(language)
        with po.open("rb") as source:
            catalog = read_po(source, locale=language)
        before = said(catalog), {m.id for m in catalog}
        catalog.update(template, no_fuzzy_matching=True)
        if (said(catalog), {m.id for m in catalog}) != before:  # else only dates would change
            with po.open("wb") as out:
                write_po(out, catalog, no_location=True, sort_output=True, ignore_obsolete=True)
        if differences(po, po.with_suffix(".mo")):
            po.with_suffix(".mo").write_bytes(compiled(po))


if __name__ == "__main__":
    main()
