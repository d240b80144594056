"""Corpus: bring text in (paste, upload, sample), check it, save it for training."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import textgen
from pages import ui
from pages import charts
from textgen import library, presets, sizing
from textgen.corpus import ACCEPTED_SUFFIXES, DEFAULT_MAX_BYTES

SAMPLE = ui.ROOT / "assets" / "sample.txt"
MODES = {"paste": ":material/content_paste: Paste text", "upload": ":material/upload_file: Upload files",
         "sample": ":material/auto_stories: Use the sample text"}
PREVIEW_CHARS = 1500
PASTE, FILES, NAME, SURE = "corpus_paste", "corpus_files", "corpus_name", "corpus_delete_sure"
JOIN = "corpus_join"   # consent to read several uploaded files as one text

# A widget's value is dropped on a run where it is not drawn; re-storing it keeps pasted text across mode switches.
if PASTE in st.session_state:
    st.session_state[PASTE] = st.session_state[PASTE]

ui.header("Corpus", "Bring the text your model will learn from: paste it, upload files, or start with our sample.")

mode = st.segmented_control("Where is your text?", list(MODES), format_func=MODES.get, default="paste",
                            required=True, key="corpus_mode")
if mode == "paste":
    st.text_area("Your text", key=PASTE, height=240,
                 placeholder="Paste a story, poems, letters, song lyrics… The more, the better: "
                             "tens of thousands of characters or more.")
elif mode == "upload":
    st.file_uploader("Text files", type=[s.lstrip(".") for s in ACCEPTED_SUFFIXES], accept_multiple_files=True,
                     key=FILES, help=f"Plain text, Markdown or Word; up to {DEFAULT_MAX_BYTES // 2**20} MB in all.")
    chosen = st.session_state.get(FILES) or []
    if len(chosen) > 1:   # never merged silently: the writer says so, or removes files
        st.checkbox(ui.safe(f"Join these {len(chosen)} files into one corpus, in this order: "
                            + ", ".join(f.name for f in chosen)), key=JOIN)
else:
    st.info("*The Gannet Light*: a short story of our own about a lighthouse keeper and his town, "
            "about 58,000 characters, free to use.", icon=":material/auto_stories:")
input_errors = st.container()  # errors appear right under the input they are about

c1, c2, c3 = st.columns(3)
collapse = c1.checkbox("Collapse blank lines", key="clean_collapse",
                       help="Runs of blank lines become one blank line.")
gutenberg = c2.checkbox("Strip Project Gutenberg header and footer", key="clean_gutenberg")
lower = c3.checkbox("Lowercase", key="clean_lower", help="Fewer distinct characters: small models learn faster.")


def gather():
    """What the chosen mode gives textgen.load_corpus: a str, a list of (name, bytes), or a path."""
    if mode == "paste":
        return st.session_state.get(PASTE) or ""
    if mode == "upload":
        files = st.session_state.get(FILES) or []
        if not files:
            raise textgen.CorpusError("Choose at least one .txt, .md or .docx file first.")
        if len(files) > 1 and not st.session_state.get(JOIN):
            raise textgen.CorpusError(f"You chose {len(files)} files: tick \"Join these files\" to read them as one "
                                      "text, or remove the ones you do not want.")
        return [(f.name, f.getvalue()) for f in files]
    return [SAMPLE]


def default_name(corpus: textgen.Corpus) -> str:
    if corpus.sources == (textgen.corpus.PASTED,):
        return "Pasted text"
    stem = corpus.sources[0].rsplit(".", 1)[0]
    more = len(corpus.sources) - 1
    return stem + (f" and {more} more" if more else "")


if st.button("Check text", type="primary", icon=":material/fact_check:"):
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
    st.subheader("What the model will see")
    m = st.columns(5)
    m[0].metric("Characters", f"{s.chars:,}")
    m[1].metric("Distinct characters", f"{s.distinct:,}")
    m[2].metric("Words", f"{s.words:,}")
    m[3].metric("Lines", f"{s.lines:,}")
    m[4].metric("Encoding", corpus.encoding_label, help=f"Per file: {corpus.encoding}")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Most frequent characters** (␣ is a space, ↵ a new line)")
        st.altair_chart(charts.top_chars_chart(s.top_chars), width="stretch")
    with right:
        st.markdown("**Preview**")
        st.code(corpus.text[:PREVIEW_CHARS] + ("…" if s.chars > PREVIEW_CHARS else ""), language=None,
                wrap_lines=True, height=300)
    # The Train page's sizing, for the preset it opens with: a text too short to train is said here first,
    # in the sentence training would give.
    recipe = presets.PRESETS[presets.DEFAULT].train
    advice = sizing.advise(sizing.char_counts(s.chars, s.distinct), recipe)
    if advice.refused:
        st.error(ui.safe(advice.message), icon=":material/error:")
    else:
        st.info(f"**For a {recipe.time_budget / 60:g}-minute run ({presets.DEFAULT}):** {advice.message}",
                icon=":material/lightbulb:")
    if s.chars < 20_000 and not advice.refused:
        st.warning("This is a short text: the model will mostly learn its spelling. "
                   "A hundred thousand characters or more gives it phrasing to learn.", icon=":material/info:")

    with st.container(border=True):
        st.markdown("**Save this corpus** to train on it")
        n1, n2 = st.columns([3, 1], vertical_alignment="bottom")
        n1.text_input("Name", key=NAME, max_chars=80)
        if n2.button("Save corpus", icon=":material/save:", width="stretch"):
            try:
                library.save_corpus(st.session_state.get(NAME, ""), corpus, ui.registry().home, ui.identity())
            except textgen.InkwellError as e:
                ui.show_error(e)
            else:
                st.success("Saved. It is ready on the Train page.", icon=":material/check_circle:")
                ui.page_link(ui.TRAIN_PAGE, "Train a model on it", ":material/model_training:")

st.divider()
st.subheader("Saved corpora")
saved = library.list_corpora(ui.registry().home, ui.identity())   # only this writer's
if not saved:
    st.caption("Nothing saved yet: check a text above and save it.")
else:
    st.dataframe(pd.DataFrame([{
        "name": c["name"], "characters": c["stats"]["chars"], "distinct": c["stats"]["distinct"],
        "words": c["stats"]["words"], "sources": ", ".join(c["sources"]), "saved": ui.date(c["created"]),
    } for c in saved]), hide_index=True, width="stretch", key="corpora_table",
        column_config={"characters": st.column_config.NumberColumn(format="localized"),
                       "words": st.column_config.NumberColumn(format="localized")})
    names = {c["id"]: f"{c['name']} · {c['stats']['chars']:,} characters" for c in saved}
    with st.expander("Delete a corpus", icon=":material/delete:"):
        victim = st.selectbox("Corpus", list(names), format_func=names.get, key="corpus_delete_pick")
        sure = st.checkbox("Yes, delete it (runs trained on it keep their own copy)", key=SURE)
        if st.button("Delete", disabled=not sure, key="corpus_delete"):
            try:
                library.delete_corpus(victim, ui.registry().home, ui.identity())
            except textgen.InkwellError as e:
                ui.show_error(e)
            else:
                st.session_state.pop(SURE, None)
                st.rerun()
    ui.page_link(ui.TRAIN_PAGE, "Train a model on a saved corpus", ":material/model_training:")
