"""The Train page's live panel: one run's state, learning curve, samples and actions, polled while it trains."""
from __future__ import annotations

import streamlit as st

import textgen
from pages import charts, i18n, run_labels, ui
from pages.i18n import N_, _, ngettext
from textgen import baselines, jobs, room, roomcache
from textgen.config import is_text_run
from textgen.runs import ACTIVE

LAST = N_("Latest score")   # metric labels stay short: long ones are cut off on a projector
SCORE_NOTE = N_("Score: bits per character on text held back from training (lower is better).")


def queue_position(run_id: str, reg) -> int:
    return next((r["position"] for r in room.queue(reg) if r["id"] == run_id), 0)   # the fair queue's order


def show_samples(run_id: str, reg) -> None:
    by_epoch: dict[int, list[dict]] = {}
    for s in reg.samples(run_id):
        by_epoch.setdefault(s["epoch"], []).append(s)
    epochs = sorted(by_epoch, reverse=True)
    for i, epoch in enumerate(epochs):
        if i == 0:
            st.markdown(_("**What it writes** after epoch {epoch} (newest first)").format(epoch=epoch))
        elif i == 1:
            older = st.expander(_("Earlier epochs ({n})").format(n=len(epochs) - 1))
        for s, box in ((s, st if i == 0 else older) for s in by_epoch[epoch]):
            box.caption(_("epoch {epoch} · temperature {t}").format(epoch=epoch, t=f"{s['temperature']:g}"))
            box.code(s["text"] or " ", language=None, wrap_lines=True)


STOPPED = {"failed": (st.error, N_("Training stopped with an error."), ":material/error:"),
           "cancelled": (st.warning, N_("Training stopped."), ":material/pause_circle:")}
STOPPED.update(diverged=STOPPED["failed"], interrupted=STOPPED["cancelled"])


def panel_body(run: dict, reg) -> None:
    status = run["status"]
    st.text(run_labels.label(run["label"]))
    if status == "queued":
        pos, n = queue_position(run["id"], reg), jobs.max_jobs()
        wait = _("Waiting in the queue: position {pos}.").format(pos=pos) if pos else _("Waiting in the queue.")
        st.info(i18n.sentences(wait, ngettext("This server trains {n} model at a time.",
                                             "This server trains {n} models at a time.", n).format(n=n)),
                icon=":material/hourglass_top:")
    elif status in STOPPED:
        show, default, icon = STOPPED[status]
        show(ui.safe(i18n.error_text(run["message"]) if run["message"] else _(default)), icon=icon)
    elif status == "done":
        st.success(ui.safe(i18n.sentences(_("Training finished."), i18n.error_text(run["message"] or ""))),
                   icon=":material/check_circle:")
    done, text = ui.progress(run, ui.time_budget(run["id"]))
    if status == "running" and run["eta"] is not None:
        text += " · " + _("ETA {eta}").format(eta=ui.duration(run["eta"]))
    if status != "queued":   # a queued run's box above says where it waits; an empty bar would say it again
        st.progress(done, text=text)
    if where := ui.where_text(run):
        st.caption(where)
    if status == "done":
        ui.run_summary(run)
    else:   # no "Status" metric: the box above (or the moving bar) says it, and big values are cut off on a projector
        m = st.columns(3)
        m[0].metric(_("Characters per second"), ui.fmt_count(run["chars_per_sec"]) if run["chars_per_sec"] else "—")
        m[1].metric(_(LAST), f"{run['last_val_bpc']:.3f}" if run["last_val_bpc"] is not None else "—",
                    help=_("Score on held-out text after the last epoch: how many bits the model needs, on "
                           "average, to guess each next character."))
        m[2].metric(_("Elapsed"), ui.duration(run["elapsed"]))
    st.caption(_(SCORE_NOTE))
    metrics = reg.metrics(run["id"])
    points = charts.curve_steps(metrics) if metrics else 0
    if points >= charts.MIN_CURVE_STEPS:
        refs = baselines.load(reg.run_dir(run["id"]))
        st.altair_chart(charts.loss_chart(metrics, refs), width="stretch")
        if refs is not None and run["best_val_bpc"] is not None:
            st.caption(i18n.error_text(baselines.describe(run["best_val_bpc"], refs)))
        ui.grad_panel(metrics, ui.clipnorm(run["id"]))   # the gradient norm per step, clipping drawn
    elif status in ACTIVE:
        st.caption(_("The learning curve appears after the first few training steps (the trainer takes a few "
                     "seconds to start)."))
    elif points:
        st.caption(ngettext("This run took only {n} training step: too few to draw a learning curve. More text or "
                            "more epochs give one.",
                            "This run took only {n} training steps: too few to draw a learning curve. More text or "
                            "more epochs give one.", points).format(n=points))
    show_samples(run["id"], reg)


def actions(run: dict, reg, me) -> None:
    row = st.container(horizontal=True)
    if run["status"] in ACTIVE and row.button(_("Stop"), icon=":material/stop_circle:", key="train_stop",
                                              help=_("Stops after the current batch and keeps a checkpoint; you can "
                                                     "resume later.")):
        try:
            jobs.cancel(run["id"], reg, owner=me)
        except textgen.InkwellError as e:
            ui.show_error(e)
    if run["status"] in ("cancelled", "interrupted", "failed"):
        can = (reg.run_dir(run["id"]) / "checkpoints" / "latest.npz").is_file()
        if row.button(_("Resume"), icon=":material/play_arrow:", key="train_resume", disabled=not can,
                      help=None if can else _("This run stopped before its first checkpoint.")):
            try:
                jobs.submit_resume(run["id"], reg, owner=me)
            except textgen.InkwellError as e:
                ui.show_error(e)
            else:
                st.rerun()
    ui.write_with_button(run, "train_write", primary=True, where=row)


def draw(run: dict, reg, me) -> None:
    panel_body(run, reg)
    actions(run, reg, me)


@st.fragment(run_every=1)
def live(run_id: str, reg, me) -> None:
    """Polls each second while it trains, from the registry snapshot all sessions share (textgen.roomcache)."""
    if (run := roomcache.snapshot(reg, pump=jobs.pump).get(run_id, me)) is not None:
        draw(dict(run), reg, me)
        if run["status"] not in ACTIVE:
            st.rerun()


def followed(reg, me) -> dict | None:
    """The run the live panel follows; a reloaded browser reattaches to what is training."""
    if ui.TRAIN_RUN not in st.session_state:
        # never another writer's job, nor a measurement's or an experiment's: the panel follows text runs
        active = [r for r in reg.list_runs(me) if r["status"] in ACTIVE and is_text_run(r)]
        if active:
            st.session_state[ui.TRAIN_RUN] = active[0]["id"]
    run = reg.get_run(run_id, me) if (run_id := st.session_state.get(ui.TRAIN_RUN)) else None
    return run if run is not None and is_text_run(run) else None
