"""Shared helpers: summaries of repeated timings, machine facts, targets, table rows, BLAS threads.

Every figure is the median of several repetitions with its min-max spread; the machine is
shared, so the load average is recorded beside the numbers rather than assumed away.
"""
from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


# -- statistics --------------------------------------------------------------------------------------
def summary(values: list[float], unit: str = "s") -> dict:
    """Median, quartiles and range of repeated measurements."""
    vals = sorted(float(v) for v in values)
    if not vals:
        raise ValueError("no measurements")
    q1, q3 = (statistics.quantiles(vals, n=4, method="inclusive")[::2] if len(vals) > 1 else (vals[0], vals[0]))
    return {"median": statistics.median(vals), "min": vals[0], "max": vals[-1], "q1": q1, "q3": q3,
            "n": len(vals), "unit": unit, "values": vals}


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# -- machine ------------------------------------------------------------------------------------------
def cpu_facts() -> dict:
    """Cores, clock and vector width from /proc/cpuinfo, and the peak FP32 rate they imply.

    Peak = cores x clock x FLOPs/cycle, with FLOPs/cycle = 2 FMA units x (32 with AVX-512, 16 with
    AVX2): an FMA on 16 (or 8) FP32 lanes counts 2 FLOPs per lane. Assumes two FMA ports per core,
    the nominal clock (no turbo, no AVX-512 down-clocking) and that every logical CPU is a full core.
    """
    cores = os.cpu_count() or 1
    model, mhz, flags = "unknown", None, set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            key = key.strip()
            if key == "model name" and model == "unknown":
                model = val.strip()
            elif key == "cpu MHz" and mhz is None:
                mhz = float(val)
            elif key == "flags" and not flags:
                flags = set(val.split())
    except OSError:
        pass
    isa = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "sse"
    per_unit = {"avx512f": 32, "avx2": 16, "sse": 8}[isa]
    flops_cycle = per_unit * 2
    peak = cores * (mhz or 0.0) * 1e6 * flops_cycle
    return {"cores": cores, "model": model, "mhz": mhz, "isa": isa, "fma": "fma" in flags,
            "flops_per_cycle_per_core": flops_cycle, "peak_gflops_fp32": peak / 1e9,
            "peak_assumption": f"{cores} cores x {mhz} MHz x {flops_cycle} FP32 FLOPs/cycle "
                               f"(2 FMA units x {per_unit}, {isa}); nominal clock, no turbo or AVX down-clock"}


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("numpy", "tensorflow", "keras", "streamlit", "playwright"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


# -- BLAS threads --------------------------------------------------------------------------------------
def _openblas():
    """NumPy's bundled OpenBLAS, to set its thread count in-process (threadpoolctl is not installed)."""
    import numpy as np

    libs = glob.glob(str(Path(np.__file__).parent.parent / "numpy.libs" / "libscipy_openblas*.so"))
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                               ("openblas_set_num_threads", "openblas_get_num_threads")):
            if hasattr(lib, setter) and hasattr(lib, getter):
                return getattr(lib, setter), getattr(lib, getter)
    return None


def blas_threads_now() -> int | None:
    lib = _openblas()
    return int(lib[1]()) if lib else None


@contextlib.contextmanager
def blas_threads(n: int | None):
    """Run the block with NumPy's BLAS limited to n threads (None: leave as is). Yields whether it applied."""
    lib = _openblas() if n else None
    if lib is None:
        yield False
        return
    setter, getter = lib
    before = int(getter())
    setter(ctypes.c_int(n))
    try:
        yield True
    finally:
        setter(ctypes.c_int(before))


# -- targets and table rows ---------------------------------------------------------------------------
@dataclass
class Row:
    section: str
    name: str
    value: str             # the median, formatted
    spread: str = ""       # min-max (or a note), formatted
    ratio: str = ""        # a comparison, formatted
    target: str = ""       # what it should be
    verdict: str = ""      # met / missed by ...


@dataclass
class Target:
    name: str
    value: float
    limit: float
    kind: str              # "max": value must be <= limit; "min": value must be >= limit
    unit: str = ""
    met: bool = field(init=False)
    miss: str = field(init=False)

    def __post_init__(self):
        if self.kind == "max":
            self.met = self.value <= self.limit
            factor = self.value / self.limit if self.limit else float("inf")
        else:
            self.met = self.value >= self.limit
            factor = self.limit / self.value if self.value else float("inf")
        self.miss = "" if self.met else f"missed: {factor:.2f}x off the target"

    @property
    def verdict(self) -> str:
        return "met" if self.met else f"**{self.miss}**"

    def as_dict(self) -> dict:
        return asdict(self)


def fmt_time(seconds: float) -> str:
    if seconds != seconds:
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_spread(s: dict, fmt=fmt_time) -> str:
    return f"{fmt(s['min'])}–{fmt(s['max'])} (n={s['n']})"


def fmt_num(x: float, unit: str = "") -> str:
    if abs(x) >= 1e5:
        text = f"{x:,.0f}"
    elif abs(x) >= 100:
        text = f"{x:,.0f}"
    else:
        text = f"{x:.3g}"
    return f"{text} {unit}".strip()


def md_table(header, rows) -> str:
    """A Markdown table: the header, its rule, a line a row. Cells are printed as they are (str of each)."""
    def line(cells) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"
    return "\n".join([line(header), "|" + "---|" * len(header), *(line(cells) for cells in rows)])


def markdown_table(rows: list[Row]) -> str:
    header = ("section", "measurement", "median", "spread (min–max)", "ratio", "target", "result")
    cells = ([r.section, r.name, r.value, r.spread, r.ratio, r.target, r.verdict] for r in rows)
    return md_table(header, ([c.replace("|", "\\|") for c in row] for row in cells))


class Stopwatch:
    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0


def env_for_child(home: str | os.PathLike) -> dict:
    """Environment for child processes: their own workspace, quiet TensorFlow, the repo importable."""
    env = dict(os.environ)
    env["INKWELL_HOME"] = str(home)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
