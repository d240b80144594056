"""`python -m benchmarks`: run the sections, print one Markdown table, write the JSON."""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import blas_threads_now, cpu_facts, loadavg, markdown_table, versions  # noqa: E402

SECTIONS = ("generation", "coldstart", "training", "memory", "insight")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (for the tests)")
    ap.add_argument("--only", choices=SECTIONS, action="append",
                    help="run only this section (repeatable); default: all")
    ap.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/<YYYY-MM-DD>.json)")
    args = ap.parse_args(argv)
    sections = args.only or list(SECTIONS)
    out = args.out or ROOT / "benchmarks" / "results" / f"{dt.date.today().isoformat()}.json"

    started = time.time()
    report: dict = {
        "date": dt.datetime.now().isoformat(timespec="seconds"), "quick": args.quick, "sections": sections,
        "machine": {"cpu": cpu_facts(), "versions": versions(), "blas_threads_default": blas_threads_now(),
                    "loadavg_start": loadavg(),
                    "note": "shared 2-core machine: other engineers and test runs load it, so timings are noisy"},
    }
    rows = []
    for name in sections:
        t0 = time.time()
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        mod = importlib.import_module(f"benchmarks.{name}")
        result, section_rows = mod.run(quick=args.quick)
        result["seconds"] = time.time() - t0
        report[name] = result
        rows += section_rows
        print(f"[benchmarks] {name} done in {result['seconds']:.0f} s (load {loadavg()})", file=sys.stderr, flush=True)
    report["machine"]["loadavg_end"] = loadavg()
    report["seconds"] = time.time() - started
    missed = [t for name in sections for t in _targets(report[name]) if not t["met"]]
    report["targets_missed"] = [t["name"] for t in missed]

    cpu = report["machine"]["cpu"]
    la0, la1 = report["machine"]["loadavg_start"], report["machine"]["loadavg_end"]
    header = (f"Inkwell benchmarks, {report['date']}{' (--quick: tiny sizes, not representative)' if args.quick else ''}: "
              f"{cpu['model']}, {cpu['cores']} logical CPUs at {cpu['mhz']} MHz ({cpu['isa']}); "
              f"load average (1/5/15 min) {la0} at start, {la1} at end: **the machine is shared, timings are noisy**. "
              f"Medians of repeated runs; spread is min–max.")
    table = markdown_table(rows)
    print(header + "\n\n" + table)
    report["table_markdown"] = header + "\n\n" + table
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=float) + "\n", "utf-8")
    os.replace(tmp, out)
    print(f"\n[benchmarks] wrote {out}", file=sys.stderr)
    return 0


def _targets(section: dict) -> list[dict]:
    found = list(section.get("targets", []))
    for key in ("models", "alternatives"):
        for sub in section.get(key, {}).values():
            if isinstance(sub, dict):
                found += sub.get("targets", [])
    return found


if __name__ == "__main__":
    sys.exit(main())
