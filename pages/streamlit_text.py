"""The few words Streamlit itself draws on our pages, in the reader's language.

Streamlit 1.67 has no locale for its own strings and no parameter for them: the file uploader's button, size
hint and drop prompt, the "Press Enter to apply" hint under text fields, an open list's "No results" and
"Select all", and the running indicator's Stop button are English in its frontend bundle (a multiselect's
empty "Choose options" has a parameter: placeholder=). For a reader who is not on English a small stylesheet hides those
text nodes (font-size 0) and draws the catalogue's words in their place (::after), on Streamlit's stable
data-testid hooks. English gets no stylesheet at all. The sizes are the theme's (measured in Chromium), so the
replacement sits where the original did.

The running indicator only shows with a toolbar: under .streamlit/config.toml's toolbarMode "minimal" (and no
menu items) Streamlit draws none, so its rule matters only if that changes. Hover tooltips (a refused file's
reason, "Fullscreen" on charts) and screen-reader labels stay Streamlit's English.
"""
from __future__ import annotations

from pages.i18n import _, current

UPLOADER = '[data-testid="stFileUploaderDropzone"]'
INSTRUCTIONS = '[data-testid="InputInstructions"] > span:first-child'   # the key hint; a counter follows it


def _quoted(text: str) -> str:
    """A CSS string literal of our own catalogue text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _replace(selector: str, text: str, size: str) -> str:
    """Hide the element's own text and draw `text` instead, at the theme's `size` (rem)."""
    return (f"{selector} {{font-size: 0 !important;}}\n"
            f"{selector}::after {{content: {_quoted(text)}; font-size: {size};}}\n")


def size_hint(max_mb: int, types: list[str] | None = None) -> str:
    hint = _("{size} per file").format(size=f"{max_mb} MB")
    return f"{hint} · {' / '.join(t.lstrip('.').upper() for t in types)}" if types else hint


def css(max_mb: int, mac: bool = False) -> str:
    """The stylesheet for the session's language; "" for English (Streamlit's own words are English)."""
    if current() == "en":
        return ""
    key = "⌘" if mac else "Ctrl"   # Streamlit names the key as the platform does
    return "".join([
        _replace(f'{UPLOADER} [data-testid="stBaseButton-secondary"] [data-testid="stMarkdownContainer"] p',
                 _("Upload"), "0.875rem"),
        _replace('[data-testid="stFileUploaderDropzoneInstructions"] span', size_hint(max_mb), "0.875rem"),
        # The drop prompt, drawn while a file is dragged over the box: the element right after the hidden input.
        _replace('[data-testid="stFileUploaderDropzoneInput"] + div > span', _("Drag and drop files here"),
                 "0.875rem"),
        # A refused file's chip says why only in a hover tooltip: its size line says it instead.
        _replace('[data-testid="stFileChip"][aria-invalid="true"] [data-testid="stFileChipName"] + div',
                 _("Not uploaded: a type not accepted here, or too large"), "0.75rem"),
        _replace(f'[data-testid="stTextInput"] {INSTRUCTIONS}', _("Press Enter to apply"), "0.75rem"),
        _replace(f'[data-testid="stNumberInput"] {INSTRUCTIONS}', _("Press Enter to apply"), "0.75rem"),
        _replace(f'[data-testid="stTextArea"] {INSTRUCTIONS}',
                 _("Press {key}+Enter to apply").format(key=key), "0.75rem"),
        # A select box's or multiselect's open list: empty (nothing matches, or all chosen), and its bulk rows.
        _replace('[role="listbox"][data-empty="true"] [role="option"] > span', _("No options left"), "0.875rem"),
        _replace('[data-key="__select_all__"] [data-item-hl]', _("Select all"), "0.875rem"),
        _replace('[data-key="__select_matches__"] [data-item-hl]', _("Select all that match"), "0.875rem"),
        # The running indicator's button: Stop, and Stopping... (disabled) once pressed.
        _replace('[data-testid="stStatusWidget"] button:enabled', _("Stop"), "0.875rem"),
        _replace('[data-testid="stStatusWidget"] button:disabled', _("Stopping…"), "0.875rem"),
    ])


def uploader_types(key: str, types: list[str], max_mb: int) -> str:
    """The size hint of one uploader (by its widget key) with the file types Streamlit lists after it."""
    if current() == "en":
        return ""
    return _replace(f'.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] span',
                    size_hint(max_mb, types), "0.875rem")


def _max_mb() -> int:
    import streamlit as st

    return int(st.get_option("server.maxUploadSize"))


def apply() -> None:
    """The page-wide stylesheet, once per script run (a style-only st.html takes no room on the page)."""
    import streamlit as st

    agent = st.context.headers.get("User-Agent", "") if st.context.headers else ""
    if sheet := css(_max_mb(), mac="Macintosh" in agent):
        st.html(f"<style>{sheet}</style>")


def file_uploader(label: str, types: list[str], key: str, **kwargs):
    """st.file_uploader, with its size-and-types hint in the reader's language."""
    import streamlit as st

    files = st.file_uploader(label, type=types, key=key, **kwargs)
    if sheet := uploader_types(key, types, _max_mb()):
        st.html(f"<style>{sheet}</style>")
    return files
