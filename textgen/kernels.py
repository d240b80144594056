"""Which GRU implementation a training run uses: Keras' GRU or Inkwell's kernel (fastgru.py), in float32
or bfloat16. Deciding needs no TensorFlow, so the Train page's time estimate can ask too.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .config import GRU_KERNELS as KERNELS  # noqa: F401 - the names a config may ask for

MAX_UNROLL = 300   # steps x layers; beyond it Keras' GRU (the unrolled graph, and its tracing time, grow with both)
# On a CPU without AMX, Inkwell's float32 kernel read 1.20x the characters of Keras' GRU at 512 units and 1.04x
# at 256 (benchmarks/results/kernel-choice-2026-12-02-quiet.json): wide enough layers take it, narrower ones keep
# Keras' GRU, whose graph traces faster (seconds that count in a one-minute run).
FLOAT32_MIN_UNITS = 512


def cpu_has_bf16_matmul(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True where the CPU has AMX bfloat16 tiles, which make bfloat16 products 2-3x faster than float32."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    return any(line.startswith("flags") and "amx_bf16" in line.split() for line in text.splitlines())


def _gpu_here() -> bool:
    """A GPU TensorFlow can see (where Keras' GRU uses cuDNN)."""
    tf = sys.modules.get("tensorflow")   # a worker has imported it by now; nothing here imports it
    return tf is not None and bool(tf.config.list_physical_devices("GPU"))


def _fast_bf16_here() -> bool:
    """AMX bfloat16 on the CPU, reached through oneDNN, and no GPU."""
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip() == "0" or not cpu_has_bf16_matmul():
        return False
    return not _gpu_here()


def resolve(kernel: str, cell: str, seq_len: int, stateful: bool = False, jit_compile: bool = False,
            layers: int = 1, weight_drop: float = 0.0, units: int = 0) -> str:
    """Which GRU implementation a training run uses: "keras", "float32" or "bfloat16".

    "auto" takes the bfloat16 kernel where the CPU has AMX bfloat16 (and TensorFlow uses oneDNN and
    no GPU). On other CPUs it takes the float32 kernel for layers of FLOAT32_MIN_UNITS or more, and for
    a run with recurrent weight dropout (only Inkwell's kernel drops weights); Keras' GRU otherwise. Keras'
    GRU is always used for other cells, carried-state training, XLA, and windows x layers over MAX_UNROLL.
    On a GPU "auto" keeps Keras' GRU (cuDNN), and a run with weight dropout says it trains without it.
    """
    if (cell != "gru" or stateful or jit_compile or seq_len * layers > MAX_UNROLL or kernel == "keras"):
        return "keras"
    if kernel == "auto":
        if _fast_bf16_here():
            return "bfloat16"
        if _gpu_here():
            return "keras"
        return "float32" if weight_drop > 0 or units >= FLOAT32_MIN_UNITS else "keras"
    return kernel
