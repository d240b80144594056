"""The command line as a user types it: one tiny run end to end, and one clear line for bad input."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, home: Path, timeout: float = 300):
    env = {**os.environ, "INKWELL_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "textgen", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli")
    r = cli("train", ROOT / "assets" / "sample.txt", "--cell", "gru", "--layers", "1", "--units", "24",
            "--embedding", "8", "--seq-len", "40", "--batch-size", "32", "--epochs", "1", "--name", "cli run",
            home=home)
    assert r.returncode == 0, r.stderr
    run_id = r.stdout.split("run ")[1].split(",")[0].split()[0]
    return home, run_id, r


def test_train_prints_run_id_and_path(trained):
    home, run_id, r = trained
    assert r.stdout.startswith(f"done: run {run_id}, best validation ")
    assert str(home / "runs" / run_id) in r.stdout
    assert "Traceback" not in r.stderr and "epoch 1.00" in r.stderr


def test_generate_is_seeded_and_prints_prompt_plus_continuation(trained):
    home, run_id, _ = trained
    a = cli("generate", run_id, "--prompt", "The keeper", "--length", "60", "--seed", "3", home=home)
    b = cli("generate", run_id, "--prompt", "The keeper", "--length", "60", "--seed", "3", home=home)
    assert a.returncode == 0 and a.stdout == b.stdout
    assert a.stdout.startswith("The keeper") and len(a.stdout) == len("The keeper") + 60 + 1


def test_generate_alternatives(trained):
    home, run_id, _ = trained
    r = cli("generate", run_id, "--prompt", "Nell", "--n", "3", "--length", "20", "--seed", "1", home=home)
    assert r.returncode == 0 and r.stdout.count("--- alternative") == 3


def test_evaluate_prints_json(trained):
    home, run_id, _ = trained
    r = cli("evaluate", run_id, ROOT / "assets" / "sample.txt", home=home)
    out = json.loads(r.stdout)
    assert set(out) >= {"loss_nats", "bpc", "perplexity", "chars"}
    assert out["bpc"] == pytest.approx(out["loss_nats"] / 0.6931471805599453)
    carried = json.loads(cli("evaluate", run_id, ROOT / "assets" / "sample.txt", "--streams", "8", home=home).stdout)
    assert carried["tokens"] % 8 == 0 and carried["bpc"] != out["bpc"]   # 8 equal pieces, scored another way
    bad = cli("evaluate", run_id, ROOT / "assets" / "sample.txt", "--streams", "-2", home=home)
    assert bad.returncode != 0 and bad.stderr == "textgen: --streams must be 0 (windows) or more, not -2.\n"


def test_runs_lists_the_run(trained):
    home, run_id, _ = trained
    r = cli("runs", home=home)
    line = next(l for l in r.stdout.splitlines() if l.startswith(run_id))
    assert "cli run" in line and "done" in line and "gru 1x24" in line


def test_export_then_import_gives_the_same_text(trained, tmp_path):
    home, run_id, _ = trained
    bundle = tmp_path / "model.zip"
    assert cli("export", run_id, bundle, home=home).returncode == 0
    assert set(zipfile.ZipFile(bundle).namelist()) >= {"config.json", "vocab.json", "weights.npz"}
    other = tmp_path / "other-home"
    r = cli("import", bundle, home=other)
    assert r.returncode == 0, r.stderr
    new_id = r.stdout.strip()
    a = cli("generate", run_id, "--prompt", "A", "--seed", "5", "--length", "40", home=home).stdout
    b = cli("generate", new_id, "--prompt", "A", "--seed", "5", "--length", "40", home=other).stdout
    assert a == b


def test_vanishing_measures_and_stores_the_curve_a_run_lacks(trained, tmp_path):
    import shutil

    import numpy as np

    from textgen import atomic
    from textgen.artifacts import open_run_dir
    from textgen.data import split_encoded
    from textgen.gradients import CURVE_FILE, CURVE_WINDOWS, read_curve, vanishing_curve
    from textgen.stepper import Stepper

    home, run_id, _ = trained
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    run_dir = copy / "runs" / run_id
    stored = read_curve(run_dir).norms   # what the worker measured when training ended
    (run_dir / CURVE_FILE).unlink()      # as in a run trained before the worker measured it
    r = cli("vanishing", run_id, home=copy)
    assert r.returncode == 0, r.stderr
    run = open_run_dir(run_dir)
    _, val = split_encoded(run.vocab, run.corpus_path.read_text("utf-8"), run.train.val_fraction)
    direct = vanishing_curve(Stepper(run.model, atomic.read_npz(run_dir / "weights.npz")), val,
                             min(100, len(val) - 3), CURVE_WINDOWS, run.train.seed)
    np.testing.assert_array_equal(read_curve(run_dir).norms, direct.norms)
    np.testing.assert_array_equal(read_curve(run_dir).norms, stored)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["k", "|dL/dh|", "share"] and lines[1].split() == ["0", f"{direct.norms[0]:.3g}", "1"]
    assert [int(l.split()[0]) for l in lines[1:-1]] == [0, 1, 2, 5, 10, 20, 50, 100]
    assert lines[3].split()[2] == f"{direct.norms[2] / direct.norms[0]:.3g}"
    assert lines[-1] == (f"each step back keeps about {direct.ratio_per_step():.0%} of the gradient "
                         f"({CURVE_WINDOWS} windows of held-out text)")
    assert r.stderr == f"stored in {run_dir / CURVE_FILE}\n"


def test_vanishing_refuses_a_bad_run_in_one_line(tmp_path):
    for run, said in (("../../etc/passwd", "'../../etc/passwd' is not a run id"),
                      ("20990101-000000-abcdef", "There is no run 20990101-000000-abcdef")):
        r = cli("vanishing", run, home=tmp_path / "home", timeout=120)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and r.stderr.startswith(f"textgen: {said}"), r.stderr
        assert not (tmp_path / "home" / "runs").is_dir() or not any((tmp_path / "home" / "runs").iterdir())


def test_generate_with_the_demo_model(tmp_path):
    if not (ROOT / "assets" / "demo" / "weights.npz").exists():
        pytest.skip("the demo model has not been built (make demo)")
    r = cli("generate", "demo", "--prompt", "The lighthouse", "--length", "50", "--seed", "1", home=tmp_path)
    assert r.returncode == 0 and len(r.stdout) == len("The lighthouse") + 51


def _bad_inputs(tmp: Path) -> list[tuple[list, str]]:
    (tmp / "empty.txt").write_text("")
    (tmp / "blank.txt").write_text("   \n\t \n")
    (tmp / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    (tmp / "notes.pdf").write_text("hello")
    (tmp / "fake.docx").write_bytes(b"this is not a zip")
    (tmp / "short.txt").write_text("Only a few words here.")
    (tmp / "ok.txt").write_text("The tide came in and the boats went out. " * 200)
    return [
        (["train", tmp / "missing.txt"], "missing.txt"),
        (["train", tmp / "empty.txt"], "empty"),
        (["train", tmp / "blank.txt"], "whitespace"),
        (["train", tmp / "image.txt"], "binary"),
        (["train", tmp / "notes.pdf"], ".txt, .md or .docx"),
        (["train", tmp / "fake.docx"], "not a readable Word document"),
        (["train", tmp / "short.txt"], "too short"),
        (["train", tmp / "ok.txt", "--units", "0"], "units must be between 1 and 4096"),
        (["train", tmp / "ok.txt", "--layers", "9"], "layers must be between 1 and 4"),
        (["train", tmp / "ok.txt", "--batch-size", "-4"], "batch_size must be between"),
        (["train", tmp / "ok.txt", "--seq-len", "5000"], "seq_len must be between"),
        (["train", tmp / "ok.txt", "--seq-len", "1500"], "too short for sequence length 1500"),
        (["train", tmp / "ok.txt", "--lr", "-1"], "lr must be between"),
        (["train", tmp / "ok.txt", "--cell", "transformer"], "invalid choice"),
        (["train", tmp / "ok.txt", "--gru-kernel", "fast"], "invalid choice"),
        (["train", tmp / "ok.txt", "--level", "byte"], "invalid choice"),
        (["train", tmp / "ok.txt", "--level", "subword", "--subword-vocab", "100"], "subword_vocab must be between 260"),
        (["train", tmp / "ok.txt", "--weight-decay", "2"], "weight_decay must be between 0 and 1, not 2"),
        (["train", tmp / "ok.txt", "--cell", "gru", "--weight-drop", "0.9"], "weight_drop must be between 0 and 0.8, not 0.9"),
        (["train", tmp / "ok.txt", "--cell", "lstm", "--weight-drop", "0.2"], "weight_drop (recurrent weight dropout) is for GRU models only"),
        (["train", tmp / "ok.txt", "--finetune", "20990101-000000-abcdef", "--weight-drop", "0.2"],
         "--finetune keeps the run's model; --weight-drop cannot change it."),
        (["train", tmp / "ok.txt", "--units", "many"], "invalid int value"),
        (["train"], "needs at least one text file"),
        (["train", "--resume", "../../etc/passwd"], "is not a run id"),
        (["generate", "../../etc/passwd"], "is not a run id"),
        (["generate", "a/b"], "is not a run id"),
        (["generate", "x" * 2000], "is not a run id"),
        (["generate", "20990101-000000-abcdef"], "There is no run"),
        (["generate", "demo", "--length", "-1"], "at least 1"),
        (["generate", "demo", "--length", "0"], "at least 1"),
        (["generate", "demo", "--length", "99999999"], "cap of 5,000"),
        (["generate", "demo", "--temperature", "-2"], "not negative"),
        (["generate", "demo", "--top-p", "0"], "above 0"),
        (["generate", "demo", "--top-k", "100000"], "vocabulary"),
        (["generate", "demo", "--n", "50"], "alternatives must be between 1 and 8"),
        (["evaluate", "demo", tmp / "missing.txt"], "missing.txt"),
        (["export", "../x", tmp / "o.zip"], "is not a run id"),
        (["import", tmp / "missing.zip"], "is not a file"),
        (["import", tmp / "ok.txt"], "not a zip file"),
        (["frobnicate"], "invalid choice"),
    ]


def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path):
    demo = (ROOT / "assets" / "demo" / "weights.npz").exists()
    failures = []
    for args, expected in _bad_inputs(tmp_path):
        if "demo" in args and not demo:
            continue
        r = cli(*args, home=tmp_path / "home", timeout=120)
        lines = r.stderr.strip().splitlines()
        if r.returncode == 0 or "Traceback" in r.stderr or len(lines) != 1 or expected not in lines[0]:
            failures.append((args, r.returncode, r.stderr[-300:]))
    assert not failures, failures


def test_resume_keeps_the_runs_settings_and_extends_only_what_is_asked(trained):
    home, run_id, _ = trained
    bad = cli("train", "--resume", run_id, "--lr", "0.5", home=home)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "only --epochs and --time-budget" in bad.stderr
    r = cli("train", "--resume", run_id, "--epochs", "2", home=home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"done: run {run_id}")
    assert "epoch 2.00" in r.stderr and "epoch 1.00" not in r.stderr   # it went on from epoch 1
    config = json.loads((home / "runs" / run_id / "config.json").read_text())
    assert (config["train"]["epochs"], config["train"]["seq_len"]) == (2, 40)


def test_carry_state_switch_round_trips_through_the_job_runner():
    from textgen.cli import build_parser
    from textgen.config import ModelConfig, TrainConfig
    from textgen.errors import ConfigError
    from textgen.jobs import config_args

    parse = build_parser().parse_args
    on = parse(["train", "x.txt", *config_args(ModelConfig(cell="gru"), TrainConfig(seq_len=40, carry_state=True))])
    assert on.carry_state is True and on.seq_len == 40
    assert parse(["train", "x.txt", *config_args(ModelConfig(), TrainConfig(gru_kernel="keras"))]).gru_kernel == "keras"
    off = parse(["train", "x.txt", *config_args(ModelConfig(cell="gru"), TrainConfig())])
    assert off.gru_kernel == "auto" and off.weight_drop == 0.0
    assert parse(["train", "x.txt", *config_args(ModelConfig(cell="gru", weight_drop=0.25), TrainConfig())]).weight_drop == 0.25
    assert off.carry_state is None                                   # not given: the default (or a resumed run's own)
    with pytest.raises(ConfigError, match="carry_state must be true or false"):
        TrainConfig(carry_state="yes").validate()


def _configs(*argv):
    from textgen.cli import build_parser, configs

    return configs(build_parser().parse_args(["train", "x.txt", *argv]))


def test_a_preset_gives_its_exact_configs():
    from textgen.presets import PRESETS

    for name in ("quick", "short", "long"):
        model, cfg, _ = _configs("--preset", name)
        preset = PRESETS[name.capitalize()]
        assert (model, cfg) == (preset.model, preset.train)


def test_flags_override_a_presets_values():
    from dataclasses import replace

    from textgen.presets import PRESETS

    model, cfg, given = _configs("--preset", "long", "--cell", "lstm", "--weight-drop", "0", "--units", "128",
                                 "--time-budget", "90", "--carry-state")
    long = PRESETS["Long"]
    assert model == replace(long.model, cell="lstm", weight_drop=0.0, units=128)
    assert cfg == replace(long.train, time_budget=90.0, carry_state=True)
    assert given == {"time_budget": 90.0, "carry_state": True}
    # without a preset, the configs' own defaults
    from textgen.config import ModelConfig, TrainConfig

    assert _configs("--units", "32")[:2] == (ModelConfig(units=32), TrainConfig())


def test_preset_errors_are_one_line(tmp_path):
    r = cli("train", tmp_path / "x.txt", "--preset", "huge", home=tmp_path)
    assert r.returncode == 2
    assert r.stderr == ("textgen: argument --preset: invalid choice: 'huge' (choose from 'quick', 'short', 'long') "
                        "(see --help)\n")
    r = cli("train", "--resume", "20990101-000000-abcdef", "--preset", "quick", home=tmp_path)
    assert r.returncode == 1
    assert r.stderr == "textgen: --resume keeps the run's model and settings; --preset cannot change them.\n"


def test_help_lists_the_presets_with_their_budgets(tmp_path):
    r = cli("train", "--help", home=tmp_path)
    assert r.returncode == 0
    listed = r.stdout.split("presets (--preset NAME):\n")[1].splitlines()
    assert listed == ["  quick  1-minute budget: GRU 1x256, characters",
                      "  short  5-minute budget: GRU 1x512, characters",
                      "  long   20-minute budget: GRU 1x768, word pieces"]
    assert "--units UNITS" in r.stdout and "1 to 4,096 (default 256)" in " ".join(r.stdout.split())


def test_a_preset_is_fitted_to_a_chinese_text_as_the_train_page_fits_it(capsys):
    from tests.chinese import poems
    from textgen import load_corpus, sizing
    from textgen.cli import build_parser, configs
    from textgen.presets import PRESETS

    corpus = load_corpus(poems())
    for flag, name, said in (("quick", "Quick", "batch size 16"), ("long", "Long", "level char")):
        want = sizing.adapt(PRESETS[name], sizing.stats_counts(corpus.stats), cjk=True).train
        _, cfg, _ = configs(build_parser().parse_args(["train", "x.txt", "--preset", flag]), corpus)
        assert cfg == want and cfg != PRESETS[name].train
        assert capsys.readouterr().out == f"{name} fitted to this text: {said}.\n"
    # A flag given still overrides the fitted value.
    _, cfg, _ = configs(build_parser().parse_args(["train", "x.txt", "--preset", "quick", "--batch-size", "48"]), corpus)
    assert cfg.batch_size == 48


def test_a_preset_on_a_long_english_text_is_left_as_it_is(capsys):
    from textgen import load_corpus
    from textgen.cli import build_parser, configs
    from textgen.presets import PRESETS

    text = " ".join(f"word{i % 500} and the sea went on." for i in range(40_000))   # about 1 MB of plain words
    _, cfg, _ = configs(build_parser().parse_args(["train", "x.txt", "--preset", "quick"]), load_corpus(text))
    assert cfg == PRESETS["Quick"].train and capsys.readouterr().out == ""
