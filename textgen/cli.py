"""`python -m textgen {train,generate,evaluate,runs,export,import,experiment,vanishing}`.

Bad input prints one line to stderr and exits non-zero; no traceback reaches the user.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from .config import (BOOL_FLAG_FIELDS, CELL_NAMES, FLAG_FIELDS, LEVEL_UNITS, MODEL_FLAG_FIELDS, ModelConfig,
                     TrainConfig)
from .cli_measure import WORKER_NICENESS, _experiment_worker, cmd_experiment, cmd_vanishing  # noqa: F401
from .cli_measure import add_parsers as add_measure_parsers
from .errors import InkwellError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not usage + message
        self.exit(2, f"textgen: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m textgen", description="Inkwell: train recurrent text models and write with them.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model on text files", epilog=_presets_epilog(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("corpus", nargs="*", type=Path, help=".txt, .md or .docx files")
    t.add_argument("--preset", choices=list(_presets()), default=None,
                   help="start from a preset's model and training values (listed below); other flags override them")
    for cls in (ModelConfig, TrainConfig):
        for f in dataclasses.fields(cls):
            if f.metadata["flag"]:
                _add_flag(t, f)
    t.add_argument("--lowercase", action="store_true", help="lowercase the text first")
    t.add_argument("--collapse-blank-lines", action="store_true")
    t.add_argument("--strip-gutenberg", action="store_true", help="drop a Project Gutenberg header and footer")
    t.add_argument("--name", default=None, help="a label for the run")
    t.add_argument("--resume", metavar="RUN_ID", help="continue a stopped run from its last checkpoint")
    t.add_argument("--finetune", metavar="RUN_ID", help="start from a trained run's weights on new text")
    t.add_argument("--run-id", help=argparse.SUPPRESS)   # the job runner's queued run
    t.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)

    g = sub.add_parser("generate", help="continue a prompt with a trained run ('demo' is the shipped model)")
    g.add_argument("run")
    g.add_argument("--prompt", default="")
    g.add_argument("--length", type=int, default=200)
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=int, default=0)
    g.add_argument("--top-p", type=float, default=1.0)
    g.add_argument("--n", type=int, default=1, help="alternatives, sampled as one batch")
    g.add_argument("--seed", type=int, default=None)
    g.add_argument("--stop", default="length", help="length, sentence, line, or any text to stop after")
    g.add_argument("--repetition-penalty", type=float, default=1.0,
                   help="above 1, what the model wrote recently becomes less likely; 1 (default) is off")
    g.add_argument("--ban", default="", help="comma-separated words the model may not write (any case, and "
                                             "longer forms: 'sea' also bans 'seas')")

    e = sub.add_parser("evaluate", help="loss, bits per character and perplexity of a run on a text")
    e.add_argument("run")
    e.add_argument("corpus", nargs="+", type=Path)
    e.add_argument("--streams", type=int, default=0,
                   help="read the text as this many contiguous pieces with the state carried (default: windows)")

    sub.add_parser("runs", help="list runs")
    x = sub.add_parser("export", help="write a run as a portable .zip bundle")
    x.add_argument("run")
    x.add_argument("file", type=Path)
    i = sub.add_parser("import", help="add a bundle to the workspace")
    i.add_argument("file", type=Path)
    i.add_argument("--name", default=None)

    add_measure_parsers(sub)
    return p


def _presets() -> dict:
    from .presets import PRESETS

    return {name.lower(): p for name, p in PRESETS.items()}


def _presets_epilog() -> str:
    lines = ["presets (--preset NAME):"]
    for name, p in _presets().items():
        m = p.model
        lines.append(f"  {name:<6} {p.train.time_budget / 60:g}-minute budget: "
                     f"{CELL_NAMES[m.cell]} {m.layers}x{m.units}, {LEVEL_UNITS[p.train.level]}")
    return "\n".join(lines)


def _add_flag(parser: argparse.ArgumentParser, f) -> None:
    """A flag from a config field's metadata. None marks "not given": a preset's value, the config's default or a
    resumed run's own setting stays unless a flag says otherwise."""
    meta, default, flag = f.metadata, f.default, "--" + f.name.replace("_", "-")
    if isinstance(default, bool):
        parser.add_argument(flag, action="store_true", default=None, help=meta["why"])
    elif meta["choices"] is not None:
        parser.add_argument(flag, choices=meta["choices"], default=None, help=f"{meta['why']} (default {default})")
    else:
        spell = (lambda v: f"{v:,}") if isinstance(default, int) else (lambda v: f"{v:g}")
        span = f"{spell(meta['lo'])} to {spell(meta['hi'])}"
        parser.add_argument(flag, type=type(default), default=None, help=f"{meta['why']}; {span} (default {spell(default)})")


def configs(args, corpus=None) -> tuple[ModelConfig, TrainConfig, dict]:
    """The model and training configs a train command asks for, and the training values it gave itself.
    A preset's values come first (fitted to `corpus` as the Train page fits them), the flags given override them."""
    model_flags = {k: getattr(args, k) for k in MODEL_FLAG_FIELDS if getattr(args, k) is not None}
    given = {k: getattr(args, k) for k in FLAG_FIELDS + BOOL_FLAG_FIELDS if getattr(args, k) is not None}
    if args.resume or args.finetune:   # the model is the run's own: a model flag would be ignored, so say so
        mode = "--resume" if args.resume else "--finetune"
        if args.preset:
            raise InkwellError(f"{mode} keeps the run's model and settings; --preset cannot change them.")
        changed = [k for k, v in model_flags.items() if v != getattr(ModelConfig(), k)]
        if changed:
            raise InkwellError(f"{mode} keeps the run's model; --{changed[0].replace('_', '-')} cannot change it.")
        return ModelConfig(), TrainConfig(**given).validate(), given
    preset = _presets()[args.preset] if args.preset else None
    if preset is not None and corpus is not None:
        from .sizing import adapt, stats_counts

        fitted = adapt(preset, stats_counts(corpus.stats), cjk=not corpus.stats.has_words)
        if fitted.train != preset.train and not getattr(args, "quiet", False):
            changes = ", ".join(f"{k.replace('_', ' ')} {getattr(fitted.train, k)}" for k in ("level", "batch_size")
                                if getattr(fitted.train, k) != getattr(preset.train, k))
            print(f"{preset.name} fitted to this text: {changes}.")
        preset = fitted
    model = dataclasses.replace(preset.model if preset else ModelConfig(), **model_flags).validate()
    cfg = dataclasses.replace(preset.train if preset else TrainConfig(), **given).validate()
    return model, cfg, given


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"train": cmd_train, "generate": cmd_generate, "evaluate": cmd_evaluate, "runs": cmd_runs,
                "export": cmd_export, "import": cmd_import, "experiment": cmd_experiment,
                "vanishing": cmd_vanishing}[args.command](args)
    except InkwellError as e:
        print(f"textgen: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("textgen: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        print(f"textgen: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1


def _corpus(paths: list[Path], args=None):
    from .corpus import CleanOptions, load_corpus

    clean = None
    if args is not None:
        clean = CleanOptions(collapse_blank_lines=args.collapse_blank_lines,
                             strip_gutenberg=args.strip_gutenberg, lowercase=args.lowercase)
    return load_corpus(list(paths), clean=clean)


def cmd_train(args) -> int:
    if not (args.run_id or args.resume) or not args.quiet:
        return _cmd_train(args)
    # A job runner's worker: whatever stops it is recorded on its run, and the queue moves on. It runs
    # at a lower priority: training soaks up idle CPU, but writers waiting for text are served first.
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    from .jobs import pump
    from .runs import Registry
    from .train import Busy, mark_failed

    try:
        return _cmd_train(args)
    except BaseException as e:
        if not isinstance(e, Busy):   # another live worker owns the run: leave it be
            mark_failed(Registry(), args.run_id or args.resume, e)
        raise
    finally:
        pump()


def _cmd_train(args) -> int:
    from .train import train

    corpus = None
    if not args.resume:
        if not args.corpus:
            raise InkwellError("train needs at least one text file (or --resume RUN_ID).")
        corpus = _corpus(args.corpus, args)
    model, cfg, given = configs(args, corpus)
    if args.resume:
        unknown = set(given) - {"epochs", "time_budget"}
        if unknown:
            raise InkwellError(f"--resume keeps the run's settings; only --epochs and --time-budget can change "
                               f"(not --{sorted(unknown)[0].replace('_', '-')}).")
    bar = None if args.quiet else _Progress()
    result = train(corpus, model, cfg, label=args.name, run_id=args.run_id, resume=args.resume,
                   finetune=args.finetune, on_event=bar, handle_signals=True,
                   resume_overrides={k: given[k] for k in ("epochs", "time_budget") if k in given})
    if bar:
        bar.close()
    best = f", best validation {result.best_val_bpc:.3f} bits/char" if result.best_val_bpc is not None else ""
    print(f"{result.status}: run {result.run_id}{best}\n{result.run_dir}")
    if result.message:
        print(result.message, file=sys.stderr)
    return 0 if result.status in ("done", "cancelled") else 3


class _Progress:
    """A one-line progress bar on a terminal; a line per epoch otherwise."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.steps = 1

    def __call__(self, ev: dict) -> None:
        kind = ev["type"]
        if kind == "start":
            self.steps = ev["steps_per_epoch"]
            print(f"run {ev['run_id']}: {ev['params']:,} parameters, {ev['steps_per_epoch']} steps per epoch",
                  file=sys.stderr)
        elif kind == "note":
            print(ev["message"], file=sys.stderr)
        elif kind == "batch" and self.tty:
            frac = ev["step"] / max(1, ev["steps"])
            bar = "#" * int(frac * 30)
            eta = f"{ev['eta']:.0f}s" if ev.get("eta") is not None else "?"
            loss = f"{ev['loss']:.3f}" if ev.get("loss") is not None else "-"
            sys.stderr.write(f"\repoch {ev['epoch'] + 1} [{bar:<30}] {ev['step']}/{ev['steps']} loss {loss} "
                             f"{ev['chars_per_sec']:,.0f} chars/s eta {eta}   ")
            sys.stderr.flush()
        elif kind == "epoch":
            if self.tty:
                sys.stderr.write("\n")
            sample = next(iter(ev["samples"].values()), "").replace("\n", " ")[:70]
            print(f"epoch {ev['epoch']:.2f}: loss {ev['loss']:.3f}, validation {ev['val_loss']:.3f} "
                  f"({ev['val_bpc']:.3f} bits/char) | {sample}", file=sys.stderr)

    def close(self) -> None:
        pass


def cmd_generate(args) -> int:
    from .generate import Generator

    from .sampling import parse_bans

    gen = Generator(args.run)
    ban = parse_bans(args.ban)
    kw = dict(length=args.length, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
              seed=args.seed, stop=args.stop, repetition_penalty=args.repetition_penalty, ban=ban)
    gen.check(args.length, args.temperature, args.top_k, args.top_p, args.n, args.repetition_penalty, ban)
    unknown = gen.unknown(args.prompt)
    if unknown:
        print(f"textgen: note: the model never saw {''.join(unknown[:20])!r} in the prompt; it reads them as unknown",
              file=sys.stderr)
    if args.n == 1:
        sys.stdout.write(args.prompt)
        for piece in gen.stream(args.prompt, **kw):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
    else:
        for i, alt in enumerate(gen.alternatives(args.prompt, args.n, **kw), 1):
            print(f"--- alternative {i} ---\n{args.prompt}{alt.text}")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate

    if args.streams < 0:
        raise InkwellError(f"--streams must be 0 (windows) or more, not {args.streams}.")
    result = evaluate(args.run, _corpus(args.corpus).text, streams=args.streams)
    print(json.dumps(result.as_dict()))
    return 0


def cmd_runs(args) -> int:
    from .runs import Registry

    runs = Registry().list_runs()
    if not runs:
        print("no runs yet: train one with `python -m textgen train FILE.txt`")
        return 0
    rows = [("id", "label", "status", "cell", "params", "best val bpc")]
    for r in runs:
        cell = f"{r['cell'] or '?'} {r['layers'] or '?'}x{r['units'] or '?'}"
        bpc = f"{r['best_val_bpc']:.3f}" if r["best_val_bpc"] is not None else "-"
        rows.append((r["id"], r["label"][:30], r["status"], cell, f"{r['params'] or 0:,}", bpc))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def cmd_export(args) -> int:
    from .bundle import export_bundle
    from .runs import check_run_id

    path = export_bundle(check_run_id(args.run), args.file)
    print(path)
    return 0


def cmd_import(args) -> int:
    from .bundle import import_bundle

    print(import_bundle(args.file, label=args.name))
    return 0
