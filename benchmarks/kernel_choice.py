"""Which GRU kernel should "auto" take on this CPU? Inkwell's float32 kernel against Keras' GRU layer,
at the Quick and Short presets' shapes, timed in turn (ABAB) in one run on one text.

    python -m benchmarks.kernel_choice [--seconds 15] [--rounds 2] [--out FILE]

Each round records the kernel its training built (train()'s start event), not the one asked for.
Throughput is Inkwell's own progress measure (characters/second over >= 0.5 s windows of batches, the
first batch's tracing dropped), as in benchmarks/training.py. "auto" takes the bfloat16 kernel only on
CPUs with AMX; this benchmark decides what it should take elsewhere.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import cpu_facts, loadavg
from .training import corpus_text, import_tf_quietly, time_inkwell

SHAPES = {"Quick": (256, 64, 64), "Short": (512, 64, 100)}   # units, embedding, seq_len (batch 64)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.kernel_choice")
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--tiny", action="store_true", help="seconds-long shapes, for the tests")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    import_tf_quietly()
    from textgen.config import ModelConfig
    from textgen.kernels import cpu_has_bf16_matmul
    from textgen.vocab import Vocab

    text = corpus_text(20_000 if a.tiny else 300_000)
    vocab = len(Vocab.build(text, "char"))
    shapes = {"tiny": (16, 8, 20)} if a.tiny else SHAPES
    out = {"loadavg_start": loadavg(), "cpu": cpu_facts(), "amx_bf16": cpu_has_bf16_matmul(),
           "seconds": a.seconds, "rounds": a.rounds, "shapes": {}}
    for name, (units, emb, seq) in shapes.items():
        cfg = ModelConfig(vocab_size=vocab, cell="gru", layers=1, units=units, embedding=emb, dropout=0.0)
        runs = {"float32": [], "keras": []}
        used = {"float32": [], "keras": []}   # per round, the kernel the run's start event says it built
        for _ in range(a.rounds):
            for kernel in ("float32", "keras"):
                r = time_inkwell(text, cfg, seq, 64 if not a.tiny else 8, a.seconds, kernel)
                runs[kernel].append(r["chars_per_sec"]["median"] if r["chars_per_sec"] else None)
                used[kernel].append(r["gru_kernel"])
        out["shapes"][name] = {"units": units, "seq_len": seq, "chars_per_sec": runs, "kernel_used": used}
    out["loadavg_end"] = loadavg()
    print("| shape | float32 kernel (chars/s, each round) | Keras GRU | float32 / Keras |")
    print("|---|---|---|---|")
    for name, s in out["shapes"].items():
        f, k = s["chars_per_sec"]["float32"], s["chars_per_sec"]["keras"]
        ok = [x for x in f if x] and [x for x in k if x]
        ratio = (sum(x for x in f if x) / len([x for x in f if x])) / (sum(x for x in k if x) / len([x for x in k if x])) \
            if ok else float("nan")
        s["ratio"] = ratio
        fmt = lambda xs: ", ".join(f"{x:,.0f}" if x else "-" for x in xs)  # noqa: E731
        print(f"| {name} GRU 1x{s['units']}, seq {s['seq_len']} | {fmt(f)} | {fmt(k)} | {ratio:.2f}x |")
    for name, s in out["shapes"].items():   # a round that trained another kernel than asked does not compare them
        for kernel, got in s["kernel_used"].items():
            if any(g != kernel for g in got):
                print(f"\n{name}: asked for {kernel}, the rounds trained {', '.join(map(str, got))}")
    print(f"\nload {out['loadavg_start']} -> {out['loadavg_end']}; AMX bfloat16: {out['amx_bf16']}")
    text_json = json.dumps(out, indent=2)
    if a.out:
        a.out.write_text(text_json + "\n")
    print(text_json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
