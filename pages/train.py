"""Train: choose a corpus and a model, start a worker, watch the loss fall and the samples improve."""
from __future__ import annotations

import dataclasses

import streamlit as st

import textgen
from pages import i18n, train_panel, ui
from pages.i18n import N_, _
from textgen import jobs, library, presets, sizing
from textgen.config import (CELL_NAMES, CELLS, OPTIMIZERS, SPECS, ModelConfig, TrainConfig, to_dict, widget,
                            widget_error, widget_limits)
from textgen.runs import ACTIVE

CUSTOM = N_("Custom")   # the radio's value; shown through _()
STARTED = "train_started_toast"   # a run was just started: toast it on the rerun that shows its panel
LEVELS = {"char": N_("character"), "subword": N_("word piece"), "word": N_("word")}
PRESET_KEY, CELL_KEY, LEVEL_KEY, CORPUS_KEY, LABEL_KEY = "train_preset", "train_cell", "train_level", "train_corpus", "train_label"
MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}
# The hyperparameter widgets in page order; each one's label, step, help and limits are its config field's.
FIELDS = ("layers", "units", "embedding", "subword_vocab", "dropout", "weight_drop", "seq_len", "batch_size", "epochs",
          "time_budget", "lr", "warmup_steps", "clipnorm", "weight_decay", "val_fraction", "patience", "seed")
PRESET_KEYS = (*FIELDS, "schedule", "optimizer", "carry_state", "level")   # what a preset sets (level has its own key)


def widget_help(k: str) -> str:
    """A field's help (the engine's, translated) and its range."""
    lo, hi = widget_limits(k)
    rng = _("From {lo} to {hi}.").format(lo=i18n.num(lo), hi=i18n.num(hi))
    return i18n.sentences(_(widget(k).help) if widget(k).help else "", rng)


def applies(k: str, cell: str) -> bool:
    return widget(k).cells is None or cell in widget(k).cells


def named(names: dict):
    """A widget's format_func: the names translated now (AppTest formats values outside the script run)."""
    return {k: _(v) for k, v in names.items()}.get


def cell_note(cell: str) -> str:
    """A cell's note without its name (the radio shows the name), in the session's language."""
    note = _(presets.CELL_NOTES[cell])
    for sep in (": ", "："):
        if sep in note:
            note = note.split(sep, 1)[1]
            break
    return note[:1].upper() + note[1:]


def field_value(k: str, cell: str, value):
    """The value a field sends for this cell: its own, or 0 where it does not apply (its widget is greyed out)."""
    kind = type(SPECS[k].default)
    return kind(value) * widget(k).scale if applies(k, cell) else kind(0)



def preset_values(name: str) -> dict:
    """The widgets' values for a preset (ints stay ints unless a field is shown scaled)."""
    vals = {**to_dict(presets.PRESETS[name].model), **to_dict(presets.PRESETS[name].train)}
    return {k: vals[k] / widget(k).scale if k in FIELDS and widget(k).scale != 1 else vals[k] for k in PRESET_KEYS}


def apply_preset() -> None:
    """A preset sets sizes and training; the writer's choice of cell stays."""
    name = st.session_state[PRESET_KEY]
    if name == CUSTOM:
        return  # Custom starts from whatever the fields hold
    vals = preset_values(name)
    st.session_state[LEVEL_KEY] = vals.pop("level")
    for k, v in vals.items():
        st.session_state["hp_" + k] = v


if PRESET_KEY not in st.session_state:
    st.session_state[PRESET_KEY] = presets.DEFAULT
    apply_preset()
# Keep the hidden fields' values when the Custom expander is collapsed or the page is left; a field
# added since this session began starts from the chosen preset's value (the default's under Custom).
_preset_vals = preset_values(presets.DEFAULT if st.session_state[PRESET_KEY] == CUSTOM else st.session_state[PRESET_KEY])
for _k in PRESET_KEYS[:-1]:
    st.session_state["hp_" + _k] = st.session_state.get("hp_" + _k, _preset_vals[_k])

ui.header(_("Train"), _("Teach a recurrent network your text, and watch it learn to write like it."))
reg = ui.registry()
me = ui.identity()
corpora = library.list_corpora(reg.home, me)   # only this writer's own texts


def hyperparameters(custom: bool, cell: str) -> dict[str, str]:
    """The hyperparameter widgets; returns field -> the sentence refusing its value, for values out of range."""
    box = st.container(border=True)
    box.caption(_("These are the preset's values; choose Custom to change them.") if not custom else
                _("Every value is yours to set; the estimate below follows them. Each field's help (?) gives its "
                  "range."))
    cols, refused = box.columns(4), {}
    for i, k in enumerate(FIELDS):
        f, col = widget(k), cols[i % 4]
        common = dict(key="hp_" + k, help=widget_help(k), disabled=not custom or not applies(k, cell))
        if f.widget == "slider":
            col.slider(_(f.label), *widget_limits(k), step=f.step, **common)
        else:   # no min or max: a value out of range reaches the page, which says why it is refused
            fmt = "%.4f" if f.widget == "fine" else None   # small values: more places than the default two
            col.number_input(_(f.label), step=type(SPECS[k].default)(f.step), format=fmt, **common)
        if (why := widget_error(k, st.session_state["hp_" + k])) is not None:
            refused[k] = why
            col.error(i18n.error_text(why), icon=":material/error:")
    cols[len(FIELDS) % 4].selectbox(_("Learning-rate schedule"), ["cosine", "constant"], key="hp_schedule",
                                    disabled=not custom, format_func=named(SCHEDULES))
    cols[(len(FIELDS) + 1) % 4].selectbox(_(widget("optimizer").label), list(OPTIMIZERS), key="hp_optimizer",
                                          disabled=not custom, format_func=named(OPTIMIZER_NAMES),
                                          help=_(widget("optimizer").help))
    cols[(len(FIELDS) + 2) % 4].checkbox(_(widget("carry_state").label), key="hp_carry_state", disabled=not custom,
                                         help=_(widget("carry_state").help))
    return refused


SCHEDULES = {"cosine": N_("cosine"), "constant": N_("constant")}
OPTIMIZER_NAMES = {"adam": N_("Adam"), "sgd": N_("plain SGD")}


def setup() -> None:
    names = {c["id"]: _("{name} · {n} characters").format(name=c["name"], n=i18n.num(c["stats"]["chars"]))
             for c in corpora}
    metas = {c["id"]: c for c in corpora}
    st.subheader(_("1 · Text and model"))
    if st.session_state.get(CORPUS_KEY) not in names:  # deleted meanwhile, or first visit: the newest
        st.session_state[CORPUS_KEY] = next(iter(names))
    a, b = st.columns([3, 2])
    cid = a.selectbox(_("Corpus"), list(names), format_func=names.get, key=CORPUS_KEY)
    if LEVEL_KEY not in st.session_state:
        st.session_state[LEVEL_KEY] = "char"
    level = b.segmented_control(_(widget("level").label), list(LEVELS), required=True, key=LEVEL_KEY,
                                format_func=named(LEVELS), help=_(widget("level").help))
    if CELL_KEY not in st.session_state:
        st.session_state[CELL_KEY] = "gru"
    cell = st.radio(_("Recurrent cell"), CELLS, format_func=CELL_NAMES.get, key=CELL_KEY, horizontal=True,
                    captions=[cell_note(c) for c in CELLS])

    st.subheader(_("2 · How long"))
    preset = st.radio(_("Preset"), [*presets.PRESETS, CUSTOM], key=PRESET_KEY, horizontal=True, on_change=apply_preset,
                      format_func=named({p: p for p in [*presets.PRESETS, CUSTOM]}), captions=[*(_(p.blurb) for p in presets.PRESETS.values()),
                                               _("Set every hyperparameter yourself.")])
    custom = preset == CUSTOM
    if not custom and cell != presets.PRESETS[preset].model.cell:
        st.caption(_("{preset} was tuned as a {tuned} recipe; with {cell} it keeps its sizes and training values.")
                   .format(preset=_(preset), tuned=CELL_NAMES[presets.PRESETS[preset].model.cell], cell=CELL_NAMES[cell]))
    # A toggle, not an expander: the whole form sits in an expander while a run trains, and they cannot nest.
    shown = custom or st.toggle(_("Show the hyperparameters"), key="train_show_hp")
    if shown and hyperparameters(custom, cell):   # a value out of range: said under its field, nothing to start
        return
    hp = {k: st.session_state["hp_" + k] for k in [*FIELDS, "schedule", "optimizer"]}
    try:
        model = ModelConfig(cell=cell, **{k: field_value(k, cell, hp[k]) for k in FIELDS if k in MODEL_FIELDS}).validate()
        cfg = TrainConfig(level=level, schedule=hp["schedule"], optimizer=hp["optimizer"], carry_state=bool(st.session_state["hp_carry_state"]),
                          **{k: field_value(k, cell, hp[k]) for k in FIELDS if k not in MODEL_FIELDS}).validate()
        cjk = metas[cid]["stats"].get("has_words") is False   # a Chinese text: character level, smaller batches
        if not custom:   # a preset is fitted to the text, as the Corpus page's advice assumes
            basis = dataclasses.replace(cfg, level="char") if cjk else cfg   # adapt() counts a CJK text in characters
            fit = sizing.fit(dataclasses.replace(presets.PRESETS[preset], model=model, train=cfg),
                             sizing.saved_counts(metas[cid], basis, reg.home), cjk=cjk)
            # the engine's reasons (what the fit changed and why, or why not), each in the session's language
            st.caption(ui.safe(i18n.sentences(*(i18n.error_text(n) for n in fit.notes))))
            cfg = fit.preset.train
        est = sizing.estimate(sizing.saved_counts(metas[cid], cfg, reg.home), model, cfg)
    except textgen.InkwellError as e:
        ui.show_error(e)
        return

    # -- what it will cost -------------------------------------------------------------------
    m = st.columns(4)
    m[0].metric(_("Parameters"), i18n.num(est.params))
    m[1].metric(_("Vocabulary"), i18n.num(est.counts.vocab), help=_("Distinct tokens, plus one for unknown ones."))
    m[2].metric(_("Time per epoch (est.)"), ui.duration(est.seconds_per_epoch))
    m[3].metric(_("Training time (est.)"), ui.duration(est.seconds),
                help=_("At most the time budget; measured on a 2-core CPU, so faster machines finish sooner."))
    if est.memorises:   # one note for a small text, not two: the ring is the remedy either way
        st.warning(_("This model has over twice as many parameters as the text has characters: it may learn the "
                     "text by heart. The learning curve rings its best score on held-back text, and that checkpoint "
                     "is the one that writes; a smaller model (Custom) or more text will generalise better."),
                   icon=":material/info:")
    elif est.refusal is None and est.passes >= sizing.MANY_PASSES:   # a small text: over-fitting shows on the chart
        st.info(_("By the estimate this run reads the text about {n} times, often enough that it may learn it by "
                  "heart; the learning curve rings its best score on held-back text, and that checkpoint is the one "
                  "that writes.").format(n=i18n.num(round(est.passes))), icon=":material/show_chart:")

    st.subheader(_("3 · Start"))
    suggested = f"{metas[cid]['name']} · {CELL_NAMES[cell]} {model.layers}×{model.units}"
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input(_("Label"), key=LABEL_KEY, placeholder=suggested, max_chars=80,
                  help=_("A name for this run; leave empty for the suggestion."))
    errors = st.container()
    if est.refusal is not None:   # too short, or over a limit of this server: one sentence next to Start
        errors.error(ui.safe(i18n.error_text(est.refusal)), icon=":material/error:")
    if c2.button(_("Start training"), type="primary", icon=":material/play_arrow:", width="stretch",
                 disabled=est.refusal is not None) and est.refusal is None:
        try:
            run_id = jobs.submit(library.corpus_path(cid, reg.home, me), model, cfg,
                                 st.session_state.get(LABEL_KEY) or suggested, reg, owner=me)
        except textgen.InkwellError as e:
            ui.show_error(e, errors)
        else:
            st.session_state[ui.TRAIN_RUN] = run_id
            # Rerun so the live panel takes the top of a short page (the form folds away below it):
            # otherwise the writer, scrolled down to this button, sees nothing happen.
            st.session_state[STARTED] = True
            st.rerun()


# The run being followed comes first, so Start (or a reload) shows it without scrolling; the form follows,
# folded away while that run trains, so the page is short and the panel is what one sees.
if st.session_state.pop(STARTED, False):
    st.toast(_("Training started."), icon=":material/rocket_launch:")
panel_slot = st.container()
if not corpora:
    st.info(_("Save a corpus first: the model learns from a text you bring (or from our sample)."),
            icon=":material/menu_book:")
    ui.page_link(ui.CORPUS_PAGE, _("Go to Corpus"), ":material/menu_book:")
elif (run := train_panel.followed(reg, me)) is not None and run["status"] in ACTIVE:
    with st.expander(_("Train another model"), icon=":material/add_circle:"):
        setup()
else:
    setup()
if (run := train_panel.followed(reg, me)) is not None:
    with panel_slot, st.container(border=True):
        st.subheader(_("Training run"))
        train_panel.live(run["id"], reg, me) if run["status"] in ACTIVE else train_panel.draw(run, reg, me)
