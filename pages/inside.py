"""Inside: why gates matter, measured. The memory experiment, a run's gradient norms, the vanishing curve."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import textgen
from pages import ui
from pages import charts, gatecharts
from textgen import clipping
from textgen import experiments as ex
from textgen import gradients, jobs, neurons
from textgen.config import CELL_NAMES

EXP_KEY = "inside_experiment"        # the experiment shown (its id)
PRESET_KEY = "inside_preset"
PAIR_KEY = "inside_pair"            # the clipping pair shown (its id)

ui.header("Inside", "Why gates matter, measured on this machine: memory over long gaps, gradients, vanishing.")
reg = ui.registry()


def start_experiment() -> None:
    try:
        st.session_state[EXP_KEY] = ex.submit(ex.PRESETS[st.session_state[PRESET_KEY]], reg, owner=ui.identity())
    except textgen.InkwellError as e:
        st.session_state["inside_error"] = str(e)


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
        st.progress(len(results) / expected, text=f"{len(results)} of {expected} trainings measured · "
                    + ", ".join(f"{CELL_NAMES.get(r['cell'], r['cell'])} {r['status']}" for r in active))
        if st.button("Stop the experiment", icon=":material/stop_circle:", key=f"stop_{exp_id}"):
            for r in active:
                jobs.cancel(r["id"], reg, ui.identity())
    for r in rows:
        if r["status"] == "failed":
            st.error(ui.safe(f"{CELL_NAMES.get(r['cell'], r['cell'])}: {r['message']}"), icon=":material/error:")
    if results:
        st.altair_chart(charts.memory_chart(results, cfg.chance), width="stretch")
        st.markdown(ui.safe(ex.explain(results, cfg)))
        st.caption(f"{len(results)} of {expected} trainings measured. Each cell has about {cfg.params:,} "
                   f"parameters and trained {cfg.seconds:g} s per gap on {cfg.symbols} symbols ({cfg.noise} kinds "
                   f"of noise); accuracy is on {cfg.test_size} sequences it never saw.")
    elif not active:
        st.caption("This experiment has no results.")


st.subheader("Why gates? The memory experiment")
st.markdown("Each sequence starts with one of a few symbols, then a stretch of noise, then a question: *which "
            "symbol came first?* SimpleRNN, LSTM and GRU, sized to the same number of parameters, train for the "
            "same time at each gap. Where a cell's accuracy falls to chance, it has forgotten.")
if msg := st.session_state.pop("inside_error", None):
    st.error(ui.safe(msg), icon=":material/error:")
row = st.columns([3, 2], vertical_alignment="bottom")
row[0].radio("Size", list(ex.PRESETS), key=PRESET_KEY, horizontal=True, format_func=lambda n: {
    "Full": f"Full: gaps {', '.join(map(str, ex.PRESETS['Full'].gaps))} (about 6 minutes)",
    "Quick": f"Quick: gaps {', '.join(map(str, ex.PRESETS['Quick'].gaps))} (about a minute)"}[n])
row[1].button("Run the experiment", type="primary", icon=":material/science:", on_click=start_experiment)
saved = ex.list_experiments(reg, ui.identity())
if saved:
    ids = [e["id"] for e in saved]
    if st.session_state.get(EXP_KEY) not in ids:
        st.session_state[EXP_KEY] = ids[0]
    st.selectbox("Experiment", ids, key=EXP_KEY, format_func=lambda i: next(
        f"{ui.date(e['created'])} · gaps {', '.join(map(str, e['gaps']))}"   # progress is the fragment's to show
        for e in saved if e["id"] == i))
    exp_id = st.session_state[EXP_KEY]
    rows = experiment_jobs(exp_id)
    if any(r["status"] in ("queued", "running") for r in rows):
        experiment_live(exp_id)
    else:
        experiment_view(exp_id, rows)
else:
    st.caption("No experiment yet: run one above.")

text_runs = [r for r in reg.list_runs(ui.identity()) if r["level"] != ex.LEVEL]   # this writer's own

st.subheader("Gradients, seen")
with_norms = {r["id"]: r for r in text_runs if r["status"] != "queued"}
pick = None
if with_norms:
    pick = st.selectbox("Run", list(with_norms), format_func=lambda i: ui.run_title(with_norms[i]),
                        key="inside_grad_run")
    metrics = reg.metrics(pick, "batch")
    if not any(m.get("grad_norm") is not None for m in metrics):   # trained before Inkwell kept them
        metrics = []
    clipnorm = ui.clipnorm(pick)
    if metrics and ui.grad_panel(metrics, clipnorm):
        st.caption("The size of the whole gradient (all weights together) before clipping, per training step. A "
                   "step over the threshold is scaled down to it.")
    else:
        st.caption("This run recorded no gradient norms (it was trained before Inkwell kept them).")
else:
    st.caption("Train a model to see its gradients here.")


def start_pair(run_id: str) -> None:
    try:
        st.session_state[PAIR_KEY] = clipping.submit(reg.run_dir(run_id) / "corpus.txt", reg, ui.identity(),
                                                     source=ui.run_title(with_norms[run_id]))
    except textgen.InkwellError as e:
        st.session_state["inside_pair_error"] = str(e)


def pair_view(pair: dict) -> None:
    runs = {side: reg.get_run(rid, ui.identity()) for side, rid in pair["runs"].items()}
    if any(r is None for r in runs.values()):
        st.caption("One of this pair's runs was deleted.")
        return
    series = {f"clipping {side}": reg.metrics(r["id"], "batch") for side, r in runs.items()}
    cols = st.columns(2)
    cols[0].altair_chart(gatecharts.pair_chart(series, "grad_norm", "gradient norm (log scale)", pair["clipnorm"],
                                               log=True), width="stretch")
    cols[1].altair_chart(gatecharts.pair_chart(series, "loss", "training loss (nats)"), width="stretch")
    for side, r in runs.items():
        rows = series[f"clipping {side}"]
        said = gradients.describe_norms([m["step"] for m in rows], [m.get("grad_norm") for m in rows],
                                        [m.get("clipped") for m in rows], pair["clipnorm"] if side == "on" else 0.0)
        status = {"diverged": "diverged", "done": "finished", "cancelled": "was stopped"}.get(r["status"], r["status"])
        st.caption(ui.safe(f"Clipping {side} ({status}): {said} {r['message'] or ''}".strip()))
    if said := clipping.verdict(runs["off"]["status"], runs["on"]["status"]):
        st.markdown(ui.safe(said))


@st.fragment(run_every=2)
def pair_live(pair: dict) -> None:
    """Polls while the pair trains; a full rerun once both are finished ends the polling."""
    jobs.pump(reg)
    pair_view(pair)
    if not any((reg.get_run(rid) or {}).get("status") in ("queued", "running") for rid in pair["runs"].values()):
        st.rerun()


st.markdown(f"**Clipping on and off.** The same SimpleRNN ({clipping.MODEL.units} units) trained twice on a run's "
            f"text at a high learning rate ({clipping.TRAIN.lr:g}), once without clipping and once clipped to a "
            f"global norm of {clipping.CLIP_ON:g}, {clipping.TRAIN.time_budget:g} s each, one after the other.")
if msg := st.session_state.pop("inside_pair_error", None):
    st.error(ui.safe(msg), icon=":material/error:")
if pick is not None:
    st.button("Train it with clipping off and on", icon=":material/compare_arrows:", key="inside_pair_start",
              on_click=start_pair, args=(pick,), disabled=not (reg.run_dir(pick) / "corpus.txt").is_file(),
              help="Uses the text of the run picked above.")
pairs = clipping.list_pairs(reg, ui.identity())
if pairs:
    by_id = {p["id"]: p for p in pairs}
    if st.session_state.get(PAIR_KEY) not in by_id:
        st.session_state[PAIR_KEY] = pairs[0]["id"]
    st.selectbox("Pair", list(by_id), key=PAIR_KEY, format_func=lambda i: f"{ui.date(by_id[i]['created'])} · "
                 f"{by_id[i]['source'] or 'a run'} · lr {by_id[i]['lr']:g}")
    pair = by_id[st.session_state[PAIR_KEY]]
    if any((reg.get_run(rid) or {}).get("status") in ("queued", "running") for rid in pair["runs"].values()):
        pair_live(pair)
    else:
        pair_view(pair)

st.subheader("Vanishing, measured")
st.markdown("How much of the error at the last character still reaches the memory k steps earlier, averaged over "
            "windows of held-out text. A straight fall on this log scale is the vanishing gradient.")
finished = {r["id"]: r for r in text_runs if r["status"] == "done" and ui.has_weights(r)}
if finished:
    picked = st.multiselect("Runs to compare", list(finished), default=list(finished)[:3], key="inside_vanish_runs",
                            format_func=lambda i: ui.run_title(finished[i]))
    curves, notes = {}, []
    for rid in picked:
        curve = gradients.read_curve(reg.run_dir(rid))   # measured by the worker when training ended
        if curve is None:
            notes.append(f"{ui.run_title(finished[rid])} has no curve: it was trained before Inkwell measured it, "
                         "or its held-out text is too short.")
            continue
        name = f"{ui.run_title(finished[rid])} ({CELL_NAMES.get(finished[rid]['cell'], '')})"
        curves[name] = curve.norms.tolist()
    for n in notes:
        st.caption(ui.safe(n))
    if curves:
        st.altair_chart(charts.vanishing_chart(curves), width="stretch")
        for name, norms in curves.items():
            ratio = gradients.Curve(np.asarray(norms), 0).ratio_per_step()
            st.caption(ui.safe(f"{name}: each step back keeps about {ratio:.0%} of the gradient; after "
                               f"{len(norms) - 1} steps, {norms[-1] / norms[0]:.2g} of it is left."))
else:
    st.caption("Train models (say a SimpleRNN, an LSTM and a GRU on the same text) to compare their curves here.")

@st.cache_data(show_spinner="Reading the run's gates…", max_entries=8)
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
    return _keep_gates(str(run_dir), (run_dir / "weights.npz").stat().st_mtime)


st.subheader("Neuron explorer")
st.markdown("Pick a unit and see a passage of held-out text shaded by its activation after each character (red "
            "high, blue low), and for an LSTM or GRU how much of its memory it kept at each character. The table "
            "ranks the units that track simple features of the text, so a unit that follows quotes, brackets or "
            "the line's length is quick to find.")
char_runs = {rid: r for rid, r in finished.items() if r["level"] == "char"} if finished else {}
if char_runs:
    rid = st.selectbox("Run", list(char_runs), format_func=lambda i: ui.run_title(char_runs[i]), key="inside_nn_run")
    try:
        text, acts = ui.unit_activations(rid)
    except (textgen.InkwellError, ValueError, OSError) as e:
        st.caption(ui.safe(str(e)))
    else:
        if not text:
            st.caption("This run keeps no held-out text to read.")
        else:
            layer = st.selectbox("Layer", list(range(len(acts))), format_func=lambda i: f"layer {i + 1}",
                                 key="inside_nn_layer") if len(acts) > 1 else 0
            ranked = neurons.rank_units(np.asarray(acts[layer]), neurons.text_features(text))
            st.dataframe(pd.DataFrame([{"feature": name, **{f"#{i + 1}": f"unit {u} ({c:+.2f})"
                                                            for i, (u, c) in enumerate(top)}}
                                       for name, top in ranked.items() if top]), hide_index=True, width="stretch")
            best = next((top[0][0] for top in ranked.values() if top), 0)
            unit = st.number_input("Unit", 0, len(acts[layer][0]) - 1, value=best, key=f"inside_nn_unit_{rid}_{layer}")
            shown = min(len(text), 600)
            cell = char_runs[rid]["cell"]
            gate_name = neurons.KEEP_GATE.get(cell)
            gates = np.asarray(keep_gates(rid)[layer])[:shown, unit] if gate_name else None
            st.altair_chart(gatecharts.gate_chart(text[:shown], np.asarray(acts[layer])[:shown, unit], gates,
                                                  gate_name or ""), width="stretch")
            if gate_name:
                st.caption(ui.safe(f"The green band under each character is the unit's {gate_name}: dark where "
                                   f"the {CELL_NAMES.get(cell, cell)} kept this unit's memory through that "
                                   "character, pale where it wrote over it."))
            else:
                st.caption("A SimpleRNN has no gates: every character rewrites all of its memory.")
else:
    st.caption("Train a character-level model to explore its units here.")
