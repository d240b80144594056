"""Runs: every training run in one table; compare curves, rename, delete, export and import bundles."""
from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

import textgen
from pages import ui
from textgen import bundle
from textgen.config import CELL_NAMES

BEST_COL = "best score"   # bits per character on held-out text; the column's help says so
MSG = "runs_message"   # (kind, text) left by a callback, shown next to the widget that caused it
TICKED = "runs_ticked"  # ids of the runs ticked in the table: the ticks follow runs, not row positions

ui.header("Runs", "Every model trained here: compare their learning curves, keep the good ones, share them as bundles.")
reg = ui.registry()
runs = reg.list_runs()


def _say(kind: str, text: str) -> None:
    st.session_state[MSG] = (kind, text)


def rename(run_id: str, key: str) -> None:
    try:
        reg.update_run(run_id, label=st.session_state.get(key, ""))
    except textgen.InkwellError as e:
        _say("error", str(e))
    else:
        _say("success", "Renamed.")


def delete(run_id: str) -> None:
    try:
        reg.delete_run(run_id)
    except textgen.InkwellError as e:
        _say("error", str(e))
    else:
        if st.session_state.get(ui.ACTIVE_RUN) == run_id:
            st.session_state.pop(ui.ACTIVE_RUN, None)
        _say("success", "Deleted.")


def show_message() -> None:
    kind, text = st.session_state.pop(MSG, (None, None))
    if kind == "error":
        st.error(text, icon=":material/error:")
    elif kind == "success":
        st.success(text, icon=":material/check_circle:")


def table(runs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "label": r["label"], "status": r["status"],
        "level": r["level"] or "—", "cell": CELL_NAMES.get(r["cell"], r["cell"] or "—"),
        "size": f"{r['layers']}×{r['units']}" if r["layers"] else "—", "parameters": r["params"],
        "epochs": r["epoch"], BEST_COL: r["best_val_bpc"], "duration": ui.duration(r["elapsed"]),
        "created": ui.date(r["created"]),
    } for r in runs])


def manage(run: dict) -> None:
    rid = run["id"]
    st.text(f"{run['label']}  ({rid})")
    ui.run_summary(run)
    if run["message"]:
        st.caption(ui.safe(run["message"]))
    has_weights = ui.has_weights(run)

    # Boxes of a fixed width in a wrapping row: three columns cut the buttons short on a 1024-pixel projector.
    row = st.container(horizontal=True)
    a, b, c = (row.container(border=True, width=300) for _ in range(3))
    with a:
        st.markdown("**Rename**")
        key = f"rename_{rid}"
        st.text_input("New label", value=run["label"], key=key, max_chars=80)
        st.button("Rename", key=f"do_rename_{rid}", on_click=rename, args=(rid, key), icon=":material/edit:")
    with b:
        st.markdown("**Share**")
        st.download_button("Download bundle (.zip)", data=lambda: bundle.bundle_bytes(rid, reg),
                           file_name=f"inkwell-{rid}.zip", mime="application/zip", on_click="ignore",
                           disabled=not has_weights, icon=":material/download:", key=f"download_{rid}",
                           help=None if has_weights else "This run has no trained weights yet.")
        ui.write_with_button(run, key=f"write_{rid}")
    with c:
        st.markdown("**Delete**")
        sure = st.checkbox("Yes, delete this run and its files", key=f"sure_{rid}")
        st.button("Delete run", key=f"delete_{rid}", disabled=not sure, on_click=delete, args=(rid,),
                  icon=":material/delete:")


def import_section() -> None:
    st.subheader("Import a bundle")
    st.caption("A .zip exported from Inkwell (here or on another machine). It is checked before anything is kept.")
    errors = st.container()
    f = st.file_uploader("Bundle", type=["zip"], key="bundle_upload", label_visibility="collapsed")
    if st.button("Import", icon=":material/upload:", disabled=f is None, key="bundle_import"):
        try:
            bundle.import_bundle(f.getvalue(), reg)
        except textgen.InkwellError as e:
            ui.show_error(e, errors)
        else:
            _say("success", "Imported: it is in the table above.")
            st.rerun()


show_message()
if not runs:
    st.info("No runs yet. Train a model, or import a bundle below.", icon=":material/model_training:")
    ui.page_link(ui.TRAIN_PAGE, "Go to Train", ":material/model_training:")
else:
    ids = [r["id"] for r in runs]
    # The table selects by row position: a new key whenever the rows change (an import, a delete) starts a
    # fresh selection, set from the ticked ids, so the ticks stay on the same runs.
    key = "runs_table_" + hashlib.sha1(" ".join(ids).encode()).hexdigest()[:12]
    ticked = [ids.index(i) for i in st.session_state.get(TICKED, []) if i in ids]
    event = st.dataframe(
        table(runs), hide_index=True, width="stretch", key=key, on_select="rerun",
        selection_mode="multi-row", selection_default={"selection": {"rows": ticked, "columns": []}},
        column_config={"parameters": st.column_config.NumberColumn(format="localized"),
                       "label": st.column_config.TextColumn(width="medium"),
                       BEST_COL: st.column_config.NumberColumn(
                           format="%.3f", help="Bits per character on held-out text (lower is better)")})
    chosen = [runs[i] for i in event.selection.rows if i < len(runs)]
    st.session_state[TICKED] = [r["id"] for r in chosen]
    st.subheader("Compare")
    if chosen:
        curves, seen = {}, set()
        for r in chosen:
            name = r["label"] if r["label"] not in seen else ui.run_title(r)
            seen.add(r["label"])
            curves[name] = reg.metrics(r["id"], "epoch")
        if any(curves.values()):
            st.altair_chart(ui.overlay_chart(curves), width="stretch")
        else:
            st.caption("The selected runs have no finished epochs yet.")
    else:
        st.caption("Tick runs in the table (the boxes at the left) to draw their learning curves together.")

    st.subheader("Manage a run")
    titles = {r["id"]: ui.run_title(r) for r in runs}
    # The picker follows the table: the first selected run, else the newest.
    pick = st.selectbox("Run", ids, index=ids.index(chosen[0]["id"]) if chosen else 0, format_func=titles.get)
    manage(next(r for r in runs if r["id"] == pick))
st.divider()
import_section()
