"""The measurement subcommands, `python -m textgen experiment` and `python -m textgen vanishing`: a user's
command and the job runner's worker for each (textgen.cli parses them with the rest and re-exports these names).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys

WORKER_NICENESS = 10   # like a training worker: writers waiting for text are served first


def add_parsers(sub) -> None:
    """The two subcommands' parsers, on textgen.cli's subparsers."""
    v = sub.add_parser("vanishing", help="measure a trained run's vanishing curve (how far back its gradient "
                                         "reaches), store it in the run for the Inside page and print it")
    v.add_argument("run")
    v.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)   # store the curve, print nothing
    v.add_argument("--job", help=argparse.SUPPRESS)                           # a worker: its queued job ...
    v.add_argument("--limit", type=float, default=None, help=argparse.SUPPRESS)   # ... and its time limit (s)
    m = sub.add_parser("experiment", help="a built-in experiment: 'memory' trains SimpleRNN, LSTM and GRU to recall "
                                          "a symbol across gaps of noise and prints their held-out accuracy")
    m.add_argument("name", choices=["memory"])
    m.add_argument("--gaps", default=None, help="comma-separated gaps, such as 5,20,100 (default: the preset's)")
    m.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated cells (rnn, lstm, gru)")
    m.add_argument("--seconds", type=float, default=None, help="training seconds per cell and gap")
    m.add_argument("--params", type=int, default=None, help="parameters per model (each cell sized to match)")
    m.add_argument("--keep-bias", default=None, help="where the gated cells' keep gates start (default 3: 95%% kept "
                                                     "per step); 'keras' for Keras' own start (forget 1, update 0)")
    m.add_argument("--learned-inputs", action="store_true",
                   help="learn the symbols' embedding, so a cell may learn to silence the noise (default: fixed)")
    m.add_argument("--experiment", help=argparse.SUPPRESS)   # a worker job: the saved experiment ...
    m.add_argument("--cell", help=argparse.SUPPRESS)         # ... the cell it trains ...
    m.add_argument("--run-id", help=argparse.SUPPRESS)       # ... and its queued run


def cmd_vanishing(args) -> int:
    from . import vanishing
    from .runs import Registry, check_run_id

    reg = Registry()
    if args.job:   # a job runner's worker: its job row records how the measurement ended
        from .jobs import pump

        try:
            vanishing.work(reg, check_run_id(args.job), check_run_id(args.run), args.limit or vanishing.TIME_LIMIT)
            return 0
        finally:
            pump()
    reg.require_run(check_run_id(args.run))
    run_dir = reg.run_dir(args.run)
    curve = vanishing.measure_run(run_dir)
    if not args.quiet:
        print(vanishing.table(curve))
        print(f"stored in {run_dir / vanishing.gradients.CURVE_FILE}", file=sys.stderr)
    return 0


def cmd_experiment(args) -> int:
    from . import experiments as ex
    from .errors import ConfigError
    from .runs import Registry

    reg = Registry()
    if args.experiment:   # a job runner's worker: one cell of a saved experiment
        return _experiment_worker(reg, args)
    try:
        gaps = tuple(int(g) for g in args.gaps.split(",")) if args.gaps else ex.MemoryConfig().gaps
        cells = tuple(c.strip() for c in args.cells.split(","))
    except ValueError:
        raise ConfigError("--gaps takes whole numbers separated by commas, such as 5,20,100") from None
    over = {k: v for k, v in (("seconds", args.seconds), ("params", args.params)) if v is not None}
    if args.keep_bias is not None:
        try:
            over["keep_bias"] = None if args.keep_bias == "keras" else float(args.keep_bias)
        except ValueError:
            raise ConfigError("--keep-bias takes a number, such as 3, or 'keras'") from None
    if args.learned_inputs:
        over["fixed_inputs"] = False
    cfg = dataclasses.replace(ex.MemoryConfig(), gaps=gaps, **over).validate()
    exp_id = ex.create(cfg, reg, cells)
    print(f"experiment {exp_id}: {len(cells)} cells x {len(gaps)} gaps, {cfg.seconds:g} s each", file=sys.stderr)
    results = []
    for cell in cells:
        results += ex.run_cell(reg, exp_id, cell, on_result=lambda r: print(
            f"  {ex.NAMES[r.cell]:<9} gap {r.gap:<5} accuracy {r.accuracy:.1%} ({r.steps} steps)", file=sys.stderr))
    print(ex.table(results, cfg))
    print(ex.explain(results, cfg))
    return 0


def _experiment_worker(reg, args) -> int:
    from . import experiments as ex
    from .jobs import pump

    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    try:
        reg.start(args.run_id, os.getpid())
        cfg, _, _ = ex.load(reg, args.experiment)
        done = ex.run_cell(reg, args.experiment, args.cell, args.run_id)
        if len(done) < len(cfg.gaps):
            reg.finish(args.run_id, "cancelled", f"Stopped by request after {len(done)} of {len(cfg.gaps)} gaps.")
        else:
            reg.finish(args.run_id, "done", f"Measured {len(done)} gaps.")
        return 0
    except BaseException as e:
        from .train import Busy, mark_failed

        if not isinstance(e, Busy):   # another live worker owns the run: leave it be
            mark_failed(reg, args.run_id, e)
        raise
    finally:
        pump()
