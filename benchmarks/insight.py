"""The Write page's insight on a 2,000-character draft: scoring it (surprise), the odds chart, branching,
and what keeping the end-of-draft state saves a Continue.

Before and after side by side, timed in turn within one run (so all see the same load): scoring with the
code paths of benchmarks/insight_before.py (9755922: a GRU step with fresh temporaries, a float64 softmax
over all logits at once; d0033e7: fixed buffers, sigmoid via tanh) against now, fresh and after a Continue
(incremental); and the odds chart built through Altair against the plain Vega-Lite spec of pages/odds.py,
each as the whole Streamlit call.

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

from benchmarks import insight_before as earlier  # noqa: E402
from benchmarks.common import Row, Target, cpu_facts, fmt_spread, fmt_time, loadavg, markdown_table, summary, versions  # noqa: E402

DRAFT_CHARS = 2000
BRANCH_AT = 100           # a token well inside the continuation
CONTINUATION = 200        # tokens the branched continuation has in all
TARGETS = {"score": 0.100, "branch": 0.020}
CONTINUED = 200           # characters a Continue adds to the draft before it is scored again


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


def _in_turn(fns: dict, reps: int) -> dict:
    """_timed's summaries for several functions run in turn, rep by rep, so each sees the same load."""
    for fn in fns.values():
        fn()
    wall: dict = {k: [] for k in fns}
    cpu: dict = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    return {k: {**summary(wall[k]), "cpu": summary(cpu[k])} for k in fns}


def scoring(gen, draft: str, reps: int) -> dict:
    """Scoring the draft with each earlier code path and now, in turn; and after a Continue of CONTINUED
    characters."""
    from textgen import insight, scoring as kept

    segments = [{"author": "writer", "text": draft[:1500]}, {"author": "model", "text": draft[1500:]}]
    shorter = [{"author": "writer", "text": draft[:1500]},
               {"author": "model", "text": draft[1500:len(draft) - CONTINUED]}]
    now = kept.token_bits

    def before(bits):
        def score():
            kept.token_bits = bits
            try:
                return insight.surprise(gen, segments, reuse=False)
            finally:
                kept.token_bits = now
        return score

    def continued():
        kept.forget(gen.stepper)
        insight.surprise(gen, shorter)            # scored before the Continue (its time is not counted)
        t0, c0 = time.perf_counter(), time.process_time()
        insight.surprise(gen, segments)
        return time.perf_counter() - t0, time.process_time() - c0

    fresh = insight.surprise(gen, segments, reuse=False)
    old = before(earlier.bits_d0033e7)()
    worst = max(abs(a[1] - b[1]) for a, b in zip(fresh.pieces, old.pieces) if a[1] is not None)
    st = gen.stepper
    rec_w = st._gru_weights(0, st.layers[0][1], st.layers[0][3])
    steps = len(gen.vocab.encode(draft)[0])                   # all scored: a 2,000-character draft fits the window
    h, rec = np.ones(rec_w.shape[0], np.float32), np.empty(rec_w.shape[1], np.float32)

    def floor():
        """The recurrent products alone, one per token, as the GRU block makes them: what no rearranging of
        the rest can remove."""
        for _ in range(steps):
            np.dot(h, rec_w, rec)

    out = _in_turn({"score_before": before(earlier.bits_9755922), "score_d0033e7": before(earlier.bits_d0033e7),
                    "score": lambda: insight.surprise(gen, segments, reuse=False), "recurrent_products": floor}, reps)
    out["recurrent_weights_mb"] = rec_w.nbytes / 1e6
    inc = [continued() for _ in range(reps)]
    out["score_continued"] = {**summary([w for w, _ in inc]), "cpu": summary([c for _, c in inc])}
    out["bits_max_difference"] = worst
    kept.forget(gen.stepper)
    return out


def odds_chart(reps: int) -> dict:
    """The Write page's odds chart, the whole Streamlit call (spec, data, the element's message), before
    (Altair, pages/charts.odds_chart) and after (pages/odds.spec): once fresh, as a slider move gives new
    odds, and once with the same odds again (a rerun)."""
    import streamlit as st
    import streamlit.logger
    from pages import charts, odds as plain
    from textgen import insight
    from textgen.generate import Generator, Settings

    streamlit.logger.set_log_level("error")               # the bare-mode warning on every call
    gen = Generator("demo")
    odds = insight.next_odds(gen, gen.prime("The lamp went "), Settings(temperature=0.8, top_k=5))

    def fresh():
        plain._dataset.cache_clear()
        st.vega_lite_chart(plain.spec(odds), width="stretch")

    return _in_turn({"altair": lambda: st.altair_chart(charts.odds_chart(odds)), "spec": fresh,
                     "spec_same_odds": lambda: st.vega_lite_chart(plain.spec(odds), width="stretch")}, reps)


def measure(gen, draft: str, reps: int) -> dict:
    from textgen import insight
    from textgen.generate import Settings, _one_blas_thread

    s = Settings(length=CONTINUATION, temperature=0.8, top_k=40)
    out = {"draft_chars": len(draft), "draft_tokens": int(len(gen.vocab.encode(draft)[0]))}
    with _one_blas_thread():   # as generation runs: one BLAS thread
        out.update(scoring(gen, draft, reps))
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
    chart = results["odds_chart"] = odds_chart(reps * 4)
    for what, key, ratio in (("odds chart: Altair (before)", "altair", ""),
                             ("odds chart: plain Vega-Lite spec (now), new odds", "spec",
                              f"{chart['altair']['cpu']['median'] / chart['spec']['cpu']['median']:.0f}x less CPU"),
                             ("odds chart: plain Vega-Lite spec (now), same odds", "spec_same_odds", "")):
        c = chart[key]
        rows.append(Row("insight", what, f"{fmt_time(c['cpu']['median'])} CPU, {fmt_time(c['median'])} wall",
                        fmt_spread(c), ratio))
    for name, gen in _models():
        m = measure(gen, draft, reps)
        results["models"][name] = m
        # Judged on CPU time: what the page costs a free core (the wall time is in the table beside it).
        score = Target(f"{name}: score (CPU)", m["score"]["cpu"]["median"], TARGETS["score"], "max", "s")
        branch = Target(f"{name}: branch (CPU)", m["branch"]["cpu"]["median"], TARGETS["branch"], "max", "s")
        results["targets"] += [score.as_dict(), branch.as_dict()]
        saving = m["continue_first_piece_fresh"]["cpu"]["median"] - m["continue_first_piece_kept"]["cpu"]["median"]
        lines = [
            ("score the draft, before (9755922)", m["score_before"], "", "", ""),
            ("score the draft, before (d0033e7)", m["score_d0033e7"], "", "", ""),
            ("score the draft (surprise per token), now", m["score"],
             f"{m['score_d0033e7']['cpu']['median'] / m['score']['cpu']['median']:.2f}x less CPU than d0033e7, "
             f"{m['score_before']['cpu']['median'] / m['score']['cpu']['median']:.2f}x than 9755922; "
             f"bits agree with d0033e7 to {m['bits_max_difference']:.1e}", "< 100 ms", score.verdict),
            (f"of which the recurrent products alone ({m['draft_tokens']} reads of "
             f"{m['recurrent_weights_mb']:.1f} MB)", m["recurrent_products"], "", "", ""),
            (f"score again after a Continue of {CONTINUED} characters", m["score_continued"],
             f"{m['score']['cpu']['median'] / m['score_continued']['cpu']['median']:.1f}x less CPU than fresh", "",
             ""),
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
