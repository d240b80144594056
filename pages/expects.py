"""The Write page's "what the model expects" block: the next-token odds, branching the model's last piece,
and the surprise view's key. Rendered by pages/write.py; the numbers come from textgen.insight.
"""
from __future__ import annotations

import json
import secrets

import streamlit as st

from pages import i18n, odds as odds_chart, ui, writing
from pages.i18n import _
from textgen import Generator, InkwellError, insight
from textgen.artifacts import DEMO_ID
from textgen.drafts import Draft
from textgen.generate import Settings
from textgen.markup import escape_markdown


def branch(at: int, token: int) -> None:
    """Rewrite the model's latest piece from its token `at` on, starting with `token`."""
    draft, latest = writing.current_draft(), st.session_state.get(writing.LATEST)
    gen, _why = writing.load(st.session_state.get(ui.ACTIVE_RUN) or DEMO_ID)
    if latest is None or gen is None:
        return writing.note("branch", "error", insight.STALE)
    try:
        new_draft, cont = insight.branch(gen, draft, latest["base"], latest["cont"], at, token,
                                         st.session_state.get(writing.SETTINGS) or Settings(), secrets.randbits(31))
    except InkwellError as e:
        return writing.note("branch", "error", str(e))
    st.session_state.setdefault(writing.BRANCHED, []).append((new_draft.to_json(), draft.to_json(), latest))
    st.session_state[writing.LATEST] = {"base": latest["base"], "cont": cont, "at": at}
    writing.save(new_draft, "branch")


def surprise_key(surprise) -> None:
    st.caption(i18n.error_text(insight.legend(surprise.level)))
    a, b = st.columns(2)
    for col, who, label in ((a, "writer", _("Your text")), (b, "model", _("The model's text"))):
        bpc = surprise.bits_per_char[who]
        col.metric(label, "—" if bpc is None else _("{bpc:.2f} bits per character").format(bpc=bpc),
                   help=_("How surprised the model was, on average, per character: lower is more expected."))


def localized(spec: dict) -> dict:
    """The odds chart's titles and legend in the reader's language (pages/odds.py builds it in English)."""
    if i18n.current() == "en":
        return spec
    try:
        enc = spec["encoding"]
        enc["x"]["title"] = _(enc["x"]["title"])
        for tip in enc["tooltip"]:
            if tip.get("title"):
                tip["title"] = _(tip["title"])
        legend = spec["layer"][0]["encoding"]["color"]["legend"]
        expr = "datum.label"
        for kind in (odds_chart.KEPT, odds_chart.CUT):   # the bars' kinds are data values: relabel them
            expr = f"datum.label == {json.dumps(kind)} ? {json.dumps(_(kind))} : {expr}"
        legend["labelExpr"] = expr
    except (KeyError, IndexError, TypeError):   # a changed spec keeps its English rather than breaking
        pass
    return spec


def panel(gen: Generator, draft: Draft, s: Settings) -> None:
    try:
        gen.check_settings(s)
        odds = insight.next_odds(gen, writing.primed(gen, draft.text[-writing.PROMPT_CHARS:]), s)
    except InkwellError:
        return   # the settings' own error is shown beside them
    st.subheader(_("What the model expects next"))
    st.vega_lite_chart(localized(odds_chart.spec(odds)), width="stretch", key="w_odds")
    latest = st.session_state.get(writing.LATEST)
    cont = latest["cont"] if latest else None
    # Only while the draft still ends with the piece as written (a click racing an edit is refused).
    if cont is None or not gen.owns(cont.primed) or draft.text != latest["base"] + cont.text \
            or not (spots := insight.choices(cont)):
        return writing.show_notes("branch")
    starts = cont.starts()
    st.subheader(_("Branch the model's last piece"))

    def label(i: int) -> str:
        before = (latest["base"][-16:] + cont.text[:starts[i]])[-16:]
        return f"…{insight.visible(before)}  ⟨{insight.visible(cont.pieces[i])}⟩"

    # One picker per piece: a browser showed the old piece's label under a reused key after a branch.
    at = st.selectbox(_("At"), spots, format_func=label, key=f"w_branch_at_{hash(cont.tokens) & 0xFFFFFF:x}",
                      index=spots.index(latest["at"]) if latest.get("at") in spots else 0,
                      help=_("Pick a token of the model's last piece to see what else it weighed there."))
    try:
        alternatives = [o for o in insight.odds_at(gen, cont, at, s) if o.kept or o.token == cont.tokens[at]]
    except InkwellError as e:   # say, banned words that leave nothing at that point
        alternatives = []
        st.caption(escape_markdown(i18n.error_text(e)))
    row = st.container(horizontal=True, key="w_branch_row")
    for k, o in enumerate(alternatives[:6]):
        row.button(f"{escape_markdown(o.shown)} · {odds_chart.percent(o.before)}", key=f"w_branch_{k}", on_click=branch, args=(at, o.token),
                   disabled=o.token == cont.tokens[at], help=_("Write on from here with this token instead."))
    st.caption(_("The chances are those the model weighed at that point, before top-k and top-p; choosing one "
               "rewrites the piece from there, and Undo brings it back."))
    writing.show_notes("branch")


