"""Two writers on one server, driven through AppTest: each page shows a writer only their own things; the host
sees the room from the Workshop page."""
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from _shown import shown  # noqa: E402

from textgen import Registry, library, load_corpus, room
from textgen.artifacts import DEMO_DIR
from textgen.identity import Identity, new_token

ROOT = Path(__file__).resolve().parents[2]
TA, TB = new_token(), new_token()
A, B = Identity.writer(TA), Identity.writer(TB)
TEXT = "the gull turns over the harbour wall and the bell rings twice. " * 40


@pytest.fixture()
def reg(workspace) -> Registry:
    reg = Registry(workspace)
    rid = reg.create_run("A's secret model", status="importing", cell="gru", layers=1, units=8, owner=A.owner)
    for name in ("config.json", "vocab.json", "weights.npz"):
        shutil.copy(DEMO_DIR / name, reg.run_dir(rid) / name)
    reg.finish_import(rid, message="test")
    library.save_corpus("A's manuscript", load_corpus(TEXT), reg.home, owner=A)
    return reg


def session(page: str, token: str, **env) -> AppTest:
    at = AppTest.from_file(str(ROOT / page), default_timeout=30)
    at.query_params["w"] = token
    return at.run()


def texts(at: AppTest) -> str:
    return " ".join([*(str(e.value) for e in at.markdown), *(str(e.value) for e in at.caption),
                     *(str(e.value) for e in at.text), *(str(o) for r in at.radio for o in r.options)])


def test_corpus_page_shows_a_writer_only_their_corpora(reg):
    a, b = session("pages/corpus.py", TA), session("pages/corpus.py", TB)
    assert list(a.dataframe[0].value["name"]) == ["A's manuscript"]
    assert not b.dataframe and "Nothing saved yet" in texts(b)


def test_runs_page_shows_a_writer_only_their_runs(reg):
    a, b = session("pages/runs.py", TA), session("pages/runs.py", TB)
    assert list(a.dataframe[0].value["label"]) == ["A's secret model"]
    assert not b.dataframe and "No runs yet" in " ".join(str(i.value) for i in b.info)


def test_sidebar_model_list_has_only_ones_own_and_a_new_writer_starts_on_the_demo(reg):
    a, b = session("app.py", TA), session("app.py", TB)
    assert [shown(o) for o in a.sidebar.radio(key="sidebar_model").options][0].startswith("A's secret model · ")
    assert [shown(o) for o in b.sidebar.radio(key="sidebar_model").options] == ["Demo model (lighthouse town)"]
    assert b.session_state["active_run"] == "demo"
    assert a.session_state["active_run"] != "demo"      # A starts on their own newest model


def test_a_writer_token_is_kept_in_the_link(workspace):
    at = AppTest.from_file(str(ROOT / "pages/corpus.py"), default_timeout=30).run()
    token = at.query_params["w"][0] if isinstance(at.query_params["w"], list) else at.query_params["w"]
    assert len(token) >= 22 and at.session_state["writer_token"] == token


def test_workshop_page_needs_the_host_code_then_shows_the_room(reg, monkeypatch):
    monkeypatch.setenv("INKWELL_HOST_CODE", "lighthouse")
    at = session("pages/workshop.py", TB)
    assert not at.dataframe and at.text_input(key="workshop_code")
    at.text_input(key="workshop_code").input("wrong").run()
    assert [e.value for e in at.error] == ["That is not the host code."]
    at.text_input(key="workshop_code").input("lighthouse").run()
    assert at.session_state["host_ok"] is True
    room.seen(reg, A)
    at.number_input(key="workshop_jobs_at_once").set_value(3)
    at.number_input(key="workshop_minutes").set_value(2.0)
    at.button(key="workshop_save").click().run()
    assert room.limits(reg) == room.Limits(3, 120.0)
    from textgen import jobs
    assert jobs.max_jobs(reg) == 3
    assert A.owner[:8] in list(at.dataframe[0].value["writer"])


def test_write_page_refuses_another_writers_draft_link_and_model(reg):
    from textgen.drafts import Draft

    Draft.from_text("A's opening line").save("a-draft-key-1234", reg.home, A)
    rid = reg.list_runs(A)[0]["id"]
    at = AppTest.from_file(str(ROOT / "pages/write.py"), default_timeout=30)
    at.query_params.update(w=TB, d="a-draft-key-1234")
    at.session_state["active_run"] = rid                 # B names A's run as if chosen
    at.run()
    assert at.text_area(key="write_editor").value == ""
    assert "That draft link is another writer's, so a new draft was started for you." in [shown(e.value) for e in at.error]
    assert any("cannot be used" in shown(w.value) and "another writer" in shown(w.value) for w in at.warning)
    assert Draft.load("a-draft-key-1234", reg.home, A).text == "A's opening line"


def test_write_page_says_when_the_draft_is_in_another_script(workspace):
    at = AppTest.from_file(str(ROOT / "pages/write.py"), default_timeout=30).run()
    at.text_area(key="write_editor").input("床前明月光，疑是地上霜。举头望明月，低头思故乡。").run()
    said = [shown(c.value) for c in at.caption]
    assert any(c.startswith("Your draft is mostly in Chinese characters, but this model learned Latin letters")
               for c in said), said


def test_train_page_shows_no_stop_for_another_writers_job(reg):
    import os

    rid = reg.create_run("A's job", status="queued", owner=A.owner, args=[])
    reg.start(rid, os.getpid())                          # running, with a live pid: this test process
    a, b = session("pages/train.py", TA), session("pages/train.py", TB)
    assert [x.key for x in a.button if x.key == "train_stop"] == ["train_stop"]
    assert not [x for x in b.button if x.key == "train_stop"]
    assert "A's job" not in texts(b)
    reg.finish(rid, "done")


def test_the_host_sees_every_job_with_its_owner_and_place_and_can_cancel_any(reg, monkeypatch):
    monkeypatch.setenv("INKWELL_HOST_CODE", "lighthouse")
    a_job = reg.create_run("A's waiting job", status="queued", owner=A.owner, args=[])
    b_job = reg.create_run("B's waiting job", status="queued", owner=B.owner, args=[])
    monkeypatch.setattr("textgen.jobs.pump", lambda reg=None: [])   # nothing starts: the queue stays as it is
    at = session("pages/workshop.py", TB)
    at.text_input(key="workshop_code").input("lighthouse").run()
    table = at.dataframe[-1].value                              # the jobs (the writers here come first)
    assert list(table["job"]) == ["A's waiting job", "B's waiting job"]
    assert list(table["writer"]) == [A.owner[:8], B.owner[:8]] and list(table["queue position"]) == [1, 2]
    at.selectbox(key="workshop_pick").set_value(a_job).run()
    at.button(key="workshop_cancel").click().run()
    assert reg.require_run(a_job)["status"] == "cancelled" and reg.require_run(b_job)["status"] == "queued"


def test_the_workshop_page_is_in_the_menu_only_for_the_host(reg, monkeypatch):
    import streamlit

    monkeypatch.setenv("INKWELL_HOST_CODE", "lighthouse")
    seen, page = [], streamlit.Page

    def recording(target, *args, **kwargs):
        if str(target).endswith("workshop.py"):
            seen.append(kwargs.get("visibility", "visible"))
        return page(target, *args, **kwargs)

    monkeypatch.setattr(streamlit, "Page", recording)
    session("app.py", TB)
    assert seen == ["hidden"]                               # registered (its URL works) but not listed
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params["w"] = TB
    at.session_state["host_ok"] = True                      # what entering the host code on the page sets
    at.run()
    assert seen == ["hidden", "visible"]
    monkeypatch.delenv("INKWELL_HOST_CODE")
    session("app.py", TB)
    assert seen == ["hidden", "visible"]                    # no host code: no Workshop page at all


def test_a_followed_run_id_of_another_writer_shows_nothing_on_train(reg):
    rid = reg.list_runs(A)[0]["id"]
    at = AppTest.from_file(str(ROOT / "pages/train.py"), default_timeout=30)
    at.query_params["w"] = TB
    at.session_state["train_run"] = rid                   # as if B's session named A's run
    at.run()
    assert not at.exception and "A's secret model" not in texts(at)
    assert not [s for s in at.subheader if s.value == "Training run"]


def test_a_signed_in_user_is_their_stable_id_not_the_links_token(workspace, monkeypatch):
    import streamlit

    class SignedIn:   # what st.user gives with [auth] configured and the user logged in (st.login)
        is_logged_in, sub = True, "oidc-subject-42"

    monkeypatch.setattr(streamlit, "user", SignedIn())
    at = session("pages/corpus.py", TA)
    at.text_area(key="corpus_paste").input(TEXT).run()
    next(b for b in at.button if b.label == "Check text").click().run()
    next(b for b in at.button if b.label == "Save corpus").click().run()
    saved = library.list_corpora(Registry(workspace).home)
    assert [c["owner"] for c in saved] == [Identity.user("oidc-subject-42").owner]
    other = session("pages/corpus.py", TB)                  # another link, same signed-in user: same space
    assert list(other.dataframe[0].value["name"]) == [saved[0]["name"]]


def test_a_run_shared_from_the_runs_page_is_offered_to_others_to_write_with_only(reg):
    rid = reg.list_runs(A)[0]["id"]
    a = session("pages/runs.py", TA)
    a.toggle(key=f"share_{rid}").set_value(True).run()
    assert reg.require_run(rid)["shared"] == 1
    b = session("app.py", TB)
    assert any(shown(o).startswith("A's secret model") for o in b.sidebar.radio(key="sidebar_model").options)
    assert b.session_state["active_run"] == "demo"          # offered, never made B's default
    assert not session("pages/runs.py", TB).dataframe         # not B's to manage, export or delete
