"""Cold start: `python -m textgen generate demo --length 200` in a fresh process, and, in a warm
process, the time from load_run + Generator construction to the first streamed character.

Baselines measured in the same interleaved loop split the cold figure: a bare interpreter
(`python -c pass`) and `python -c "import textgen"`.
"""
from __future__ import annotations

import subprocess
import tempfile
import time

from .common import PYTHON, ROOT, Row, Target, env_for_child, fmt_spread, fmt_time, loadavg, summary

COMMANDS = {
    "cli_generate": [PYTHON, "-m", "textgen", "generate", "demo", "--length", "200", "--seed", "1"],
    "python_bare": [PYTHON, "-c", "pass"],
    "import_textgen": [PYTHON, "-c", "import textgen"],
}


def _time_cmd(cmd: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return dt, proc.stdout


def first_char(prompt: str = "The ") -> dict:
    """Seconds from load_run('demo') to the first character of Generator.stream, split in parts."""
    from textgen import Generator
    from textgen.artifacts import load_run

    t0 = time.perf_counter()
    run = load_run("demo")
    gen = Generator(run)                    # reads weights.npz, checks shapes, builds the stepper
    t1 = time.perf_counter()
    piece = next(iter(gen.stream(prompt, length=200, seed=1)))
    t2 = time.perf_counter()
    assert piece
    return {"total": t2 - t0, "load_and_construct": t1 - t0, "prompt_and_first_step": t2 - t1}


def run(quick: bool = False) -> tuple[dict, list[Row]]:
    reps = 2 if quick else 7
    warm_reps = 5 if quick else 30
    results: dict = {"loadavg_start": loadavg(), "reps": reps}
    with tempfile.TemporaryDirectory(prefix="inkwell-bench-cold-") as home:
        env = env_for_child(home)
        for cmd in COMMANDS.values():          # warm the page cache and .pyc files once
            _time_cmd(cmd, env)
        times: dict[str, list[float]] = {k: [] for k in COMMANDS}
        out_len = 0
        for _ in range(reps):
            for key, cmd in COMMANDS.items():
                dt, out = _time_cmd(cmd, env)
                times[key].append(dt)
                if key == "cli_generate":
                    out_len = len(out)
    s = {k: summary(v) for k, v in times.items()}
    results["subprocess_seconds"] = s
    results["cli_stdout_chars"] = out_len
    results["commands"] = {k: " ".join(c[1:]) for k, c in COMMANDS.items()}

    first_char()                                                                     # warm-up
    parts = [first_char() for _ in range(warm_reps)]
    fc = {k: summary([p[k] for p in parts]) for k in parts[0]}
    results["warm_first_char_seconds"] = fc

    cold = s["cli_generate"]["median"]
    t_cold = Target("cold CLI generate 200 chars", cold, 1.5, "max", "s")
    t_warm = Target("warm load + Generator + first char", fc["total"]["median"], 0.050, "max", "s")
    results["targets"] = [t_cold.as_dict(), t_warm.as_dict()]
    results["loadavg_end"] = loadavg()
    bare, imp = s["python_bare"]["median"], s["import_textgen"]["median"]
    rows = [
        Row("cold start", "`python -m textgen generate demo --length 200` (fresh process)", fmt_time(cold),
            fmt_spread(s["cli_generate"]), f"{cold / 1.5:.2f}x of the limit", "< 1.5 s", t_cold.verdict),
        Row("cold start", "… of which bare interpreter (`python -c pass`)", fmt_time(bare),
            fmt_spread(s["python_bare"]), f"{100 * bare / cold:.0f}% of cold", "", ""),
        Row("cold start", "… of which up to `import textgen`", fmt_time(imp), fmt_spread(s["import_textgen"]),
            f"{100 * imp / cold:.0f}% of cold", "", ""),
        Row("cold start", "warm process: load_run + Generator + first char", fmt_time(fc["total"]["median"]),
            fmt_spread(fc["total"]),
            f"load+construct {fmt_time(fc['load_and_construct']['median'])}, "
            f"prompt+first step {fmt_time(fc['prompt_and_first_step']['median'])}", "< 50 ms", t_warm.verdict),
    ]
    return results, rows
