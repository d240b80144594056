"""Inside: why gates matter, measured. The memory experiment, a run's gradient norms, the vanishing curve."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import streamlit as st

import textgen
from pages import i18n, ui
from pages import memory_words
from pages.i18n import N_, _
from pages import charts, gatecharts
from textgen import clipping
from textgen import experiments as ex
from textgen import gradients, jobs, neurons, vanishing
from textgen.config import CELL_NAMES, is_text_run

EXP_KEY = "inside_experiment"        # the experiment shown (its id)
PRESET_KEY = "inside_preset"
KERAS_KEY = "inside_keras_defaults"   # the toggle: the task set up with Keras' defaults (ex.LEGACY)
PAIR_KEY = "inside_pair"            # the clipping pair shown (its id)

ui.header(_("Inside"), _("Why gates matter, measured on this machine: memory over long gaps, gradients, vanishing."))
reg = ui.registry()


def start_experiment() -> None:
    cfg = ex.PRESETS[st.session_state[PRESET_KEY]]
    if st.session_state.get(KERAS_KEY):
        cfg = dataclasses.replace(cfg, **ex.LEGACY)
    try:
        st.session_state[EXP_KEY] = ex.submit(cfg, reg, owner=ui.identity())
    except textgen.InkwellError as e:
        st.session_state["inside_error"] = i18n.error_text(e)


def experiment_jobs(exp_id: str) -> list[dict]:
    return [r for r in reg.list_runs(ui.identity())
            if r["level"] == ex.LEVEL and r["corpus"] == f"memory task {exp_id}"]


@st.fragment(run_every=2)
def experiment_live(exp_id: str) -> None:
    """Polls while the experiment's jobs are queued or running; draws what is measured so far."""
    jobs.pump(reg)
    rows = experiment_jobs(exp_id)
    experiment_view(exp_id, rows)
    if not any(r["status"] in ("queued", "running") for r in rows):
        st.rerun()   # a full run without this fragment ends the polling


def experiment_view(exp_id: str, rows: list[dict]) -> None:
    cfg, cells, results = ex.load(reg, exp_id, ui.identity())
    expected = len(cells) * len(cfg.gaps)
    active = [r for r in rows if r["status"] in ("queued", "running")]
    if active:
        st.progress(len(results) / expected, text=_('{n} of {expected} trainings measured · ').format(n=len(results), expected=expected)
                    + i18n.listing(f"{CELL_NAMES.get(r['cell'], r['cell'])} {_(r['status'])}" for r in active))
        if st.button(_("Stop the experiment"), icon=":material/stop_circle:", key=f"stop_{exp_id}"):
            for r in active:
                jobs.cancel(r["id"], reg, ui.identity())
    for r in rows:
        if r["status"] == "failed":
            st.error(ui.safe(f"{CELL_NAMES.get(r['cell'], r['cell'])}: {i18n.error_text(r['message'] or '')}"), icon=":material/error:")
    if results:
        with st.container(key="inside_memory_chart"):   # the element the README's PNG is taken of
            st.altair_chart(gatecharts.memory_chart(results, cfg.chance), width="stretch")
        st.markdown(ui.safe(memory_words.explain(results, cfg)))   # ex.explain's words, in the reader's language
        st.caption(i18n.sentences(_('{n} of {expected} trainings measured. Each cell has about {params:,} parameters and trained {seconds:g} s per gap on {symbols} symbols ({noise} kinds of noise); accuracy is on {test_size} sequences it never saw.').format(n=len(results), expected=expected, params=cfg.params, seconds=cfg.seconds, symbols=cfg.symbols, noise=cfg.noise, test_size=cfg.test_size), memory_words.setup(cfg)))
    elif not active:
        st.caption(_("This experiment has no results."))


st.subheader(_("Why gates? The memory experiment"))
st.markdown(_("Each sequence starts with one of a few symbols, then a stretch of noise, then a question: *which "
            "symbol came first?* Every symbol reaches the network as a fixed random vector, so no cell can learn to "
            "silence the noise before it enters. SimpleRNN, LSTM and GRU, sized to the same number of parameters, "
            "train for the same time at each gap. The gated cells' keep gates start open (about 95% of the memory "
            "kept per step); a plain RNN has no gate to open. Where a cell's accuracy falls to chance, it has "
            "forgotten."))
if msg := st.session_state.pop("inside_error", None):
    st.error(ui.safe(msg), icon=":material/error:")
row = st.columns([3, 2], vertical_alignment="bottom")
with row[0]:
    st.radio(_("Size"), list(ex.PRESETS), key=PRESET_KEY, horizontal=True, format_func={
        "Full": _("Full: gaps {gaps} (about 6 minutes)").format(gaps=i18n.listing(ex.PRESETS["Full"].gaps)),
        "Quick": _("Quick: gaps {gaps} (about a minute)").format(gaps=i18n.listing(ex.PRESETS["Quick"].gaps))}.get)
    st.toggle(_("Use Keras' default setup: learned inputs, keep gates barely open"), key=KERAS_KEY,
              help=_("The plain RNN may then learn to silence the noise through its inputs, and the gated cells must "
                     "first learn to keep their gates open. Run it beside the usual setup to show why the setup "
                     "matters."))
row[1].button(_("Run the experiment"), type="primary", icon=":material/science:", on_click=start_experiment)
saved = ex.list_experiments(reg, ui.identity())
if saved:
    ids = [e["id"] for e in saved]
    if st.session_state.get(EXP_KEY) not in ids:
        st.session_state[EXP_KEY] = ids[0]
    # Labels made now, in the reader's language (AppTest formats options outside the script run).
    titles = {e["id"]: ui.date(e["created"]) + " · " + _("gaps {gaps}").format(gaps=i18n.listing(e["gaps"]))
              + (" · " + _("Keras defaults") if e["keras_defaults"] else "") for e in saved}   # progress: the fragment's
    st.selectbox(_("Experiment"), ids, key=EXP_KEY, format_func=titles.get)
    exp_id = st.session_state[EXP_KEY]
    rows = experiment_jobs(exp_id)
    if any(r["status"] in ("queued", "running") for r in rows):
        experiment_live(exp_id)
    else:
        experiment_view(exp_id, rows)
else:
    st.caption(_("No experiment yet: run one above."))

# This writer's own text runs: an experiment's jobs and a curve's measurement jobs are rows of the registry too.
text_runs = [r for r in reg.list_runs(ui.identity()) if is_text_run(r)]

st.subheader(_("Gradients, seen"))
with_norms = {r["id"]: r for r in text_runs if r["status"] != "queued"}
pick = None
if with_norms:
    pick = st.selectbox(_("Run"), list(with_norms), format_func=lambda i: ui.run_title(with_norms[i]),
                        key="inside_grad_run")
    metrics = reg.metrics(pick, "batch")
    if not any(m.get("grad_norm") is not None for m in metrics):   # trained before Inkwell kept them
        metrics = []
    clipnorm = ui.clipnorm(pick)
    if metrics and ui.grad_panel(metrics, clipnorm):
        st.caption(_("The size of the whole gradient (all weights together) before clipping, per training step. A "
                   "step over the threshold is scaled down to it."))
    elif metrics:   # too few steps to chart: what was recorded, in words
        st.caption(ui.safe(i18n.error_text(gradients.describe_norms(
            [m["step"] for m in metrics], [m.get("grad_norm") for m in metrics], [m.get("clipped") for m in metrics],
            clipnorm, diverged=with_norms[pick]["status"] == "diverged"))))
    else:
        st.caption(_("This run recorded no gradient norms (it was trained before Inkwell kept them)."))
else:
    st.caption(_("Train a model to see its gradients here."))


def start_pair(run_id: str) -> None:
    try:
        st.session_state[PAIR_KEY] = clipping.submit(reg.run_dir(run_id) / "corpus.txt", reg, ui.identity(),
                                                     source=ui.run_title(with_norms[run_id]))
    except textgen.InkwellError as e:
        st.session_state["inside_pair_error"] = i18n.error_text(e)


SIDES = {"off": N_("clipping off"), "on": N_("clipping on")}   # the pair chart's series (gatecharts' colours)


def pair_view(pair: dict) -> None:
    runs = {side: reg.get_run(rid, ui.identity()) for side, rid in pair["runs"].items()}
    if any(r is None for r in runs.values()):
        st.caption(_("One of this pair's runs was deleted."))
        return
    series = {_(SIDES[side]): reg.metrics(r["id"], "batch") for side, r in runs.items()}
    cols = st.columns(2)
    cols[0].altair_chart(gatecharts.pair_chart(series, "grad_norm", _("gradient norm (log scale)"), pair["clipnorm"],
                                               log=True), width="stretch")
    cols[1].altair_chart(gatecharts.pair_chart(series, "loss", _("training loss (nats)")), width="stretch")
    for side, r in runs.items():
        rows = series[_(SIDES[side])]
        said = gradients.describe_norms([m["step"] for m in rows], [m.get("grad_norm") for m in rows],
                                        [m.get("clipped") for m in rows], pair["clipnorm"] if side == "on" else 0.0,
                                        diverged=r["status"] == "diverged")
        status = _({"diverged": N_("diverged"), "done": N_("finished"), "cancelled": N_("was stopped")}.get(
            r["status"], r["status"]))
        st.caption(ui.safe(_("{side} ({status}): {said} {message}").format(
            side=_(SIDES[side]).capitalize(), status=status, said=i18n.error_text(said),
            message=i18n.error_text(r["message"] or "")).strip()))
    if said := clipping.verdict(runs["off"]["status"], runs["on"]["status"], series[_(SIDES["off"])],
                                series[_(SIDES["on"])]):
        st.markdown(ui.safe(i18n.error_text(said)))


@st.fragment(run_every=2)
def pair_live(pair: dict) -> None:
    """Polls while the pair trains; a full rerun once both are finished ends the polling."""
    jobs.pump(reg)
    pair_view(pair)
    if not any((reg.get_run(rid) or {}).get("status") in ("queued", "running") for rid in pair["runs"].values()):
        st.rerun()


st.markdown(_("**Clipping on and off.** The same SimpleRNN ({units} units) trained twice on a run's text with plain SGD at a high learning rate ({lr:g}), once without clipping and once clipped to a global norm of {clip_on:g}, {time_budget:g} s each, one after the other. SGD's step is the learning rate times the gradient, so a gradient that blows up throws the model off; Adam's step stays about the learning rate whatever the gradient, which would hide it.").format(units=clipping.MODEL.units, lr=clipping.TRAIN.lr, clip_on=clipping.CLIP_ON, time_budget=clipping.TRAIN.time_budget))
if msg := st.session_state.pop("inside_pair_error", None):
    st.error(ui.safe(msg), icon=":material/error:")
if pick is not None:
    st.button(_("Train it with clipping off and on"), icon=":material/compare_arrows:", key="inside_pair_start",
              on_click=start_pair, args=(pick,), disabled=not (reg.run_dir(pick) / "corpus.txt").is_file(),
              help=_("Uses the text of the run picked above."))
pairs = clipping.list_pairs(reg, ui.identity())
if pairs:
    by_id = {p["id"]: p for p in pairs}
    if st.session_state.get(PAIR_KEY) not in by_id:
        st.session_state[PAIR_KEY] = pairs[0]["id"]
    st.selectbox(_("Pair"), list(by_id), key=PAIR_KEY, format_func={i: " · ".join([ui.date(p["created"]), p["source"] or _("a run"), f"lr {p['lr']:g}"])
                                                          for i, p in by_id.items()}.get)
    pair = by_id[st.session_state[PAIR_KEY]]
    if any((reg.get_run(rid) or {}).get("status") in ("queued", "running") for rid in pair["runs"].values()):
        pair_live(pair)
    else:
        pair_view(pair)

def start_measuring(run_ids: list[str]) -> None:
    try:
        vanishing.submit(reg, run_ids, ui.identity())   # one job per run, queued once however often it is clicked
    except textgen.InkwellError as e:
        st.session_state["inside_vanish_error"] = i18n.error_text(e)


# What a picked run without a curve shows while its measurement is waiting, going, failed or never asked for.
VANISH_SAID = {"queued": N_("{run}: waiting in the queue to be measured."),
               "measuring": N_("{run}: measuring its curve…"),
               "failed": N_("{run} has no curve: {reason}"),
               "none": N_("{run} has no curve yet: it was trained before Inkwell measured it."),
               "measured": N_("{run}: measured.")}
ACTIVE = ("queued", "measuring")


def vanish_lines(run_ids: list[str], states: dict) -> None:
    for rid in run_ids:
        state, reason = states[rid]
        st.caption(ui.safe(_(VANISH_SAID[state]).format(run=ui.run_title(finished[rid]),
                                                         reason=i18n.error_text(reason))))


def vanish_missing(run_ids: list[str], states: dict) -> None:
    """Each picked run without a curve and why, and one button that queues their measurements."""
    vanish_lines(run_ids, states)
    if msg := st.session_state.pop("inside_vanish_error", None):
        st.error(ui.safe(msg), icon=":material/error:")
    st.button(_("Measure the missing curves"), icon=":material/straighten:", key="inside_vanish_measure",
              on_click=start_measuring, args=(run_ids,),
              help=_("Runs in the background, a few seconds per run; the chart adds each curve when it is measured."))


@st.fragment(run_every=1)
def vanish_live(run_ids: list[str]) -> None:
    """Polls while measurements wait or run (moving the queue); a full rerun draws the curves once none is left."""
    jobs.pump(reg)
    states = vanishing.states(reg, run_ids)
    if not any(s[0] in ACTIVE for s in states.values()):
        st.rerun()
    measured = sum(s[0] == "measured" for s in states.values())
    st.progress(measured / len(run_ids), text=_("{n} of {total} curves measured").format(n=measured,
                                                                                      total=len(run_ids)))
    vanish_lines(run_ids, states)


st.subheader(_("Vanishing, measured"))
st.markdown(_("How much of the error at the last character still reaches the memory k steps earlier, averaged over "
            "windows of held-out text. A straight fall on this log scale is the vanishing gradient."))
finished = {r["id"]: r for r in text_runs if r["status"] == "done" and ui.has_weights(r)}
if finished:
    picked = st.multiselect(_("Runs to compare"), list(finished), default=list(finished)[:3], key="inside_vanish_runs",
                            placeholder=_("Pick runs to compare"),
                            format_func=lambda i: ui.run_title(finished[i]))
    curves, missing = {}, []
    for rid in picked:
        curve = gradients.read_curve(reg.run_dir(rid))   # measured by the worker when training ended
        if curve is None:
            missing.append(rid)
            continue
        name = f"{ui.run_title(finished[rid])} ({CELL_NAMES.get(finished[rid]['cell'], '')})"
        curves[name] = curve.norms.tolist()
    missing_states = vanishing.states(reg, missing)
    if any(s[0] in ACTIVE for s in missing_states.values()):
        vanish_live(missing)
    elif missing:
        vanish_missing(missing, missing_states)
    if curves:
        st.altair_chart(charts.vanishing_chart(curves), width="stretch")
        for name, norms in curves.items():
            ratio = gradients.Curve(np.asarray(norms), 0).ratio_per_step()
            st.caption(ui.safe(_('{name}: each step back keeps about {ratio:.0%} of the gradient; after {value} steps, {value2:.2g} of it is left.').format(name=name, ratio=ratio, value=len(norms) - 1, value2=norms[-1] / norms[0])))
else:
    st.caption(_("Train models (say a SimpleRNN, an LSTM and a GRU on the same text) to compare their curves here."))

@st.cache_data(show_spinner=False, max_entries=8)
def _keep_gates(run_dir: str, weights_mtime: float) -> list:
    from pathlib import Path

    from textgen.artifacts import open_run_dir
    from textgen.stepper import Stepper

    run = open_run_dir(Path(run_dir))
    text = neurons.passage(run)   # the passage ui.unit_activations shades
    return [g.tolist() for g in neurons.keep_gates(Stepper(run.model, run.weights), run.vocab.encode(text)[0])]


def keep_gates(run_id: str) -> list:
    """Per layer, (chars, units): the keep gate of a GRU or LSTM run over the passage; cached per weights."""
    run_dir = reg.run_dir(run_id)
    with st.spinner(_("Reading the run's gates…")):
        return _keep_gates(str(run_dir), (run_dir / "weights.npz").stat().st_mtime)


st.subheader(_("Neuron explorer"))
st.markdown(_("Pick a unit and see a passage of held-out text shaded by its activation after each character (red "
            "high, blue low), and for an LSTM or GRU how much of its memory it kept at each character. The table "
            "ranks the units that track simple features of the text, so a unit that follows quotes, brackets or "
            "the line's length is quick to find."))
char_runs = {rid: r for rid, r in finished.items() if r["level"] == "char"} if finished else {}
if char_runs:
    rid = st.selectbox(_("Run"), list(char_runs), format_func=lambda i: ui.run_title(char_runs[i]), key="inside_nn_run")
    try:
        text, acts = ui.unit_activations(rid)
    except (textgen.InkwellError, ValueError, OSError) as e:
        st.caption(ui.safe(i18n.error_text(e)))
    else:
        if not text:
            st.caption(_("This run keeps no held-out text to read."))
        else:
            layer = st.selectbox(_("Layer"), list(range(len(acts))), format_func={i: _("layer {n}").format(n=i + 1) for i in range(len(acts))}.get,
                                 key="inside_nn_layer") if len(acts) > 1 else 0
            ranked = neurons.rank_units(np.asarray(acts[layer]), neurons.text_features(text))
            st.dataframe(pd.DataFrame([{_("feature"): _(name), **{f"#{i + 1}": _("unit {u} ({c})").format(u=u, c=f"{c:+.2f}")
                                                            for i, (u, c) in enumerate(top)}}
                                       for name, top in ranked.items() if top]), hide_index=True, width="stretch")
            best = next((top[0][0] for top in ranked.values() if top), 0)
            unit = st.number_input(_("Unit"), 0, len(acts[layer][0]) - 1, value=best, key=f"inside_nn_unit_{rid}_{layer}")
            shown = min(len(text), 600)
            cell = char_runs[rid]["cell"]
            gate_name = neurons.KEEP_GATE.get(cell)
            gates = np.asarray(keep_gates(rid)[layer])[:shown, unit] if gate_name else None
            st.altair_chart(gatecharts.gate_chart(text[:shown], np.asarray(acts[layer])[:shown, unit], gates,
                                                  _(gate_name) if gate_name else ""), width="stretch")
            if gate_name:
                st.caption(ui.safe(_("The green band under each character is the unit's {gate_name}: dark where the {get} kept this unit's memory through that character, pale where it wrote over it.").format(gate_name=_(gate_name), get=CELL_NAMES.get(cell, cell))))
            else:
                st.caption(_("A SimpleRNN has no gates: every character rewrites all of its memory."))
else:
    st.caption(_("Train a character-level model to explore its units here."))
