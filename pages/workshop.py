"""Workshop: the host's view of the room (INKWELL_HOST_CODE): who is here, every job, the session's limits."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

import textgen
from pages import i18n, ui
from pages.run_labels import label
from pages.i18n import _, ngettext
from textgen import jobs, room
from textgen.identity import Identity

CODE = "workshop_code"   # the host-code box's widget key

ui.header(_("Workshop"), _("The host's view of the room: who is writing, what is training, and the session's limits."))
reg = ui.registry()

if not room.host_code():
    st.info(_("This server has no host code. Set INKWELL_HOST_CODE before starting it to run a workshop from here."),
            icon=":material/info:")
    st.stop()
if not st.session_state.get(ui.HOST_OK):
    typed = st.text_input(_("Host code"), type="password", key=CODE, help=_("The code set as INKWELL_HOST_CODE."))
    if typed:
        if room.is_host_code(typed):
            st.session_state[ui.HOST_OK] = True
            st.session_state.pop(CODE, None)
            st.rerun()
        st.error(_("That is not the host code."), icon=":material/error:")
    st.stop()

host = Identity.the_host()


def who(owner: str | None) -> str:
    return owner[:8] if owner else _("everyone")   # a digest's start: tells writers apart, names nobody


st.subheader(_("Writers here now"))
here = room.active(reg)
st.metric(_("Active in the last five minutes"), len(here))
if here:
    st.dataframe(pd.DataFrame([{"writer": who(w["owner"]),
                                "last seen": _("{s} s ago").format(s=int(time.time() - w["last"]))}
                               for w in here]), hide_index=True, key="workshop_writers",
                 column_config={"writer": _("writer"), "last seen": _("last seen")})

st.subheader(_("Jobs"))
queue = room.queue(reg)
slots = jobs.max_jobs(reg)
if not queue:
    st.caption(_("Nothing is training or waiting."))
else:
    running_eta = sorted(r["eta"] or 0.0 for r in queue if r["status"] == "running")

    def eta(r: dict) -> str:
        if r["status"] == "running":
            return ui.duration(r["eta"])
        # A rough wait: the position-th slot to free up, if every running job ends on time.
        ahead = running_eta[r["position"] - 1] if r["position"] <= len(running_eta) else None
        return (_("starts in about {duration}").format(duration=ui.duration(ahead)) if ahead is not None
                else _("after the jobs ahead"))

    status = {"queued": _("queued"), "running": _("running")}
    st.dataframe(pd.DataFrame([{"job": label(r["label"]), "writer": who(r["owner"]), "status": status.get(r["status"], r["status"]),
                                "queue position": r["position"] or "—", "ETA": eta(r)} for r in queue]),
                 hide_index=True, width="stretch", key="workshop_jobs",
                 column_config={"job": _("job"), "writer": _("writer"), "status": _("status"),
                                "queue position": _("queue position"), "ETA": _("ETA")})
    titles = {r["id"]: f"{label(r['label'])} · {who(r['owner'])} · {status.get(r['status'], r['status'])}" for r in queue}
    row = st.columns([3, 1], vertical_alignment="bottom")
    pick = row[0].selectbox(_("Job"), list(titles), format_func=lambda i: ui.safe(titles[i]), key="workshop_pick")
    if row[1].button(_("Cancel this job"), icon=":material/stop_circle:", key="workshop_cancel", width="stretch"):
        try:
            jobs.cancel(pick, reg, owner=host)
        except textgen.InkwellError as e:
            ui.show_error(e)
        else:
            st.success(_("Asked to stop: a running job saves a checkpoint first."), icon=":material/check_circle:")

st.subheader(_("Limits for this session"))
now = room.limits(reg)
cap = room.time_cap(reg)
st.caption(i18n.sentences(ngettext("Now: {n} job at once;", "Now: {n} jobs at once;", slots).format(n=slots),
                          _("at most {duration} per job.").format(duration=ui.duration(cap)) if cap
                          else _("no time cap per job."), _("0 keeps the server's default.")))
a, b, c = st.columns([1, 1, 1], vertical_alignment="bottom")
n = a.number_input(_("Jobs at once"), 0, room.MAX_JOBS_LIMIT, now.max_jobs, 1, key="workshop_jobs_at_once")
minutes = b.number_input(_("Minutes per job"), 0.0, room.MAX_SECONDS_LIMIT / 60, now.max_train_seconds / 60, 1.0,
                         key="workshop_minutes")
if c.button(_("Save limits"), type="primary", icon=":material/save:", key="workshop_save"):
    try:
        room.set_limits(room.Limits(int(n), float(minutes) * 60), reg)
    except textgen.InkwellError as e:
        ui.show_error(e)
    else:
        jobs.pump(reg)   # a higher limit starts waiting jobs now
        st.rerun()
