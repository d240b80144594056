"""The quality benchmark runs end to end at tiny sizes and writes its JSON (no timing assertions)."""
import json
import subprocess
import sys
from pathlib import Path

from benchmarks import quality, texts

ROOT = Path(__file__).resolve().parent.parent


def test_quality_benchmark_tiny(tmp_path):
    out = tmp_path / "q.json"
    r = subprocess.run([sys.executable, "-m", "benchmarks.quality", "--tiny", "--presets", "Quick", "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(out.read_text())
    samples = [t["text"] for t in report["texts"]]
    assert samples[0] == "sample" and [row["text"] for row in report["rows"]] == samples   # one row per text
    for row in report["rows"]:
        assert row["preset"] == "Quick"
        for key in ("inkwell", "tutorial"):
            assert row[key]["val_bpc"] > 0 and row[key]["carried_val_bpc"] > 0
            assert row[key]["chars_seen"] > 0 and row[key]["sample"]
        assert row["gain_bpc"] == row["tutorial"]["val_bpc"] - row["inkwell"]["val_bpc"]
        assert row["carried_gain_bpc"] == row["tutorial"]["carried_val_bpc"] - row["inkwell"]["carried_val_bpc"]
        chars = next(t["chars"] for t in report["texts"] if t["text"] == row["text"])
        assert f"| {row['text']} | {chars:,} | Quick | 3 s | windows of 100 |" in r.stdout
        assert f"| {row['text']} | {chars:,} | Quick | 3 s | state carried |" in r.stdout


def test_unknown_text_and_preset_are_one_line_errors():
    for args, said in ((["--texts", "kjv,nope"], "unknown text 'nope': choose from kjv,"),
                       (["--presets", "Huge"], "unknown preset 'Huge': choose from Quick,")):
        r = subprocess.run([sys.executable, "-m", "benchmarks.quality", *args], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and r.stderr.startswith(said) and r.stderr.count("\n") == 1, r.stderr


def test_the_texts_are_several_kinds_and_sizes():
    kinds = {t.kind for t in texts.TEXTS.values()}
    assert {"prose", "verse", "dialogue"} <= {k.split(" ")[0] for k in kinds}
    assert "kjv" in texts.TEXTS


def test_fortune_separators_and_colours_are_stripped(tmp_path, monkeypatch):
    (tmp_path / "a").write_text("\x1b[32m《题》\x1b[m\n一行。\n%\nSecond entry.\n%\n", "utf-8")
    monkeypatch.setattr(texts, "FORTUNES", tmp_path)
    assert texts._fortune_files(["a"]) == "《题》\n一行。\n\nSecond entry.\n\n"


def test_prompt_is_the_texts_own_first_words():
    assert quality.prompt_from("\nab\nIn the beginning was the word and more words\n") == "In the beginning was the"


def test_a_missing_package_names_it(monkeypatch):
    def gone():
        raise FileNotFoundError("x")
    monkeypatch.setitem(texts.TEXTS, "kjv", texts.Text("kjv", "t", "prose", "bible-kjv", gone))
    try:
        texts.read("kjv")
    except SystemExit as e:
        assert str(e) == "benchmarks.quality needs Debian's bible-kjv package for 'kjv': run `make bench-quality`."
    else:
        raise AssertionError("no SystemExit")


def test_make_bench_quality_installs_every_texts_package():
    line = next(ln for ln in (ROOT / "Makefile").read_text().splitlines() if ln.startswith("QUALITY_PACKAGES"))
    assert sorted(line.split(":=")[1].split()) == texts.PACKAGES


def test_the_preset_is_fitted_to_each_text_as_the_app_fits_it(tmp_path, monkeypatch):
    from argparse import Namespace

    from tests.chinese import poems
    from textgen import load_corpus, sizing
    from textgen.presets import PRESETS

    seen = []
    monkeypatch.setattr(quality, "run_one", lambda name, corpus, model, cfg, home: seen.append(cfg) or {
        "val_bpc": 1.0, "carried_val_bpc": 1.0, "chars_seen": 1})
    corpus = load_corpus(poems())
    row = quality.compare("zh", "Quick", corpus, 0.1, Namespace(tiny=False, inkwell_only=True), tmp_path)
    want = sizing.adapt(PRESETS["Quick"], sizing.stats_counts(corpus.stats), cjk=True).train
    assert seen[0].batch_size == want.batch_size == row["fitted"]["batch_size"] < PRESETS["Quick"].train.batch_size
