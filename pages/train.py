"""Train: choose a corpus and a model, start a worker, watch the loss fall and the samples improve."""
from __future__ import annotations

import dataclasses
import os
from typing import NamedTuple

import streamlit as st

import textgen
from pages import ui
from textgen import data, jobs, library, presets
from textgen.config import CELL_NAMES, CELLS, LEVEL_UNITS, ModelConfig, TrainConfig
from textgen.models import param_count
from textgen.runs import ACTIVE
from textgen.vocab import Vocab, tokenize

CUSTOM = "Custom"
STARTED = "train_started_toast"   # a run was just started: toast it on the rerun that shows its panel
PRESET_KEY, CELL_KEY, LEVEL_KEY, CORPUS_KEY, LABEL_KEY = "train_preset", "train_cell", "train_level", "train_corpus", "train_label"


class Field(NamedTuple):
    """One hyperparameter widget. widget: "number", "fine" (a number shown to four places) or "slider";
    cells: the recurrent cells it applies to (None: all); for the others it is greyed out and sent as `off`.
    scale: the config holds the field's value times this (the time budget is shown in minutes, kept in seconds)."""
    label: str
    kind: type
    lo: float
    hi: float
    step: float
    help: str | None = None
    widget: str = "number"
    cells: tuple[str, ...] | None = None
    off: float = 0
    scale: int = 1


# widget key -> Field; values come from the chosen preset unless Custom.
FIELDS = {
    "layers": Field("Layers", int, 1, 4, 1, "Stacked recurrent layers."),
    "units": Field("Units per layer", int, 8, 2048, 8, "Hidden state size: the model's memory."),
    "embedding": Field("Embedding width", int, 4, 1024, 4),
    "subword_vocab": Field("Word pieces", int, 260, 32000, 64, "Word-piece level: how many pieces (common runs of "
                           "letters such as ' the' or 'ing') to learn from the text."),
    "dropout": Field("Dropout", float, 0.0, 0.8, 0.05, "Between layers and before the output, while training; helps on "
                     "small texts.", widget="slider"),
    "weight_drop": Field("Weight dropout (GRU)", float, 0.0, 0.8, 0.05, "GRU only. At each training step, drops this "
                         "share of the recurrent weights, the ones that carry the memory from one step to the next. "
                         "Like dropout, it keeps a model from learning its text by heart.", widget="slider", cells=("gru",)),
    "seq_len": Field("Sequence length", int, 4, 1000, 4, "Tokens the model reads before each prediction during training."),
    "batch_size": Field("Batch size", int, 1, 1024, 8),
    "epochs": Field("Epochs (at most)", int, 1, 5000, 1, "Passes over the text; the time budget may stop it sooner."),
    "time_budget": Field("Time budget (minutes, 0 = none)", float, 0.0, 24 * 60.0, 1.0, scale=60),
    "lr": Field("Learning rate", float, 1e-5, 0.1, 1e-4, "Adam's step size; lower it if the loss explodes.", widget="fine"),
    "warmup_steps": Field("Warm-up steps", int, 0, 100_000, 10, "Cosine schedule: steps of linear warm-up."),
    "clipnorm": Field("Gradient clipping (0 = off)", float, 0.0, 100.0, 0.5),
    "weight_decay": Field("Weight decay (0 = off)", float, 0.0, 1.0, 0.01, "Shrinks the weights a little at every step "
                          "(AdamW); like dropout, it keeps a model from learning a small text by heart.", widget="fine"),
    "val_fraction": Field("Validation fraction", float, 0.02, 0.5, 0.01, "The end of the text, held out to measure "
                          "progress.", widget="slider"),
    "patience": Field("Early stopping patience (0 = off)", int, 0, 100, 1, "Epochs without improvement before stopping."),
    "seed": Field("Seed", int, 0, 2**31 - 1, 1, "Same seed, same run."),
}


def applies(k: str, cell: str) -> bool:
    return FIELDS[k].cells is None or cell in FIELDS[k].cells


def field_value(k: str, cell: str, value):
    """The value a field sends for this cell: its own, or `off` where it does not apply (its widget is greyed out)."""
    f = FIELDS[k]
    return f.kind(value) * f.scale if applies(k, cell) else f.kind(f.off)


MODEL_FIELDS = tuple(k for k in FIELDS if k in {f.name for f in dataclasses.fields(ModelConfig)})
LAST = "Latest score"   # metric labels stay short: long ones are cut off on a projector
SCORE_NOTE = "Score: bits per character on text held back from training (lower is better)."


def preset_values(name: str) -> dict:
    p = presets.PRESETS[name]
    vals = {k: getattr(p.model if k in MODEL_FIELDS else p.train, k) for k in FIELDS}
    vals.update({k: v / FIELDS[k].scale for k, v in vals.items() if FIELDS[k].scale != 1})   # ints stay ints
    vals["schedule"] = p.train.schedule
    vals["carry_state"] = p.train.carry_state
    vals["level"] = p.train.level
    return vals


def apply_preset() -> None:
    name = st.session_state[PRESET_KEY]
    if name == CUSTOM:
        return  # Custom starts from whatever the fields hold
    vals = preset_values(name)
    st.session_state[LEVEL_KEY] = vals.pop("level")
    for k, v in vals.items():
        st.session_state["hp_" + k] = v
    st.session_state[CELL_KEY] = presets.PRESETS[name].model.cell


if PRESET_KEY not in st.session_state:
    st.session_state[PRESET_KEY] = "Quick"
    apply_preset()
# Keep the hidden fields' values when the Custom expander is collapsed or the page is left; a field
# added since this session began starts from the chosen preset's value (Quick's under Custom).
_preset_vals = preset_values(st.session_state[PRESET_KEY] if st.session_state[PRESET_KEY] != CUSTOM else "Quick")
for _k in [*FIELDS, "schedule", "carry_state"]:
    st.session_state["hp_" + _k] = st.session_state.get("hp_" + _k, _preset_vals[_k])

ui.header("Train", "Teach a recurrent network your text, and watch it learn to write like it.")
reg = ui.registry()
corpora = library.list_corpora(reg.home)


@st.cache_data(show_spinner=False, max_entries=32)
def word_count(corpus_id: str, home: str) -> tuple[int, int]:
    """(word-level tokens, distinct tokens) of a saved corpus; cached, since tokenising a big text takes a while."""
    text, _ = library.load_saved(corpus_id, home)
    tokens = tokenize(text, "word")
    return len(tokens), len(set(tokens))


SUBWORD_SAMPLE = 200_000   # characters the estimate learns word pieces from (a fraction of a second)


@st.cache_data(show_spinner=False, max_entries=32)
def subword_count(corpus_id: str, home: str, size: int, val_fraction: float) -> tuple[int, int]:
    """(word pieces, vocabulary) of a saved corpus. As training does, the pieces are learned from the training
    part; a long text's count is measured on its first characters and scaled to the whole."""
    text, _ = library.load_saved(corpus_id, home)
    sample = text[:SUBWORD_SAMPLE]
    vocab = Vocab.build(data.split(sample, val_fraction)[0], "subword", size)
    pieces = len(vocab.encode(sample)[0])
    return round(len(text) * pieces / max(1, len(sample))), len(vocab) if len(text) <= len(sample) else size


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


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
    level = b.segmented_control("Predict the next", ["char", "subword", "word"], required=True, key=LEVEL_KEY,
                                format_func={"char": "character", "subword": "word piece", "word": "word"}.get,
                                help="Characters: small vocabulary, learns spelling. Word pieces: common runs of "
                                     "letters (' the', 'ing') learned from your text, about three characters a "
                                     "step, so a model reads more text in the same time and can still invent "
                                     "words. Words: reads fluently sooner but needs much more text and never "
                                     "invents words.")
    if CELL_KEY not in st.session_state:
        st.session_state[CELL_KEY] = "gru"
    cell = st.radio("Recurrent cell", CELLS, format_func=CELL_NAMES.get, key=CELL_KEY, horizontal=True,
                    captions=[_sentence(presets.CELL_NOTES[c].split(": ", 1)[1]) for c in CELLS])

    st.subheader("2 · How long")
    names_p = [*presets.PRESETS, CUSTOM]
    preset = st.radio("Preset", names_p, key=PRESET_KEY, horizontal=True, on_change=apply_preset,
                      captions=[*(p.blurb for p in presets.PRESETS.values()), "Set every hyperparameter yourself."])
    custom = preset == CUSTOM
    # A toggle, not an expander: the whole form sits in an expander while a run trains, and they cannot nest.
    shown = custom or st.toggle("Show the hyperparameters", key="train_show_hp")
    hp_box = st.container(border=True) if shown else None
    if hp_box is not None:
        hp_box.caption("These are the preset's values; choose Custom to change them." if not custom else
                       "Every value is yours to set; the estimate below follows them.")
        cols = hp_box.columns(4)
        for i, (k, f) in enumerate(FIELDS.items()):
            col, common = cols[i % 4], dict(key="hp_" + k, help=f.help, disabled=not custom or not applies(k, cell))
            if f.widget == "slider":
                col.slider(f.label, f.lo, f.hi, step=f.step, **common)
            elif f.widget == "fine":   # small values: more places than the default two
                col.number_input(f.label, f.lo, f.hi, step=f.step, format="%.4f", **common)
            else:
                col.number_input(f.label, f.kind(f.lo), f.kind(f.hi), step=f.kind(f.step), **common)
        cols[len(FIELDS) % 4].selectbox("Learning-rate schedule", ["cosine", "constant"], key="hp_schedule",
                                        disabled=not custom)
        cols[(len(FIELDS) + 1) % 4].checkbox(
            "Carry state", key="hp_carry_state", disabled=not custom,
            help="Between batches: each batch row goes on where it stopped in the text, with the memory it had, as when the "
                 "model writes. Off: every window starts from an empty memory.")
    hp = {k: st.session_state["hp_" + k] for k in [*FIELDS, "schedule"]}
    hp["carry_state"] = st.session_state.get("hp_carry_state", False)
    try:
        model = ModelConfig(cell=cell, **{k: field_value(k, cell, hp[k]) for k in MODEL_FIELDS})
        cfg = TrainConfig(level=level, schedule=hp["schedule"], carry_state=bool(hp["carry_state"]),
                          **{k: field_value(k, cell, hp[k]) for k in FIELDS if k not in MODEL_FIELDS})
        model.validate()
        cfg.validate()
    except textgen.InkwellError as e:
        ui.show_error(e)
        return

    # -- what it will cost -------------------------------------------------------------------
    meta = metas[cid]
    if level == "char":
        tokens, vocab = meta["stats"]["chars"], meta["stats"]["distinct"] + 1   # +1: the unknown token
    elif level == "subword":
        tokens, vocab = subword_count(cid, str(reg.home), cfg.subword_vocab, cfg.val_fraction)
    else:
        try:
            tokens, distinct = word_count(cid, str(reg.home))
        except textgen.InkwellError as e:
            ui.show_error(e)
            return
        vocab = min(cfg.max_vocab, distinct) + 1
    sized = ModelConfig(vocab_size=vocab, cell=model.cell, layers=model.layers, units=model.units,
                        embedding=model.embedding, dropout=model.dropout, weight_drop=model.weight_drop)
    params = param_count(sized)
    train_tokens = int(tokens * (1 - cfg.val_fraction))
    per_epoch = presets.seconds_per_epoch(sized, train_tokens, train=cfg)
    total = per_epoch * cfg.epochs
    if cfg.time_budget:
        total = min(total, cfg.time_budget)
    m = st.columns(4)
    m[0].metric("Parameters", f"{params:,}")
    m[1].metric("Vocabulary", f"{vocab:,}", help="Distinct tokens, plus one for unknown ones.")
    m[2].metric("Time per epoch (est.)", ui.duration(per_epoch))
    m[3].metric("Training time (est.)", ui.duration(total),
                help="At most the time budget; measured on a 2-core CPU, so faster machines finish sooner.")
    if params > 2 * meta["stats"]["chars"]:
        st.warning("This model has more parameters than the text has characters: it may memorise instead of "
                   "learning. A smaller model or more text will generalise better.", icon=":material/info:")
    length_error = None
    try:
        data.check_length(tokens, cfg.seq_len, cfg.val_fraction, LEVEL_UNITS[level])
    except textgen.InkwellError as e:
        length_error = e

    st.subheader("3 · Start")
    suggested = f"{meta['name']} · {CELL_NAMES[cell]} {model.layers}×{model.units}"
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.text_input("Label", key=LABEL_KEY, placeholder=suggested, max_chars=80,
                  help="A name for this run; leave empty for the suggestion.")
    errors = st.container()
    if length_error is not None:
        ui.show_error(length_error, errors)
    max_params = int(os.environ.get("INKWELL_MAX_PARAMS", "0") or 0)
    if c2.button("Start training", type="primary", icon=":material/play_arrow:", width="stretch",
                 disabled=length_error is not None):
        try:
            if max_params and params > max_params:
                raise textgen.ConfigError(f"This model has {params:,} parameters; this server allows at most "
                                          f"{max_params:,}. Choose fewer units or layers.")
            run_id = jobs.submit(library.corpus_path(cid, reg.home), model, cfg,
                                 st.session_state.get(LABEL_KEY) or suggested, reg)
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
    queued = sorted((r for r in reg.list_runs() if r["status"] == "queued"), key=lambda r: r["created"])
    return next((i + 1 for i, r in enumerate(queued) if r["id"] == run_id), 0)


def show_samples(run_id: str) -> None:
    samples = reg.samples(run_id)
    if not samples:
        return
    by_epoch: dict[int, list[dict]] = {}
    for s in samples:
        by_epoch.setdefault(s["epoch"], []).append(s)
    epochs = sorted(by_epoch, reverse=True)
    st.markdown(f"**What it writes** after epoch {epochs[0]} (newest first)")

    def block(epoch: int) -> None:
        for s in by_epoch[epoch]:
            st.caption(f"epoch {epoch} · temperature {s['temperature']:g}")
            st.code(s["text"] or " ", language=None, wrap_lines=True)

    block(epochs[0])
    if len(epochs) > 1:
        with st.expander(f"Earlier epochs ({len(epochs) - 1})"):
            for e in epochs[1:]:
                block(e)


def panel_body(run: dict) -> None:
    status = run["status"]
    st.text(run["label"])
    if status == "queued":
        pos = queue_position(run["id"])
        st.info(f"Waiting in the queue{f': position {pos}' if pos else ''}. "
                f"This server trains {jobs.max_jobs()} model{'s' if jobs.max_jobs() > 1 else ''} at a time.",
                icon=":material/hourglass_top:")
    elif status in ("failed", "diverged"):
        st.error(ui.safe(run["message"] or "Training stopped with an error."), icon=":material/error:")
    elif status in ("cancelled", "interrupted"):
        st.warning(ui.safe(run["message"] or "Training stopped."), icon=":material/pause_circle:")
    elif status == "done":
        st.success(ui.safe("Training finished. " + (run["message"] or "")), icon=":material/check_circle:")
    done, text = ui.progress(run, ui.time_budget(run["id"]))
    if status == "running" and run["eta"] is not None:
        text += f" · ETA {ui.duration(run['eta'])}"
    st.progress(done, text=text)

    if status == "done":
        ui.run_summary(run)
    else:
        # No "Status" metric: the box above (or the moving bar) says it, and big values are cut off on a projector.
        m = st.columns(3)
        m[0].metric("Characters per second", ui.fmt_count(run["chars_per_sec"]) if run["chars_per_sec"] else "—")
        m[1].metric(LAST, f"{run['last_val_bpc']:.3f}" if run["last_val_bpc"] is not None else "—",
                    help="Score on held-out text after the last epoch: how many bits the model needs, on "
                         "average, to guess each next character.")
        m[2].metric("Elapsed", ui.duration(run["elapsed"]))

    st.caption(SCORE_NOTE)
    metrics = reg.metrics(run["id"])
    points = ui.curve_steps(metrics) if metrics else 0
    if points >= ui.MIN_CURVE_STEPS:
        st.altair_chart(ui.loss_chart(metrics), width="stretch")
    elif status in ACTIVE:
        st.caption("The learning curve appears after the first few training steps (the trainer takes a few "
                   "seconds to start).")
    elif points:
        st.caption(f"This run took only {points} training step{'s' if points != 1 else ''}: too few to draw a "
                   "learning curve. More text or more epochs give one.")
    show_samples(run["id"])


def actions(run: dict) -> None:
    status = run["status"]
    row = st.container(horizontal=True)
    if status in ACTIVE:
        if row.button("Stop", icon=":material/stop_circle:", key="train_stop",
                          help="Stops after the current batch and keeps a checkpoint; you can resume later."):
            try:
                jobs.cancel(run["id"], reg)
            except textgen.InkwellError as e:
                ui.show_error(e)
    if status in ("cancelled", "interrupted", "failed"):
        can = (reg.run_dir(run["id"]) / "checkpoints" / "latest.npz").is_file()
        if row.button("Resume", icon=":material/play_arrow:", key="train_resume", disabled=not can,
                          help=None if can else "This run stopped before its first checkpoint."):
            try:
                jobs.submit_resume(run["id"], reg)
            except textgen.InkwellError as e:
                ui.show_error(e)
            else:
                st.rerun()
    ui.write_with_button(run, "train_write", primary=True, where=row)


@st.fragment(run_every=1)
def live(run_id: str) -> None:
    """Polls the registry each second while the run trains; a full rerun draws the final view once it ends."""
    run = reg.get_run(run_id)
    if run is None:
        return
    jobs.pump(reg)
    panel_body(run)
    actions(run)
    if run["status"] not in ACTIVE:
        st.rerun()


def followed() -> dict | None:
    """The run the live panel follows; a reloaded browser reattaches to what is training."""
    if ui.TRAIN_RUN not in st.session_state:
        active = [r for r in reg.list_runs() if r["status"] in ACTIVE]
        if active:
            st.session_state[ui.TRAIN_RUN] = active[0]["id"]
    run_id = st.session_state.get(ui.TRAIN_RUN)
    return reg.get_run(run_id) if run_id else None


def panel() -> None:
    run = followed()
    if run is None:
        return
    with st.container(border=True):
        st.subheader("Training run")
        if run["status"] in ACTIVE:
            live(run["id"])
        else:
            panel_body(run)
            actions(run)


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
with panel_slot:
    panel()
