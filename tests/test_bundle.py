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


def _pickled_npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, embedding=np.array([{"evil": 1}], dtype=object))
    return buf.getvalue()


@pytest.mark.parametrize("mutate, msg", [
    (lambda m: {**m, "../evil.py": b"x"}, "unsafe path"),
    (lambda m: {**m, "/etc/cron.d/x": b"x"}, "unsafe path"),
    (lambda m: {**m, "extra.py": b"import os"}, "unexpected file"),
    (lambda m: {k: v for k, v in m.items() if k != "weights.npz"}, "lacks weights.npz"),
    (lambda m: {**m, "config.json": b"{not json"}, "config.json is not valid"),
    (lambda m: {**m, "config.json": json.dumps({"model": {"cell": "transformer"}, "train": {}}).encode()}, "cell must be"),
    (lambda m: {**m, "weights.npz": _pickled_npz()}, "cannot be read as plain arrays|does not have the arrays"),
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
