"""The Write page's insight on a 2,000-character draft: scoring it (surprise), the odds chart, branching,
and what keeping the end-of-draft state saves a Continue.

Two models: the demo (GRU 1x256, characters) and a GRU 1x768 on word pieces (the Long preset's shape,
random weights: speed does not depend on training). `python -m benchmarks.insight [--quick]` prints a
table and writes benchmarks/results/insight-<date>.json; `run()` is the harness's section interface.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import Row, Target, cpu_facts, fmt_spread, fmt_time, loadavg, markdown_table, summary, versions  # noqa: E402

DRAFT_CHARS = 2000
BRANCH_AT = 100           # a token well inside the continuation
CONTINUATION = 200        # tokens the branched continuation has in all
TARGETS = {"score": 0.100, "branch": 0.020}


def _models():
    from textgen import ModelConfig, TrainConfig
    from textgen.artifacts import Run
    from textgen.generate import Generator
    from textgen.vocab import Vocab

    yield "demo (GRU 1×256, characters)", Generator("demo")
    sample = (ROOT / "assets" / "sample.txt").read_text("utf-8")
    vocab = Vocab.build(sample, "subword", 1024)
    cfg = ModelConfig(vocab_size=len(vocab), cell="gru", layers=1, units=768, embedding=256).validate()
    rng = np.random.default_rng(0)
    v, e, u = cfg.vocab_size, cfg.embedding, cfg.units
    shapes = {"embedding": (v, e), "logits/kernel": (u, v), "logits/bias": (v,), "rnn_0/kernel": (e, 3 * u),
              "rnn_0/recurrent": (u, 3 * u), "rnn_0/bias": (2, 3 * u)}
    weights = {k: rng.normal(0, 0.05, s).astype(np.float32) for k, s in shapes.items()}
    yield "GRU 1×768, word pieces (random weights)", Generator(Run("bench", ROOT, cfg, TrainConfig(), {}, vocab, weights))


def _timed(fn, reps: int) -> dict:
    """Wall-clock summary, with the process's CPU time beside it ("cpu"): on a shared, overloaded machine
    the wall time mostly measures the wait for a core, the CPU time what the work itself costs."""
    fn()                                                    # warm: first-call allocations, lazy tables
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {**summary(wall), "cpu": summary(cpu)}


def measure(gen, draft: str, reps: int) -> dict:
    from textgen import insight
    from textgen.generate import Settings, _one_blas_thread

    segments = [{"author": "writer", "text": draft[:1500]}, {"author": "model", "text": draft[1500:]}]
    s = Settings(length=CONTINUATION, temperature=0.8, top_k=40)
    out = {"draft_chars": len(draft), "draft_tokens": int(len(gen.vocab.encode(draft)[0]))}
    with _one_blas_thread():   # as generation runs: one BLAS thread
        out["score"] = _timed(lambda: insight.surprise(gen, segments), reps)
        out["prime_fresh"] = _timed(lambda: gen.prime(draft), reps)
        primed = gen.prime(draft)
        out["prime_kept"] = _timed(lambda: gen.prime(draft, (primed,)), reps)
        out["odds"] = _timed(lambda: insight.next_odds(gen, primed, s), reps)
        record = []
        gen.generate(draft, CONTINUATION, seed=1, primed=primed, record=record)
        cont = record[0]
        at = min(BRANCH_AT, len(cont.tokens) - 1)
        token = next(o.token for o in insight.odds_at(gen, cont, at, s) if o.token != cont.tokens[at])
        out["branch_alternatives"] = _timed(lambda: insight.odds_at(gen, cont, at, s), reps)
        # What the writer waits for: the alternatives, then the first token of the new continuation.
        out["branch"] = _timed(lambda: (insight.odds_at(gen, cont, at, s), gen.resume(cont, at, token, at + 1, 2)),
                               reps)
        out["branch_full"] = _timed(lambda: gen.resume(cont, at, token, CONTINUATION, 2), reps)
        # Without kept states a branch reads the draft and the piece up to `at` again, then writes on.
        prefix = draft + "".join(cont.pieces[:at])
        out["branch_reread"] = _timed(lambda: gen.generate(prefix, 1, seed=2), reps)
        out["continue_first_piece_fresh"] = _timed(lambda: next(iter(gen.stream(draft, 10, seed=3))), reps)
        out["continue_first_piece_kept"] = _timed(
            lambda: next(iter(gen.stream(draft, 10, seed=3, primed=primed))), reps)
    return out


def run(quick: bool = False) -> tuple[dict, list[Row]]:
    reps = 2 if quick else 15
    text = (ROOT / "assets" / "sample.txt").read_text("utf-8")
    draft = (text * (1 + DRAFT_CHARS // len(text)))[:DRAFT_CHARS]
    results: dict = {"loadavg_start": loadavg(), "reps": reps, "models": {}, "targets": []}
    rows: list[Row] = []
    for name, gen in _models():
        m = measure(gen, draft, reps)
        results["models"][name] = m
        # Judged on CPU time: what the page costs a free core (the wall time is in the table beside it).
        score = Target(f"{name}: score (CPU)", m["score"]["cpu"]["median"], TARGETS["score"], "max", "s")
        branch = Target(f"{name}: branch (CPU)", m["branch"]["cpu"]["median"], TARGETS["branch"], "max", "s")
        results["targets"] += [score.as_dict(), branch.as_dict()]
        saving = m["continue_first_piece_fresh"]["cpu"]["median"] - m["continue_first_piece_kept"]["cpu"]["median"]
        lines = [
            ("score the draft (surprise per token)", m["score"],
             f"{m['score']['median'] / m['prime_fresh']['median']:.2f}x a fresh read (wall)", "< 100 ms", score.verdict),
            ("branch: alternatives + first new token", m["branch"],
             f"{m['branch_reread']['cpu']['median'] / m['branch']['cpu']['median']:.0f}x less CPU than re-reading",
             "< 20 ms",
             branch.verdict),
            (f"branch: alternatives at token {BRANCH_AT}", m["branch_alternatives"], "", "", ""),
            (f"branch and write to {CONTINUATION} tokens", m["branch_full"], "", "", ""),
            ("odds chart (one step from the kept state)", m["odds"], "", "", ""),
            ("read the draft (prime, fresh)", m["prime_fresh"], "", "", ""),
            ("read the draft (kept state reused)", m["prime_kept"], "", "", ""),
            ("Continue: first piece, draft read again", m["continue_first_piece_fresh"], "", "", ""),
            ("Continue: first piece, kept state", m["continue_first_piece_kept"], f"saves {fmt_time(saving)} CPU",
             "", ""),
        ]
        rows += [Row("insight", f"{name}, {m['draft_tokens']} tokens: {what}",
                     f"{fmt_time(s['cpu']['median'])} CPU, {fmt_time(s['median'])} wall", fmt_spread(s), ratio,
                     target, verdict) for what, s, ratio, target, verdict in lines]
    results["loadavg_end"] = loadavg()
    return results, rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.insight", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="few repetitions (for the tests)")
    ap.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/insight-<YYYY-MM-DD>.json)")
    args = ap.parse_args(argv)
    out = args.out or ROOT / "benchmarks" / "results" / f"insight-{dt.date.today().isoformat()}.json"
    cpu = cpu_facts()
    results, rows = run(args.quick)
    header = (f"Inkwell insight benchmark, {dt.datetime.now().isoformat(timespec='seconds')}: {cpu['model']}, "
              f"{cpu['cores']} logical CPUs; load average {results['loadavg_start']} at start, "
              f"{results['loadavg_end']} at end. Medians of CPU and wall time; spread is the wall time's min–max; "
              "targets are judged on CPU time (the wall time on a loaded machine is mostly the wait for a core).")
    table = markdown_table(rows)
    print(header + "\n\n" + table)
    report = {"date": dt.datetime.now().isoformat(timespec="seconds"), "quick": args.quick,
              "machine": {"cpu": cpu, "versions": versions()}, "insight": results,
              "table_markdown": header + "\n\n" + table}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=float) + "\n", "utf-8")
    os.replace(tmp, out)
    print(f"\n[benchmarks] wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
