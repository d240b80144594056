"""Runs: every training run in one table; compare curves, rename, delete, export and import bundles."""
from __future__ import annotations

import dataclasses
import hashlib

import pandas as pd
import streamlit as st

import textgen
from pages import ui
from pages import charts, i18n
from pages.i18n import N_, _
from pages import run_labels, streamlit_text
from textgen import artifacts, baselines, bundle, jobs
from textgen import experiments as ex
from textgen.config import CELL_NAMES, CELLS, is_text_run
from textgen.models import param_count, units_for_params

BEST_COL = "best score"   # bits per character on held-out text; the column's help says so
MSG = "runs_message"   # (kind, text) left by a callback, shown next to the widget that caused it
TICKED = "runs_ticked"  # ids of the runs ticked in the table: the ticks follow runs, not row positions

ui.header(_("Runs"), _("Every model trained here: compare their learning curves, keep the good ones, share them as "
                        "bundles."))
reg = ui.registry()
me = ui.identity()
# This writer's own text runs (and those from before owners); measurements' and experiments' jobs are not models.
runs = [r for r in reg.list_runs(me) if is_text_run(r)]
AXIS_KEY = "runs_axis"
AXES = {"time": N_("training time"), "characters": N_("characters seen"), "epoch": N_("epochs")}


def _say(kind: str, text: str) -> None:
    st.session_state[MSG] = (kind, text)


def rename(run_id: str, key: str) -> None:
    try:
        reg.rename(run_id, st.session_state.get(key, ""), me)
    except textgen.InkwellError as e:
        _say("error", i18n.error_text(e))
    else:
        _say("success", _("Renamed."))


def share(run_id: str, key: str) -> None:
    try:
        reg.share(run_id, bool(st.session_state.get(key)), me)
    except textgen.InkwellError as e:
        _say("error", i18n.error_text(e))


def delete(run_id: str) -> None:
    try:
        reg.delete_run(run_id, me)
    except textgen.InkwellError as e:
        _say("error", i18n.error_text(e))
    else:
        if st.session_state.get(ui.ACTIVE_RUN) == run_id:
            st.session_state.pop(ui.ACTIVE_RUN, None)
        _say("success", _("Deleted."))


def show_message() -> None:
    kind, text = st.session_state.pop(MSG, (None, None))
    if kind == "error":
        st.error(text, icon=":material/error:")
    elif kind == "success":
        st.success(text, icon=":material/check_circle:")


STATUSES = {"queued": N_("queued"), "running": N_("running"), "done": N_("done"), "failed": N_("failed"),
            "cancelled": N_("cancelled"), "interrupted": N_("interrupted"), "diverged": N_("diverged")}
LEVELS = {"char": N_("character"), "subword": N_("word piece"), "word": N_("word")}
# Shown column headers; the frame keeps English keys (the tests and the column config use them).
HEADERS = {"label": N_("label"), "status": N_("status"), "level": N_("level"), "cell": N_("cell"), "size": N_("size"),
           "parameters": N_("parameters"), "epochs": N_("epochs"), BEST_COL: N_("best score"),
           "duration": N_("duration"), "created": N_("created")}


def table(runs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "label": run_labels.label(r["label"]), "status": _(STATUSES.get(r["status"], r["status"])),
        "level": _(LEVELS[r["level"]]) if r["level"] in LEVELS else (r["level"] or "—"), "cell": CELL_NAMES.get(r["cell"], r["cell"] or "—"),
        "size": f"{r['layers']}×{r['units']}" if r["layers"] else "—", "parameters": r["params"],
        "epochs": r["epoch"], BEST_COL: r["best_val_bpc"], "duration": ui.duration(r["elapsed"]),
        "created": ui.date(r["created"]),
    } for r in runs])


def manage(run: dict) -> None:
    rid = run["id"]
    st.text(f"{run_labels.label(run['label'])}  ({rid})")
    ui.run_summary(run)
    if run["message"]:
        st.caption(ui.safe(i18n.error_text(run["message"])))
    has_weights = ui.has_weights(run)

    # Boxes of a fixed width in a wrapping row: three columns cut the buttons short on a 1024-pixel projector.
    row = st.container(horizontal=True)
    a, b, c, d = (row.container(border=True, width=300) for _ in range(4))
    with a:
        st.markdown("**" + _("Rename") + "**")
        key = f"rename_{rid}"
        st.text_input(_("New label"), value=run["label"], key=key, max_chars=80)
        st.button(_("Rename"), key=f"do_rename_{rid}", on_click=rename, args=(rid, key), icon=":material/edit:")
    with b:
        st.markdown("**" + _("Share") + "**")
        st.download_button(_("Download bundle (.zip)"), data=lambda: bundle.bundle_bytes(rid, reg, me),
                           file_name=f"inkwell-{rid}.zip", mime="application/zip", on_click="ignore",
                           disabled=not has_weights, icon=":material/download:", key=f"download_{rid}",
                           help=None if has_weights else _("This run has no trained weights yet."))
        ui.write_with_button(run, key=f"write_{rid}")
        if run["owner"]:   # a writer's run: others in the room may write with it, never read or take it
            st.toggle(_("Let the room write with it"), value=bool(run["shared"]), key=f"share_{rid}",
                      on_change=share, args=(rid, f"share_{rid}"),
                      help=_("Others can write with this model; they cannot see its text, download or delete it."))
    with c:
        st.markdown("**" + _("Delete") + "**")
        sure = st.checkbox(_("Yes, delete this run and its files"), key=f"sure_{rid}")
        st.button(_("Delete run"), key=f"delete_{rid}", disabled=not sure, on_click=delete, args=(rid,),
                  icon=":material/delete:")
    with d:
        st.markdown("**" + _("Compare the cells fairly") + "**")
        st.caption(_("The same settings as SimpleRNN, GRU and LSTM, each sized to this run's parameter count and "
                     "trained for the same time."))
        st.button(_("Train with each cell"), key=f"each_cell_{rid}", on_click=train_each_cell, args=(run,),
                  icon=":material/compare_arrows:",
                  disabled=not (reg.run_dir(rid) / "corpus.txt").is_file() or run["status"] in ("queued", "running"))


def _configs(run: dict):
    try:
        return artifacts.read_config(reg.run_dir(run["id"]))
    except (textgen.InkwellError, OSError):
        return None


def compare_points(run: dict, axis: str) -> list[dict]:
    """The run's validation scores against epochs, seconds of training, or characters seen (step x batch x window)."""
    rows = reg.metrics(run["id"], "epoch")   # each point keeps its epoch: the chart labels the best one with it
    if axis == "epoch":
        return [{"x": m["epoch"], "val_bpc": m["val_bpc"], "epoch": m["epoch"]} for m in rows]
    if axis == "time":
        return [{"x": m["elapsed"], "val_bpc": m["val_bpc"], "epoch": m["epoch"]} for m in rows]
    saved = _configs(run)
    if saved is None:
        return []
    _, cfg, meta = saved
    per_step = cfg.batch_size * cfg.seq_len * float(meta.get("chars_per_token") or 1.0)
    return [{"x": (m["step"] or 0) * per_step, "val_bpc": m["val_bpc"], "epoch": m["epoch"]} for m in rows]


def default_axis(chosen: list[dict]) -> str:
    """Time when the runs had the same time budget (a fair race), else epochs."""
    budgets = {c[1].time_budget for c in map(_configs, chosen) if c is not None}
    return "time" if len(budgets) == 1 and budgets != {0.0} else "epoch"


def train_each_cell(run: dict) -> None:
    """The run's settings with each cell, sized to its parameter count, for the same time: three queued jobs."""
    saved = _configs(run)
    if saved is None:
        _say("error", _("This run's settings cannot be read."))
        return
    model, cfg, _meta = saved
    budget = cfg.time_budget or round(run["elapsed"] or 60.0)
    cfg = dataclasses.replace(cfg, time_budget=float(budget), epochs=max(cfg.epochs, 1000))
    target = param_count(model)
    ids = []
    try:
        for cell in CELLS:
            m = dataclasses.replace(model, cell=cell, units=units_for_params(model, cell, target))
            ids.append(jobs.submit(reg.run_dir(run["id"]) / "corpus.txt", m, cfg,
                                   run_labels.EACH_CELL.format(   # stored in English, shown translated
                                       label=run["label"], cell=CELL_NAMES[cell], units=m.units), reg, owner=me))
    except textgen.InkwellError as e:
        _say("error", i18n.error_text(e))
        return
    st.session_state[TICKED] = ids
    st.session_state[AXIS_KEY] = "time"
    _say("success", _("Queued {n} runs of {duration} each, about {params} parameters apiece: they are ticked in the "
                      "table, and their curves draw here as they finish epochs.").format(
        n=len(ids), duration=ui.duration(budget), params=i18n.num(target)))


def experiments_section() -> None:
    saved = ex.list_experiments(reg)
    if not saved:
        return
    st.subheader(_("Experiments"))
    st.caption(_("Built-in experiments (the memory task on the Inside page); their results are kept as data."))
    st.dataframe(pd.DataFrame([{"experiment": e["id"], "created": ui.date(e["created"]),
                                "cells": i18n.listing(CELL_NAMES.get(c, c) for c in e["cells"]),
                                "gaps": i18n.listing(e["gaps"]),
                                "measured": _("{done} of {expected}").format(done=e["done"], expected=e["expected"])}
                               for e in saved]), hide_index=True, width="stretch",
                 column_config={"experiment": _("experiment"), "created": _("created"), "cells": _("cells"),
                                "gaps": _("gaps"), "measured": _("measured")})
    ui.page_link("pages/inside.py", _("Open them on the Inside page"), ":material/psychology:")


def import_section() -> None:
    st.subheader(_("Import a bundle"))
    st.caption(_("A .zip exported from Inkwell (here or on another machine). It is checked before anything is kept."))
    errors = st.container()
    f = streamlit_text.file_uploader(_("Bundle"), ["zip"], "bundle_upload", label_visibility="collapsed")
    if st.button(_("Import"), icon=":material/upload:", disabled=f is None, key="bundle_import"):
        try:
            bundle.import_bundle(f.getvalue(), reg, owner=me)
        except textgen.InkwellError as e:
            ui.show_error(e, errors)
        else:
            _say("success", _("Imported: it is in the table above."))
            st.rerun()


show_message()
if not runs:
    st.info(_("No runs yet. Train a model, or import a bundle below."), icon=":material/model_training:")
    ui.page_link(ui.TRAIN_PAGE, _("Go to Train"), ":material/model_training:")
else:
    ids = [r["id"] for r in runs]
    # The table selects by row position: a new key whenever the rows change (an import, a delete) starts a
    # fresh selection, set from the ticked ids, so the ticks stay on the same runs.
    key = "runs_table_" + hashlib.sha1(" ".join(ids).encode()).hexdigest()[:12]
    ticked = [ids.index(i) for i in st.session_state.get(TICKED, []) if i in ids]
    event = st.dataframe(
        table(runs), hide_index=True, width="stretch", key=key, on_select="rerun",
        selection_mode="multi-row", selection_default={"selection": {"rows": ticked, "columns": []}},
        column_config={**{k: _(v) for k, v in HEADERS.items()},
                       "parameters": st.column_config.NumberColumn(_(HEADERS["parameters"]), format="localized"),
                       "label": st.column_config.TextColumn(_(HEADERS["label"]), width="medium"),
                       BEST_COL: st.column_config.NumberColumn(
                           _(HEADERS[BEST_COL]), format="%.3f",
                           help=_("Bits per character on held-out text (lower is better)"))})
    chosen = [runs[i] for i in event.selection.rows if i < len(runs)]
    st.session_state[TICKED] = [r["id"] for r in chosen]
    st.subheader(_("Compare"))
    if chosen:
        if st.session_state.get(AXIS_KEY) not in charts.COMPARE_AXES:
            st.session_state[AXIS_KEY] = default_axis(chosen)
        axis = st.segmented_control(_("Along"), list(charts.COMPARE_AXES), key=AXIS_KEY,
                                    format_func={a: _(t) for a, t in AXES.items()}.get) or "time"
        curves, seen = {}, set()
        for r in chosen:
            name = run_labels.label(r["label"]) if r["label"] not in seen else ui.run_title(r)
            seen.add(r["label"])
            curves[name] = compare_points(r, axis)
        if any(curves.values()):
            shared = {baselines.load(reg.run_dir(r["id"])) for r in chosen}   # one text and split: its levels
            st.altair_chart(charts.compare_chart(curves, axis, next(iter(shared)) if len(shared) == 1 else None),
                            width="stretch")
            st.caption(_("Ringed: each run's best score on held-out text. That checkpoint is the one it writes with; "
                         "where the curve climbs after it, the model was learning its text by heart."))
        else:
            st.caption(_("The selected runs have no finished epochs yet."))
    else:
        st.caption(_("Tick runs in the table (the boxes at the left) to draw their learning curves together."))

    st.subheader(_("Manage a run"))
    titles = {r["id"]: ui.run_title(r) for r in runs}
    # The picker follows the table: the first selected run, else the newest.
    pick = st.selectbox(_("Run"), ids, index=ids.index(chosen[0]["id"]) if chosen else 0, format_func=titles.get)
    manage(next(r for r in runs if r["id"] == pick))
experiments_section()
st.divider()
import_section()
