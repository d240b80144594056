"""The message catalogue's upkeep with Babel: extract every shown string, merge it into the .po, compile the .mo.

    .venv/bin/python -m pages.catalogue     # after changing any shown string; then translate the new entries

The .mo is committed beside the .po (tests/test_i18n.py checks it is up to date), so `make run` needs no
build step. The app's strings are marked with _() / ngettext() / N_(); the engine's are found by
pages/i18n_extract.py.
"""
from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from pages.i18n_extract import extract_engine

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "pages" / "locales"
DOMAIN = "messages"
LANGS = ("zh_CN",)


def sources() -> list[tuple[Path, object]]:
    """(file, Babel extraction method) for every file whose strings a user reads."""
    app = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
    return [(p, "python") for p in app] + [(p, extract_engine) for p in sorted((ROOT / "textgen").glob("*.py"))]


def extract() -> Catalog:
    cat = Catalog(project="Inkwell", fuzzy=False)
    for path, method in sources():
        for lineno, message, comments, context in extract_from_file(method, str(path), DEFAULT_KEYWORDS):
            cat.add(message, locations=[(str(path.relative_to(ROOT)), lineno)], auto_comments=comments,
                    context=context)
    return cat


def po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str) -> Catalog:
    with open(po_path(lang), "rb") as f:
        return read_po(f, locale=lang)


def mo_bytes(cat: Catalog) -> bytes:
    buf = io.BytesIO()
    write_mo(buf, cat)
    return buf.getvalue()


def translated(message) -> bool:
    """Whether a catalogue entry has its translation (every plural form, for a plural)."""
    s = message.string
    return bool(s) if isinstance(s, str) else bool(s) and all(s)


def update() -> None:
    template = extract()
    for lang in LANGS:
        path = po_path(lang)
        if path.is_file():
            cat = read(lang)
            cat.update(template, no_fuzzy_matching=True)
            cat.obsolete.clear()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            cat = Catalog(locale=lang, project="Inkwell", fuzzy=False)
            cat.update(template, no_fuzzy_matching=True)
        with open(path, "wb") as f:
            write_po(f, cat, width=0, sort_output=False)
        path.with_suffix(".mo").write_bytes(mo_bytes(cat))
        missing = sum(1 for m in cat if m.id and not translated(m))
        print(f"{path.relative_to(ROOT)}: {len(cat)} messages, {missing} untranslated")


if __name__ == "__main__":
    update()
