"""Corpus: bring text in (paste, upload, sample), check it, save it for training."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import textgen
from pages import ui
from pages import charts, i18n, streamlit_text
from pages.i18n import N_, _, ngettext
from textgen import library, presets, sizing
from textgen.corpus import ACCEPTED_SUFFIXES, DEFAULT_MAX_BYTES

SAMPLE = ui.ROOT / "assets" / "sample.txt"
MODES = {"paste": (":material/content_paste:", N_("Paste text")),
         "upload": (":material/upload_file:", N_("Upload files")),
         "sample": (":material/auto_stories:", N_("Use the sample text"))}
PREVIEW_CHARS = 1500
PASTE, FILES, NAME, SURE = "corpus_paste", "corpus_files", "corpus_name", "corpus_delete_sure"
JOIN = "corpus_join"   # consent to read several uploaded files as one text

# A widget's value is dropped on a run where it is not drawn; re-storing it keeps pasted text across mode switches.
if PASTE in st.session_state:
    st.session_state[PASTE] = st.session_state[PASTE]

ui.header(_("Corpus"), _("Bring the text your model will learn from: paste it, upload files, or start with our "
                          "sample."))

mode = st.segmented_control(_("Where is your text?"), list(MODES), format_func={m: f"{icon} {_(text)}" for m, (icon, text) in MODES.items()}.get,
                            default="paste",
                            required=True, key="corpus_mode")
if mode == "paste":
    st.text_area(_("Your text"), key=PASTE, height=240,
                 placeholder=_("Paste a story, poems, letters, song lyrics… The more, the better: "
                               "tens of thousands of characters or more."))
elif mode == "upload":
    streamlit_text.file_uploader(_("Text files"), [s.lstrip(".") for s in ACCEPTED_SUFFIXES], FILES,
                                 accept_multiple_files=True,
                                 help=_("Plain text, Markdown or Word; up to {mb} MB in all.").format(
                                     mb=DEFAULT_MAX_BYTES // 2**20))
    chosen = st.session_state.get(FILES) or []
    if len(chosen) > 1:   # never merged silently: the writer says so, or removes files
        st.checkbox(ui.safe(ngettext("Join these {n} file into one corpus, in this order: {names}",
                                     "Join these {n} files into one corpus, in this order: {names}",
                                     len(chosen)).format(n=len(chosen), names=i18n.listing(f.name for f in chosen))),
                    key=JOIN)
else:
    st.info(_("*The Gannet Light*: a short story of our own about a lighthouse keeper and his town, "
              "about 58,000 characters, free to use."), icon=":material/auto_stories:")
input_errors = st.container()  # errors appear right under the input they are about

c1, c2, c3 = st.columns(3)
collapse = c1.checkbox(_("Collapse blank lines"), key="clean_collapse",
                       help=_("Runs of blank lines become one blank line."))
gutenberg = c2.checkbox(_("Strip Project Gutenberg header and footer"), key="clean_gutenberg")
lower = c3.checkbox(_("Lowercase"), key="clean_lower", help=_("Fewer distinct characters: small models learn faster."))


def gather():
    """What the chosen mode gives textgen.load_corpus: a str, a list of (name, bytes), or a path."""
    if mode == "paste":
        return st.session_state.get(PASTE) or ""
    if mode == "upload":
        files = st.session_state.get(FILES) or []
        if not files:
            raise textgen.CorpusError(_("Choose at least one .txt, .md or .docx file first."))
        if len(files) > 1 and not st.session_state.get(JOIN):
            raise textgen.CorpusError(_("You chose {n} files: tick \"Join these files\" to read them as one "
                                        "text, or remove the ones you do not want.").format(n=len(files)))
        return [(f.name, f.getvalue()) for f in files]
    return [SAMPLE]


def default_name(corpus: textgen.Corpus) -> str:
    if corpus.sources == (textgen.corpus.PASTED,):
        return _("Pasted text")
    stem = corpus.sources[0].rsplit(".", 1)[0]
    more = len(corpus.sources) - 1
    return _("{name} and {more} more").format(name=stem, more=more) if more else stem


if st.button(_("Check text"), type="primary", icon=":material/fact_check:"):
    try:
        corpus = textgen.load_corpus(gather(), clean=textgen.CleanOptions(collapse, gutenberg, lower))
    except textgen.InkwellError as e:
        st.session_state.pop(ui.CHECKED_CORPUS, None)
        ui.show_error(e, input_errors)
    else:
        st.session_state[ui.CHECKED_CORPUS] = corpus
        st.session_state[NAME] = default_name(corpus)

corpus = st.session_state.get(ui.CHECKED_CORPUS)
if corpus is not None:
    s = corpus.stats
    st.divider()
    st.subheader(_("What the model will see"))
    # A Chinese text has no spaces between words: no word count to show (stats.has_words, from the engine).
    words = getattr(s, "has_words", True)
    m = iter(st.columns(5 if words else 4))
    next(m).metric(_("Characters"), i18n.num(s.chars))
    next(m).metric(_("Distinct characters"), i18n.num(s.distinct))
    if words:
        next(m).metric(_("Words"), i18n.num(s.words))
    next(m).metric(_("Lines"), i18n.num(s.lines))
    next(m).metric(_("Encoding"), corpus.encoding_label, help=_("Per file: {encoding}").format(encoding=corpus.encoding))
    left, right = st.columns([3, 2])
    with left:
        st.markdown(_("**Most frequent characters** (␣ is a space, ↵ a new line)"))
        st.altair_chart(charts.top_chars_chart(s.top_chars), width="stretch")
    with right:
        st.markdown("**" + _("Preview") + "**")
        st.code(corpus.text[:PREVIEW_CHARS] + ("…" if s.chars > PREVIEW_CHARS else ""), language=None,
                wrap_lines=True, height=300)
    # The Train page's sizing, for the preset it opens with: a text too short to train is said here first,
    # in the sentence training would give.
    recipe = presets.PRESETS[presets.DEFAULT].train
    advice = sizing.corpus_advice(s)   # the default preset fitted to this text, as the Train page fits it
    if advice.refused:
        st.error(ui.safe(i18n.error_text(advice.message)), icon=":material/error:")
    else:
        st.info(_("**For a {minutes}-minute run ({preset}):** {advice}").format(
            minutes=f"{recipe.time_budget / 60:g}", preset=_(presets.DEFAULT), advice=i18n.error_text(advice.message)),
                icon=":material/lightbulb:")
    for note in sizing.text_notes(s):   # a Chinese text: how it is read, its rare characters, how much a poem needs
        st.caption(ui.safe(i18n.error_text(note)))
    if s.chars < 20_000 and not advice.refused and s.has_words:
        st.warning(_("This is a short text: the model will mostly learn its spelling. "
                     "A hundred thousand characters or more gives it phrasing to learn."), icon=":material/info:")

    with st.container(border=True):
        st.markdown(_("**Save this corpus** to train on it"))
        n1, n2 = st.columns([3, 1], vertical_alignment="bottom")
        n1.text_input(_("Name"), key=NAME, max_chars=80)
        if n2.button(_("Save corpus"), icon=":material/save:", width="stretch"):
            try:
                library.save_corpus(st.session_state.get(NAME, ""), corpus, ui.registry().home, ui.identity())
            except textgen.InkwellError as e:
                ui.show_error(e)
            else:
                st.success(_("Saved. It is ready on the Train page."), icon=":material/check_circle:")
                ui.page_link(ui.TRAIN_PAGE, _("Train a model on it"), ":material/model_training:")

st.divider()
st.subheader(_("Saved corpora"))
saved = library.list_corpora(ui.registry().home, ui.identity())   # only this writer's
if not saved:
    st.caption(_("Nothing saved yet: check a text above and save it."))
else:
    # Column names are the shown headers; the frame keeps its English keys for the tests and the config.
    st.dataframe(pd.DataFrame([{
        "name": c["name"], "characters": c["stats"]["chars"], "distinct": c["stats"]["distinct"],
        "words": c["stats"]["words"] if c["stats"].get("has_words", True) else None, "sources": i18n.listing(c["sources"]), "saved": ui.date(c["created"]),
    } for c in saved]), hide_index=True, width="stretch", key="corpora_table",
        column_config={"name": _("name"), "distinct": _("distinct"), "sources": _("sources"), "saved": _("saved"),
                       "characters": st.column_config.NumberColumn(_("characters"), format="localized"),
                       "words": st.column_config.NumberColumn(_("words"), format="localized")})
    names = {c["id"]: _("{name} · {n} characters").format(name=c["name"], n=i18n.num(c["stats"]["chars"]))
             for c in saved}
    with st.expander(_("Delete a corpus"), icon=":material/delete:"):
        victim = st.selectbox(_("Corpus"), list(names), format_func=names.get, key="corpus_delete_pick")
        sure = st.checkbox(_("Yes, delete it (runs trained on it keep their own copy)"), key=SURE)
        if st.button(_("Delete"), disabled=not sure, key="corpus_delete"):
            try:
                library.delete_corpus(victim, ui.registry().home, ui.identity())
            except textgen.InkwellError as e:
                ui.show_error(e)
            else:
                st.session_state.pop(SURE, None)
                st.rerun()
    ui.page_link(ui.TRAIN_PAGE, _("Train a model on a saved corpus"), ":material/model_training:")
