"""Train: choose a corpus and a model, start a worker, watch the loss fall and the samples improve."""
from __future__ import annotations

import dataclasses

import streamlit as st

import textgen
from pages import ui
from pages import charts
from textgen import baselines, jobs, library, presets, room, roomcache, sizing
from textgen.config import (CELL_NAMES, CELLS, SPECS, ModelConfig, TrainConfig, to_dict, widget, widget_error,
                            widget_help, widget_limits)
from textgen.runs import ACTIVE

CUSTOM = "Custom"
STARTED = "train_started_toast"   # a run was just started: toast it on the rerun that shows its panel
LAST = "Latest score"   # metric labels stay short: long ones are cut off on a projector
SCORE_NOTE = "Score: bits per character on text held back from training (lower is better)."
PRESET_KEY, CELL_KEY, LEVEL_KEY, CORPUS_KEY, LABEL_KEY = "train_preset", "train_cell", "train_level", "train_corpus", "train_label"
MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}
# The hyperparameter widgets in page order; each one's label, step, help and limits are its config field's.
FIELDS = ("layers", "units", "embedding", "subword_vocab", "dropout", "weight_drop", "seq_len", "batch_size", "epochs",
          "time_budget", "lr", "warmup_steps", "clipnorm", "weight_decay", "val_fraction", "patience", "seed")
PRESET_KEYS = (*FIELDS, "schedule", "carry_state", "level")   # what a preset sets (level has its own key)


def applies(k: str, cell: str) -> bool:
    return widget(k).cells is None or cell in widget(k).cells


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

ui.header("Train", "Teach a recurrent network your text, and watch it learn to write like it.")
reg = ui.registry()
me = ui.identity()
corpora = library.list_corpora(reg.home, me)   # only this writer's own texts


def hyperparameters(custom: bool, cell: str) -> dict[str, str]:
    """The hyperparameter widgets; returns field -> the sentence refusing its value, for values out of range."""
    box = st.container(border=True)
    box.caption("These are the preset's values; choose Custom to change them." if not custom else
                "Every value is yours to set; the estimate below follows them. Each field's help (?) gives its range.")
    cols, refused = box.columns(4), {}
    for i, k in enumerate(FIELDS):
        f, col = widget(k), cols[i % 4]
        common = dict(key="hp_" + k, help=widget_help(k), disabled=not custom or not applies(k, cell))
        if f.widget == "slider":
            col.slider(f.label, *widget_limits(k), step=f.step, **common)
        else:   # no min or max: a value out of range reaches the page, which says why it is refused
            fmt = "%.4f" if f.widget == "fine" else None   # small values: more places than the default two
            col.number_input(f.label, step=type(SPECS[k].default)(f.step), format=fmt, **common)
        if (why := widget_error(k, st.session_state["hp_" + k])) is not None:
            refused[k] = why
            col.error(why, icon=":material/error:")
    cols[len(FIELDS) % 4].selectbox("Learning-rate schedule", ["cosine", "constant"], key="hp_schedule",
                                    disabled=not custom)
    cols[(len(FIELDS) + 1) % 4].checkbox(widget("carry_state").label, key="hp_carry_state", disabled=not custom,
                                         help=widget("carry_state").help)
    return refused


def setup() -> None:
    names = {c["id"]: f"{c['name']} · {c['stats']['chars']:,} characters" for c in corpora}
    metas = {c["id"]: c for c in corpora}
    st.subheader("1 · Text and model")
    if st.session_state.get(CORPUS_KEY) not in names:  # deleted meanwhile, or first visit: the newest
        st.session_state[CORPUS_KEY] = next(iter(names))
    a, b = st.columns([3, 2])
    cid = a.selectbox("Corpus", list(names), format_func=names.get, key=CORPUS_KEY)
    if LEVEL_KEY not in st.session_state:
        st.session_state[LEVEL_KEY] = "char"
    level = b.segmented_control(widget("level").label, ["char", "subword", "word"], required=True, key=LEVEL_KEY,
                                format_func={"char": "character", "subword": "word piece", "word": "word"}.get,
                                help=widget("level").help)
    if CELL_KEY not in st.session_state:
        st.session_state[CELL_KEY] = "gru"
    cell = st.radio("Recurrent cell", CELLS, format_func=CELL_NAMES.get, key=CELL_KEY, horizontal=True,
                    captions=[(n := presets.CELL_NOTES[c].split(": ", 1)[1])[:1].upper() + n[1:] for c in CELLS])

    st.subheader("2 · How long")
    preset = st.radio("Preset", [*presets.PRESETS, CUSTOM], key=PRESET_KEY, horizontal=True, on_change=apply_preset,
                      captions=[*(p.blurb for p in presets.PRESETS.values()), "Set every hyperparameter yourself."])
    custom = preset == CUSTOM
    if not custom and cell != presets.PRESETS[preset].model.cell:
        st.caption(f"{preset} was tuned as a {CELL_NAMES[presets.PRESETS[preset].model.cell]} recipe; with "
                   f"{CELL_NAMES[cell]} it keeps its sizes and training values.")
    # A toggle, not an expander: the whole form sits in an expander while a run trains, and they cannot nest.
    shown = custom or st.toggle("Show the hyperparameters", key="train_show_hp")
    if shown and hyperparameters(custom, cell):   # a value out of range: said under its field, nothing to start
        return
    hp = {k: st.session_state["hp_" + k] for k in [*FIELDS, "schedule"]}
    try:
        model = ModelConfig(cell=cell, **{k: field_value(k, cell, hp[k]) for k in FIELDS if k in MODEL_FIELDS}).validate()
        cfg = TrainConfig(level=level, schedule=hp["schedule"], carry_state=bool(st.session_state["hp_carry_state"]),
                          **{k: field_value(k, cell, hp[k]) for k in FIELDS if k not in MODEL_FIELDS}).validate()
        est = sizing.estimate(sizing.saved_counts(metas[cid], cfg, reg.home), model, cfg)
    except textgen.InkwellError as e:
        ui.show_error(e)
        return

    # -- what it will cost -------------------------------------------------------------------
    m = st.columns(4)
    m[0].metric("Parameters", f"{est.params:,}")
    m[1].metric("Vocabulary", f"{est.counts.vocab:,}", help="Distinct tokens, plus one for unknown ones.")
    m[2].metric("Time per epoch (est.)", ui.duration(est.seconds_per_epoch))
    m[3].metric("Training time (est.)", ui.duration(est.seconds),
                help="At most the time budget; measured on a 2-core CPU, so faster machines finish sooner.")
    if est.memorises:
        st.warning("This model has more parameters than the text has characters: it may memorise instead of "
                   "learning. A smaller model or more text will generalise better.", icon=":material/info:")

    st.subheader("3 · Start")
    suggested = f"{metas[cid]['name']} · {CELL_NAMES[cell]} {model.layers}×{model.units}"
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input("Label", key=LABEL_KEY, placeholder=suggested, max_chars=80,
                  help="A name for this run; leave empty for the suggestion.")
    errors = st.container()
    if est.refusal is not None:   # too short, or over a limit of this server: one sentence next to Start
        errors.error(ui.safe(est.refusal), icon=":material/error:")
    if c2.button("Start training", type="primary", icon=":material/play_arrow:", width="stretch",
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


# -- the live panel ---------------------------------------------------------------------------------
def queue_position(run_id: str) -> int:
    return next((r["position"] for r in room.queue(reg) if r["id"] == run_id), 0)   # the fair queue's order


def show_samples(run_id: str) -> None:
    by_epoch: dict[int, list[dict]] = {}
    for s in reg.samples(run_id):
        by_epoch.setdefault(s["epoch"], []).append(s)
    epochs = sorted(by_epoch, reverse=True)
    for i, epoch in enumerate(epochs):
        if i == 0:
            st.markdown(f"**What it writes** after epoch {epoch} (newest first)")
        elif i == 1:
            older = st.expander(f"Earlier epochs ({len(epochs) - 1})")
        for s, box in ((s, st if i == 0 else older) for s in by_epoch[epoch]):
            box.caption(f"epoch {epoch} · temperature {s['temperature']:g}")
            box.code(s["text"] or " ", language=None, wrap_lines=True)


STOPPED = {"failed": (st.error, "Training stopped with an error.", ":material/error:"),
           "cancelled": (st.warning, "Training stopped.", ":material/pause_circle:")}
STOPPED.update(diverged=STOPPED["failed"], interrupted=STOPPED["cancelled"])


def panel_body(run: dict) -> None:
    status = run["status"]
    st.text(run["label"])
    if status == "queued":
        pos, n = queue_position(run["id"]), jobs.max_jobs()
        st.info(f"Waiting in the queue{f': position {pos}' if pos else ''}. "
                f"This server trains {n} model{'s' if n > 1 else ''} at a time.", icon=":material/hourglass_top:")
    elif status in STOPPED:
        show, default, icon = STOPPED[status]
        show(ui.safe(run["message"] or default), icon=icon)
    elif status == "done":
        st.success(ui.safe("Training finished. " + (run["message"] or "")), icon=":material/check_circle:")
    done, text = ui.progress(run, ui.time_budget(run["id"]))
    if status == "running" and run["eta"] is not None:
        text += f" · ETA {ui.duration(run['eta'])}"
    st.progress(done, text=text)
    if status == "done":
        ui.run_summary(run)
    else:   # no "Status" metric: the box above (or the moving bar) says it, and big values are cut off on a projector
        m = st.columns(3)
        m[0].metric("Characters per second", ui.fmt_count(run["chars_per_sec"]) if run["chars_per_sec"] else "—")
        m[1].metric(LAST, f"{run['last_val_bpc']:.3f}" if run["last_val_bpc"] is not None else "—",
                    help="Score on held-out text after the last epoch: how many bits the model needs, on "
                         "average, to guess each next character.")
        m[2].metric("Elapsed", ui.duration(run["elapsed"]))
    st.caption(SCORE_NOTE)
    metrics = reg.metrics(run["id"])
    points = charts.curve_steps(metrics) if metrics else 0
    if points >= charts.MIN_CURVE_STEPS:
        refs = baselines.load(reg.run_dir(run["id"]))
        st.altair_chart(charts.loss_chart(metrics, refs), width="stretch")
        if refs is not None and run["best_val_bpc"] is not None:
            st.caption(baselines.describe(run["best_val_bpc"], refs))
        ui.grad_panel(metrics, ui.clipnorm(run["id"]))   # the gradient norm per step, clipping drawn
    elif status in ACTIVE:
        st.caption("The learning curve appears after the first few training steps (the trainer takes a few "
                   "seconds to start).")
    elif points:
        st.caption(f"This run took only {points} training step{'s' if points != 1 else ''}: too few to draw a "
                   "learning curve. More text or more epochs give one.")
    show_samples(run["id"])


def actions(run: dict) -> None:
    row = st.container(horizontal=True)
    if run["status"] in ACTIVE and row.button("Stop", icon=":material/stop_circle:", key="train_stop",
                                              help="Stops after the current batch and keeps a checkpoint; you can "
                                                   "resume later."):
        try:
            jobs.cancel(run["id"], reg, owner=me)
        except textgen.InkwellError as e:
            ui.show_error(e)
    if run["status"] in ("cancelled", "interrupted", "failed"):
        can = (reg.run_dir(run["id"]) / "checkpoints" / "latest.npz").is_file()
        if row.button("Resume", icon=":material/play_arrow:", key="train_resume", disabled=not can,
                      help=None if can else "This run stopped before its first checkpoint."):
            try:
                jobs.submit_resume(run["id"], reg, owner=me)
            except textgen.InkwellError as e:
                ui.show_error(e)
            else:
                st.rerun()
    ui.write_with_button(run, "train_write", primary=True, where=row)


def draw(run: dict) -> None:
    panel_body(run)
    actions(run)


@st.fragment(run_every=1)
def live(run_id: str) -> None:
    """Polls each second while it trains, from the registry snapshot all sessions share (textgen.roomcache)."""
    if (run := roomcache.snapshot(reg, pump=jobs.pump).get(run_id, me)) is not None:
        draw(dict(run))
        if run["status"] not in ACTIVE:
            st.rerun()


def followed() -> dict | None:
    """The run the live panel follows; a reloaded browser reattaches to what is training."""
    if ui.TRAIN_RUN not in st.session_state:
        active = [r for r in reg.list_runs(me) if r["status"] in ACTIVE]   # never another writer's job
        if active:
            st.session_state[ui.TRAIN_RUN] = active[0]["id"]
    run_id = st.session_state.get(ui.TRAIN_RUN)
    return reg.get_run(run_id, me) if run_id else None


# The run being followed comes first, so Start (or a reload) shows it without scrolling; the form follows,
# folded away while that run trains, so the page is short and the panel is what one sees.
if st.session_state.pop(STARTED, False):
    st.toast("Training started.", icon=":material/rocket_launch:")
panel_slot = st.container()
if not corpora:
    st.info("Save a corpus first: the model learns from a text you bring (or from our sample).",
            icon=":material/menu_book:")
    ui.page_link(ui.CORPUS_PAGE, "Go to Corpus", ":material/menu_book:")
elif (run := followed()) is not None and run["status"] in ACTIVE:
    with st.expander("Train another model", icon=":material/add_circle:"):
        setup()
else:
    setup()
if (run := followed()) is not None:
    with panel_slot, st.container(border=True):
        st.subheader("Training run")
        live(run["id"]) if run["status"] in ACTIVE else draw(run)
