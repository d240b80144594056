"""Importing bundles trusts nothing: crafted archives are refused with a clear message."""
import io
import json
import zipfile

import numpy as np
import pytest

from textgen.bundle import bundle_bytes, import_bundle
from textgen.errors import RunError
from textgen.generate import Generator
from textgen.runs import Registry


@pytest.fixture()
def good(tiny_run):
    home, run_id = tiny_run
    return bundle_bytes(run_id, Registry(home))


def _members(blob: bytes) -> dict:
    z = zipfile.ZipFile(io.BytesIO(blob))
    return {n: z.read(n) for n in z.namelist()}


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_round_trip_gives_the_same_text(tiny_run, good, tmp_path):
    home, run_id = tiny_run
    reg = Registry(tmp_path)
    new_id = import_bundle(good, reg, label="copy")
    run = reg.get_run(new_id)
    assert (run["status"], run["label"]) == ("done", "copy")
    a = Generator(run_id, workspace=home).generate("The", 40, seed=3).text
    assert Generator(new_id, workspace=tmp_path).generate("The", 40, seed=3).text == a
    assert len(reg.metrics(new_id, "epoch")) == 1   # the loss curve came along


def _pickled_npz(good_npz: bytes) -> bytes:
    """Every array the model needs, but one of them pickled: only allow_pickle=False stops it."""
    with np.load(io.BytesIO(good_npz)) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["embedding"] = np.array([{"evil": 1}], dtype=object)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize("mutate, msg", [
    (lambda m: {**m, "../evil.py": b"x"}, "unsafe path"),
    (lambda m: {**m, "/etc/cron.d/x": b"x"}, "unsafe path"),
    (lambda m: {**m, "extra.py": b"import os"}, "unexpected file"),
    (lambda m: {k: v for k, v in m.items() if k != "weights.npz"}, "lacks weights.npz"),
    (lambda m: {**m, "config.json": b"{not json"}, "config.json is not valid"),
    (lambda m: {**m, "config.json": json.dumps({"model": {"cell": "transformer"}, "train": {}}).encode()}, "cell must be"),
    (lambda m: {**m, "weights.npz": _pickled_npz(m["weights.npz"])}, "cannot be read as plain arrays"),
    (lambda m: {**m, "weights.npz": b"garbage"}, "cannot be read as plain arrays"),
    (lambda m: {**m, "vocab.json": b'{"level": "char", "tokens": ["a"]}'}, "vocab"),
])
def test_crafted_bundles_are_refused(good, tmp_path, mutate, msg):
    reg = Registry(tmp_path)
    with pytest.raises(RunError, match=msg):
        import_bundle(_zip(mutate(_members(good))), reg)
    assert reg.list_runs() == []
    assert list((tmp_path / "runs").iterdir()) == []


def test_weights_that_do_not_fit_the_config_are_refused(good, tmp_path):
    m = _members(good)
    cfg = json.loads(m["config.json"])
    cfg["model"]["units"] += 1
    with pytest.raises(RunError, match="shape"):
        import_bundle(_zip({**m, "config.json": json.dumps(cfg).encode()}), Registry(tmp_path))


def test_not_a_zip(tmp_path):
    with pytest.raises(RunError, match="not a zip file"):
        import_bundle(b"PK but not really", Registry(tmp_path))


def test_duplicate_members_are_refused(good, tmp_path):
    m = _members(good)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in m.items():
            z.writestr(name, data)
        z.writestr("config.json", m["config.json"])
    with pytest.raises(RunError, match="config.json twice"):
        import_bundle(buf.getvalue(), Registry(tmp_path))


def test_zip_bomb_is_refused(good, tmp_path):
    m = {k: v for k, v in _members(good).items() if k != "model.keras"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in m.items():
            z.writestr(name, data)
        z.writestr("model.keras", b"\0" * (20 * 1024 * 1024))   # 20 MB of zeros packs to ~20 KB
    with pytest.raises(RunError, match="unpacks to far more than its size"):
        import_bundle(buf.getvalue(), Registry(tmp_path))


def test_damaged_member_is_refused_in_one_line(good, tmp_path):
    blob = bytearray(good)
    at = blob.index(b"weights.npz") + 200          # inside the first member's compressed data
    blob[at:at + 64] = bytes(64)
    with pytest.raises(RunError, match="damaged|not valid|cannot be read|not a zip"):
        import_bundle(bytes(blob), Registry(tmp_path))


def test_broken_curves_are_dropped_not_fatal(good, tmp_path):
    m = _members(good)
    bad = json.dumps({"epochs": [{"epoch": float("nan")}, "x", {"epoch": 1, "val_bpc": 2.5}]}).encode()
    reg = Registry(tmp_path)
    run_id = import_bundle(_zip({**m, "metrics.json": bad}), reg)
    assert [r["val_bpc"] for r in reg.metrics(run_id, "epoch")] == [2.5]


def test_a_rename_reaches_the_bundle(tiny_run, tmp_path):
    home, run_id = tiny_run
    src = Registry(home)
    original = src.get_run(run_id)["label"]
    src.update_run(run_id, label="Renamed gulls")
    try:
        blob = bundle_bytes(run_id, src)
    finally:
        src.update_run(run_id, label=original)   # the run is shared with other tests
    assert json.loads(_members(blob)["config.json"])["meta"]["label"] == "Renamed gulls"
    reg = Registry(tmp_path)
    assert reg.get_run(import_bundle(blob, reg))["label"] == "Renamed gulls"


def test_importing_the_same_model_twice_is_refused_naming_the_run(good, tmp_path):
    reg = Registry(tmp_path)
    first = import_bundle(good, reg, label="first copy")
    with pytest.raises(RunError) as e:
        import_bundle(good, reg, label="second copy")
    assert str(e.value) == (f'This model is already here, as the run "first copy" ({first}); '
                            "rename that one instead of importing it again.")
    assert [r["id"] for r in reg.list_runs()] == [first]
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [first]


def test_a_different_model_of_the_same_shape_is_not_a_twin(good, tmp_path):
    m = _members(good)
    with np.load(io.BytesIO(m["weights.npz"])) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["logits/bias"] = arrays["logits/bias"] + 0.5
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    reg = Registry(tmp_path)
    a = import_bundle(good, reg)
    b = import_bundle(_zip({**m, "weights.npz": buf.getvalue()}), reg)
    assert a != b and len(reg.list_runs()) == 2


def test_an_imported_run_keeps_its_training_duration(tiny_run, good, tmp_path):
    home, run_id = tiny_run
    trained = Registry(home).get_run(run_id)["elapsed"]
    assert trained > 0
    reg = Registry(tmp_path)
    assert reg.get_run(import_bundle(good, reg))["elapsed"] == pytest.approx(trained)
    # an older bundle without the run's own figure: its last epoch's clock
    m = _members(good)
    doc = json.loads(m["metrics.json"])
    del doc["elapsed"]
    doc["epochs"][-1]["elapsed"] = 12.5
    other = Registry(tmp_path / "other")
    new_id = import_bundle(_zip({**m, "metrics.json": json.dumps(doc).encode()}), other)
    assert other.get_run(new_id)["elapsed"] == 12.5
    # no curves at all: the duration is unknown, not "under 1 s"
    third = Registry(tmp_path / "third")
    new_id = import_bundle(_zip({k: v for k, v in m.items() if k != "metrics.json"}), third)
    assert third.get_run(new_id)["elapsed"] is None
