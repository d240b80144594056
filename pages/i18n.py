"""The interface's language: _() and ngettext() bound to the session's language, locale-aware numbers and
dates, engine errors shown in the reader's language, and the sidebar's English / 中文 switch.

Standard gettext over one catalogue (pages/locales, kept by pages/catalogue.py with Babel). Outside a
Streamlit run (chart builders under test, the CLI) everything is English. Streamlit is imported lazily so
pages/charts.py can use _() and still build charts without a browser.
"""
from __future__ import annotations

import functools
import gettext
import re
import time
from datetime import datetime
from pathlib import Path

from babel.dates import format_datetime
from babel.numbers import format_decimal

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
LANGUAGES = {"en": "English", "zh": "中文"}
GETTEXT = {"zh": "zh_CN"}                   # our language code -> the catalogue's folder
BABEL = {"en": "en_US", "zh": "zh_Hans_CN"}  # -> Babel's locale for numbers and dates
DATES = {"en": "yyyy-MM-dd HH:mm", "zh": "yyyy年M月d日 HH:mm"}
LANG = "ui_lang"            # session key: the session's language ("en" or "zh")
SWITCH = "ui_lang_switch"   # the sidebar switch's widget key
ERROR_CONTEXT = "engine"    # the catalogue's context for the engine's sentences (pages/i18n_extract.py)
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def N_(message: str) -> str:
    """Marks a string for the catalogue where it is defined; _() translates it where it is shown."""
    return message


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang not in GETTEXT:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALES, languages=[GETTEXT[lang]], fallback=True)


def current() -> str:
    """The session's language; English outside a Streamlit run. The first call of a session settles it."""
    try:
        import streamlit as st
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:
        return "en"
    if get_script_run_ctx() is None:
        return "en"
    lang = st.session_state.get(LANG)
    if lang not in LANGUAGES:
        lang = st.session_state[LANG] = first_choice()
    return lang


def first_choice() -> str:
    """The language this writer chose before (saved in the workspace), else the browser's."""
    import streamlit as st

    from pages import ui
    from textgen import prefs

    try:
        saved = prefs.load(ui.registry().home, ui.identity().owner).get("lang")
    except Exception:   # an unreadable workspace must not cost a page view: fall back to the browser
        saved = None
    if saved in LANGUAGES:
        return saved
    try:
        browser = st.context.locale or ""
    except Exception:
        browser = ""
    return "zh" if browser.lower().startswith("zh") else "en"


def _(message: str) -> str:
    return translations(current()).gettext(message) if message else message


def pgettext(context: str, message: str) -> str:
    """_() for a message whose words differ by context in the reader's language (a list's joins, say)."""
    return translations(current()).pgettext(context, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def num(value: float | int | None, places: int | None = None) -> str:
    """A number with the locale's grouping; `places` fixes the decimals. "—" for no value."""
    if value is None:
        return "—"
    fmt = None if places is None else "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(value, format=fmt, locale=BABEL[current()])


def date(ts: float | None) -> str:
    if not ts:
        return "—"
    return format_datetime(datetime.fromtimestamp(ts), DATES[current()], locale=BABEL[current()])


LIST_SEPARATOR = {"zh": "、"}               # an enumeration's separator; ", " elsewhere
CJK_STOPS = ("。", "！", "？", "：", "；")  # after these a Chinese sentence starts with no space
FULLWIDTH_SPACES = re.compile(r" +(?=[，。！？：；、（）])|(?<=[，。！？：；、（）]) +")   # full-width marks carry their own


def tidy(text: str, lang: str | None = None) -> str:
    """Chinese text with no space beside a full-width mark ("LSTM（从间隔 50 起） 和 GRU" loses the one after "）")."""
    return FULLWIDTH_SPACES.sub("", text) if (lang or current()) == "zh" else text


def listing(items, lang: str | None = None) -> str:
    """Items enumerated as the session's language (or `lang`) writes them: "5, 10, 20" or "5、10、20"."""
    return LIST_SEPARATOR.get(lang or current(), ", ").join(str(i) for i in items)


def sentences(*parts: str, lang: str | None = None) -> str:
    """Sentences (already translated) run on: a space between them, none after a Chinese full stop."""
    out = ""
    for part in filter(None, (p.strip() if p else p for p in parts)):
        out += ("" if not out or out.endswith(CJK_STOPS) else " ") + part
    return tidy(out, lang)


# -- engine errors -------------------------------------------------------------------------------
@functools.cache
def _templates(lang: str) -> list[tuple[re.Pattern, list[str], str, bool]]:
    """(pattern, placeholder names, translation, ends with a stop) per error template, the most specific first."""
    out = []
    for key, text in getattr(translations(lang), "_catalog", {}).items():
        if not isinstance(key, str) or not key.startswith(ERROR_CONTEXT + "\x04") or not text:
            continue
        msgid = key.split("\x04", 1)[1]
        parts = PLACEHOLDER.split(msgid)   # literal, name, literal, name, ...
        if not re.search(r"[A-Za-z]{2}", "".join(parts[::2])):   # placeholders only: it would match anything
            continue
        pattern = "".join(re.escape(p) if i % 2 == 0 else "(.+?)" for i, p in enumerate(parts))
        out.append((re.compile(pattern, re.DOTALL), parts[1::2], text, msgid.endswith("."), len("".join(parts[::2]))))
    out.sort(key=lambda t: -t[4])
    return [t[:4] for t in out]


def error_text(error: BaseException | str, lang: str | None = None) -> str:
    """An engine sentence in the session's language (or `lang`): matched back to its template and refilled."""
    message = str(error)
    lang = lang or current()
    if lang == "en":
        return message
    return tidy(_sentence(message, lang, 2), lang)


SENTENCE_END = re.compile(r"(?<=[.!?:]) (?=[A-Z])")


def _sentence(message: str, lang: str, depth: int) -> str:
    """One template's match, else each sentence of a composed message on its own; values are translated too
    (a value may be a piece of another template: "a bigram model of your text")."""
    tr = translations(lang)
    if not message or depth < 0:
        return message
    for pattern, names, translated, stop in _templates(lang):
        # A page may end a template that has no full stop with one (widget_error): it is not the value's.
        text = message[:-1] if message.endswith(".") and not stop else message
        m = pattern.fullmatch(text)
        if m is None:
            continue
        values = dict(zip(names, m.groups()))
        if len(parts := SENTENCE_END.split(message)) > 1 and any(re.search(r"[.!?] \S", v or "") for v in values.values()):
            continue   # a value that spans a sentence end: the message is several sentences, read one by one
        filled = PLACEHOLDER.sub(lambda p: _sentence(values.get(p.group(1), p.group(0)), lang, depth - 1)
                                 if p.group(1) in values else p.group(0), translated)
        return filled if filled.endswith(("。", "！", "？", "：")) or not message.endswith(".") else filled + "。"
    parts = SENTENCE_END.split(message)
    if len(parts) > 1:
        return "".join(_sentence(p, lang, depth) for p in parts)
    return tr.gettext(message)


# -- the switch ----------------------------------------------------------------------------------
def _plain(value) -> bool:
    """A choice's value: a str or number (not a bool: a button's), or a list of them (a multiselect's)."""
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def reseat(state) -> None:
    """Every choice set again to the value it holds, before the page is drawn in the new language.

    Streamlit keeps a radio's or selectbox's choice as its label on screen: once the labels change language
    the old one matches no option, and the choice is lost (or comes back as the label itself). A value set
    through session state is labelled afresh by the widget, so each keeps its option."""
    for key in list(state.keys()):
        if key not in (LANG, SWITCH) and _plain(value := state[key]):
            state[key] = value


def _switched() -> None:
    import streamlit as st

    from pages import ui
    from textgen import prefs

    lang = st.session_state.get(SWITCH) or current()
    st.session_state[LANG] = lang
    reseat(st.session_state)
    try:
        prefs.save(ui.registry().home, ui.identity().owner, lang=lang)
    except OSError:   # the choice still holds for this session
        pass


def language_switch() -> None:
    """English / 中文 in the sidebar; the choice is saved for this writer (their link) in the workspace."""
    import streamlit as st

    st.session_state[SWITCH] = current()
    st.segmented_control("Language · 语言", list(LANGUAGES), format_func=LANGUAGES.get, key=SWITCH,
                         required=True, on_change=_switched, label_visibility="collapsed")
    from pages import streamlit_text

    streamlit_text.apply()   # drawn with the switch, so every page (and every rerun) has Streamlit's words too


def stamp() -> str:
    """Now, for the locale (an export's header)."""
    return date(time.time())
