"""Private by default: each route by which a writer could reach another writer's corpus, run or draft is refused."""
import shutil
import sqlite3

import pytest

from textgen import Generator, ModelConfig, Registry, RunError, TrainConfig, bundle, jobs, library, load_corpus
from textgen import list_runs, load_run, room
from textgen.artifacts import DEMO_DIR
from textgen.corpus import CorpusError
from textgen.drafts import Draft, DraftSlot
from textgen.identity import AccessError, Identity, may, new_token

A = Identity.writer(new_token())
B = Identity.writer(new_token())
HOST = Identity.the_host()
TEXT = "the gull turns over the harbour wall and the bell rings twice. " * 20


def finished_run(reg: Registry, owner: Identity | None, label: str = "A's model", shared: bool = False) -> str:
    """A done run with real weights (the demo's files), owned by `owner`, without training anything."""
    rid = reg.create_run(label, status="importing", cell="gru", layers=1, units=8,
                         owner=owner.owner if owner else None, shared=int(shared))
    for name in ("config.json", "vocab.json", "weights.npz"):
        shutil.copy(DEMO_DIR / name, reg.run_dir(rid) / name)
    (reg.run_dir(rid) / "corpus.txt").write_text(TEXT, "utf-8")
    reg.finish_import(rid, message="test")
    return rid


@pytest.fixture()
def reg(workspace, monkeypatch) -> Registry:
    monkeypatch.setattr(jobs, "_spawn", lambda reg, run_id, args: 0)   # no worker processes in these tests
    return Registry(workspace)


# -- identities --------------------------------------------------------------------------------
def test_identities_are_digests_and_tokens_are_random():
    token = new_token()
    assert len(token) >= 22 and token != new_token()
    assert Identity.writer(token) == Identity.writer(token)
    assert token not in Identity.writer(token).owner           # the registry never holds the token itself
    assert Identity.writer(token).owner.startswith("w-") and Identity.user("sub-1").owner.startswith("u-")
    with pytest.raises(AccessError):
        Identity.writer("1")                                 # a guessable id is not a token


def test_who_may_touch_what():
    assert may(A, A.owner) and not may(B, A.owner)
    assert may(HOST, A.owner) and may(None, A.owner)         # the host and the command line see all
    assert may(B, None)                                      # made before owners, or at the command line
    assert may(B, A.owner, shared=True, use=True) and not may(B, A.owner, shared=True)


# -- runs --------------------------------------------------------------------------------------
def test_list_runs_shows_a_writer_only_theirs(reg):
    mine, cli = finished_run(reg, A), finished_run(reg, None, "made at the command line")
    assert [r["id"] for r in reg.list_runs(B)] == [cli]
    assert {r["id"] for r in reg.list_runs(A)} == {mine, cli}
    assert {r["id"] for r in reg.list_runs(HOST)} == {r["id"] for r in reg.list_runs()} == {mine, cli}
    assert [r["id"] for r in list_runs(reg.home, B)] == [cli]


def test_get_and_require_run_refuse_another_writer(reg):
    rid = finished_run(reg, A)
    assert reg.get_run(rid, B) is None and reg.get_run(rid, A)["id"] == rid
    with pytest.raises(RunError, match="belongs to another writer"):
        reg.require_run(rid, B)
    assert reg.require_run(rid, HOST)["owner"] == A.owner


def test_load_run_and_generator_refuse_another_writer(reg):
    rid = finished_run(reg, A)
    with pytest.raises(RunError, match="another writer"):
        load_run(rid, reg.home, owner=B)
    assert load_run(rid, reg.home, owner=A).id == rid
    assert Generator(load_run(rid, reg.home, owner=A)).run.id == rid


def test_export_refuses_another_writer_and_even_a_shared_run(reg, tmp_path):
    rid = finished_run(reg, A, shared=True)
    for who in (B,):
        with pytest.raises(RunError, match="another writer"):
            bundle.bundle_bytes(rid, reg, owner=who)
        with pytest.raises(RunError, match="another writer"):
            bundle.export_bundle(rid, tmp_path / "x.zip", reg, owner=who)
    assert not (tmp_path / "x.zip").exists()
    assert bundle.bundle_bytes(rid, reg, owner=A)[:2] == b"PK"


def test_delete_rename_and_share_refuse_another_writer(reg):
    rid = finished_run(reg, A)
    for act in (lambda: reg.delete_run(rid, B), lambda: reg.rename(rid, "mine now", B),
                lambda: reg.share(rid, True, B)):
        with pytest.raises(RunError, match="another writer"):
            act()
    assert reg.require_run(rid)["label"] == "A's model" and reg.run_dir(rid).is_dir()
    reg.delete_run(rid, HOST)
    assert reg.get_run(rid) is None


def test_cancel_and_resume_refuse_another_writer(reg):
    cid = library.save_corpus("A's text", load_corpus(TEXT), reg.home, owner=A)
    rid = jobs.submit(library.corpus_path(cid, reg.home, A), ModelConfig(units=8, embedding=4),
                      TrainConfig(epochs=1), "A's job", reg, owner=A)
    assert reg.require_run(rid)["owner"] == A.owner
    with pytest.raises(RunError, match="another writer"):
        jobs.cancel(rid, reg, owner=B)
    assert reg.cancel_requested(rid) is False
    jobs.cancel(rid, reg, owner=HOST)   # the host may stop anyone's job
    assert reg.cancel_requested(rid) is True
    with pytest.raises(RunError, match="another writer"):
        jobs.submit_resume(rid, reg, owner=B)


def test_a_shared_run_can_be_written_with_but_not_read_or_deleted(reg):
    rid = finished_run(reg, A, shared=False)
    assert reg.get_run(rid, B, use=True) is None
    reg.share(rid, True, A)
    assert reg.get_run(rid, B, use=True)["id"] == rid
    assert rid in {r["id"] for r in reg.list_runs(B, shared=True)}
    assert rid not in {r["id"] for r in reg.list_runs(B)}     # the Runs page lists only one's own
    assert load_run(rid, reg.home, owner=B).id == rid
    with pytest.raises(RunError, match="another writer"):     # its text stays A's
        jobs.submit(reg.run_dir(rid) / "corpus.txt", ModelConfig(units=8, embedding=4), TrainConfig(epochs=1),
                    "B on A's text", reg, owner=B)
    with pytest.raises(RunError, match="another writer"):
        reg.delete_run(rid, B)


def test_submit_refuses_another_writers_corpus_or_any_other_file(reg, tmp_path):
    cid = library.save_corpus("A's text", load_corpus(TEXT), reg.home, owner=A)
    args = (ModelConfig(units=8, embedding=4), TrainConfig(epochs=1), "B's job", reg)
    with pytest.raises(RunError, match="another writer"):
        jobs.submit(library.corpus_path(cid, reg.home), *args, owner=B)
    outside = tmp_path / "secret.txt"
    outside.write_text(TEXT, "utf-8")
    with pytest.raises(RunError, match="only on a corpus saved"):
        jobs.submit(outside, *args, owner=B)
    assert reg.list_runs() == []


def test_a_bundle_import_is_the_importers_and_reveals_no_twin_of_another(reg):
    rid = finished_run(reg, A, label="A's secret title")
    blob = bundle.bundle_bytes(rid, reg, owner=A)
    new = bundle.import_bundle(blob, reg, owner=B)            # A's twin is not B's to be told about
    assert reg.require_run(new)["owner"] == B.owner and reg.get_run(new, A) is None
    with pytest.raises(RunError, match="already here"):
        bundle.import_bundle(blob, reg, owner=B)              # B's own twin is


# -- corpora -------------------------------------------------------------------------------------
def test_corpora_are_private(reg):
    cid = library.save_corpus("A's manuscript", load_corpus(TEXT), reg.home, owner=A)
    cli = library.save_corpus("sample", load_corpus(TEXT), reg.home)
    assert [c["id"] for c in library.list_corpora(reg.home, B)] == [cli]
    assert {c["id"] for c in library.list_corpora(reg.home, A)} == {cid, cli}
    for act in (lambda: library.load_saved(cid, reg.home, B), lambda: library.corpus_path(cid, reg.home, B),
                lambda: library.delete_corpus(cid, reg.home, B)):
        with pytest.raises(CorpusError, match="another writer"):
            act()
    assert library.load_saved(cid, reg.home, A)[0] == TEXT and library.load_saved(cid, reg.home, HOST)[0] == TEXT


def test_saving_the_same_text_never_hands_back_another_writers_copy(reg):
    cid = library.save_corpus("notes", load_corpus(TEXT), reg.home, owner=A)
    other = library.save_corpus("notes", load_corpus(TEXT), reg.home, owner=B)
    assert other != cid and library.load_saved(other, reg.home, B)[1]["owner"] == B.owner
    assert library.save_corpus("notes", load_corpus(TEXT), reg.home, owner=A) == cid


# -- drafts --------------------------------------------------------------------------------------
def test_a_draft_key_alone_does_not_open_another_writers_draft(reg):
    Draft.from_text("A's opening line").save("key-of-a-draft", reg.home, A)
    with pytest.raises(AccessError, match="another writer"):
        Draft.load("key-of-a-draft", reg.home, B)
    with pytest.raises(AccessError):
        Draft.from_text("B writes over it").save("key-of-a-draft", reg.home, B)
    assert Draft.load("key-of-a-draft", reg.home, A).text == "A's opening line"
    assert Draft.load("key-of-a-draft", reg.home, HOST).text == "A's opening line"
    Draft.from_text("the host's fix").save("key-of-a-draft", reg.home, HOST)   # stays A's
    assert Draft.load("key-of-a-draft", reg.home, A).text == "the host's fix"


def test_a_tab_given_another_writers_link_starts_its_own_draft(reg):
    Draft.from_text("A's opening line").save("key-of-a-draft", reg.home, A)
    state = {}
    draft, key, notes = DraftSlot(state, reg.home, B).open("key-of-a-draft")
    assert draft.text == "" and key != "key-of-a-draft"
    assert notes == [("error", "That draft link is another writer's, so a new draft was started for you.")]
    assert Draft.load("key-of-a-draft", reg.home, A).text == "A's opening line"


def test_a_draft_from_before_owners_is_claimed_by_its_next_save(reg):
    Draft.from_text("old").save("old-draft-key")               # no owner: the key was the only secret
    assert Draft.load("old-draft-key", reg.home, B).text == "old"
    Draft.from_text("old, and more").save("old-draft-key", reg.home, B)
    with pytest.raises(AccessError):
        Draft.load("old-draft-key", reg.home, A)


# -- the registry from before owners ----------------------------------------------------------------
def test_an_old_registry_gains_owner_columns_and_keeps_its_runs_open(workspace):
    workspace.mkdir(parents=True)
    with sqlite3.connect(workspace / "registry.sqlite") as db:
        db.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, label TEXT NOT NULL, status TEXT NOT NULL, "
                   "created REAL NOT NULL, started REAL, finished REAL, heartbeat REAL, pid INTEGER, "
                   "message TEXT DEFAULT '', level TEXT, cell TEXT, layers INTEGER, units INTEGER, params INTEGER, "
                   "corpus TEXT, epoch INTEGER DEFAULT 0, epochs INTEGER DEFAULT 0, step INTEGER DEFAULT 0, "
                   "steps INTEGER DEFAULT 0, eta REAL, chars_per_sec REAL, best_val_bpc REAL, last_val_bpc REAL, "
                   "elapsed REAL DEFAULT 0, args TEXT DEFAULT '[]', cancel INTEGER DEFAULT 0)")
        db.execute("INSERT INTO runs (id, label, status, created) VALUES ('20250101-000000-abcdef', 'old', 'done', 1)")
    reg = Registry(workspace)
    run = reg.require_run("20250101-000000-abcdef", B)
    assert (run["owner"], run["shared"]) == (None, 0)


# -- the fair queue -------------------------------------------------------------------------------
def test_a_writer_waits_with_one_job_at_a_time(reg, monkeypatch):
    monkeypatch.setenv("INKWELL_HOST_CODE", "lighthouse")   # a workshop room
    cid = library.save_corpus("A's text", load_corpus(TEXT), reg.home, owner=A)
    args = (library.corpus_path(cid, reg.home, A), ModelConfig(units=8, embedding=4), TrainConfig(epochs=1))
    room.set_limits(room.Limits(max_jobs=1), reg)
    first = jobs.submit(*args, "one", reg, owner=A)            # starts (the spawn is stubbed)
    second = jobs.submit(*args, "two", reg, owner=A)           # waits
    assert [reg.require_run(r)["status"] for r in (first, second)] == ["running", "queued"]
    with pytest.raises(RunError, match="already have a job waiting"):
        jobs.submit(*args, "three", reg, owner=A)
    jobs.submit(*args, "host's", reg, owner=HOST)              # the host is not held to it
    monkeypatch.delenv("INKWELL_HOST_CODE")
    jobs.submit(*args, "alone", reg, owner=A)                   # no workshop: a writer alone may queue more


def test_the_queue_serves_writers_in_turn(reg):
    def queued(owner, t):
        rid = reg.create_run("job", status="queued", owner=owner.owner, args=[])
        reg.update_run(rid, created=t)
        return rid

    a1, a2 = queued(A, 1.0), queued(A, 2.0)                    # A queued two (the host's doing, say)
    b1 = queued(B, 3.0)
    assert [r["id"] for r in room.queue(reg)] == [a1, b1, a2]
    order = [reg.claim_next(max_jobs=9)["id"] for _ in range(3)]   # a claimed job counts as its owner's turn
    assert order == [a1, b1, a2]
