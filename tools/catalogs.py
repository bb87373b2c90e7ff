"""Maintain the message catalogs: `python tools/catalogs.py`.

Extracts every `_()`/`N_()`/`ngettext()` message from the package into
balancebot/locale/balancebot.pot, merges new ones into each language's .po (to be
translated by hand), and compiles the .po files into the .mo files the package loads.
tests/test_i18n.py fails when any step is due.
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
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


def main() -> None:
    template = extract()
    with (LOCALE / "balancebot.pot").open("wb") as out:
        write_po(out, template, omit_header=True, no_location=True, sort_output=True)
    for language in LANGUAGES:
        po = po_path(language)
        with po.open("rb") as source:
            catalog = read_po(source, locale=language)
        catalog.update(template, no_fuzzy_matching=True)
        with po.open("wb") as out:
            write_po(out, catalog, no_location=True, sort_output=True, ignore_obsolete=True)
        po.with_suffix(".mo").write_bytes(compiled(po))


if __name__ == "__main__":
    main()
