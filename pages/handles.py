"""The engine handles every session shares, cached by Streamlit: the workspace's Registry, and what is read
from a run's directory (its config's numbers, the vanishing curve, its units' activations). Pages call these
as `ui.registry()` and so on. Nothing here imports TensorFlow.
"""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

import textgen
from pages.i18n import _
from textgen import artifacts


@st.cache_resource(show_spinner=False)
def _registry(home: str) -> textgen.Registry:
    return textgen.Registry(home or None)


def registry() -> textgen.Registry:
    """One Registry per workspace folder (tests switch INKWELL_HOME between apps in one process)."""
    return _registry(os.environ.get("INKWELL_HOME", ""))


def demo_available() -> bool:
    demo = artifacts.DEMO_DIR  # looked up per call, so tests can point it elsewhere
    return (demo / "weights.npz").is_file() and (demo / "config.json").is_file()


def has_weights(run: dict) -> bool:
    """Whether a registry row's run directory holds trained weights (the run directory contract's test)."""
    try:
        return artifacts.has_weights(registry().run_dir(run["id"]))
    except textgen.InkwellError:
        return False


def time_budget(run_id: str) -> float:
    """The run's time budget in seconds (0 = none), from its config.json; 0 when it cannot be read."""
    try:
        return float(artifacts.read_config(registry().run_dir(run_id))[1].time_budget)
    except (textgen.InkwellError, OSError):
        return 0.0


def clipnorm(run_id: str) -> float:
    """The run's clipping threshold from its config.json (0: off, or unreadable)."""
    try:
        return float(artifacts.read_config(registry().run_dir(run_id))[1].clipnorm or 0.0)
    except (textgen.InkwellError, OSError):
        return 0.0


@st.cache_data(show_spinner=False, max_entries=32)
def _vanishing(run_dir: str, weights_mtime: float) -> list[float]:
    from textgen import gradients

    return gradients.run_curve(artifacts.open_run_dir(Path(run_dir))).norms.tolist()


def vanishing_curve(run_id: str) -> list[float]:
    """A finished run's mean |dL/dh_{T-k}|, k = 0..100, from its NumPy weights; cached until the weights change."""
    run_dir = registry().run_dir(run_id)
    with st.spinner(_("Measuring how far back the gradient reaches…")):
        return _vanishing(str(run_dir), (run_dir / "weights.npz").stat().st_mtime)


@st.cache_data(show_spinner=False, max_entries=8)
def _unit_activations(run_dir: str, weights_mtime: float) -> tuple[str, list]:
    from textgen import neurons
    from textgen.stepper import Stepper

    run = artifacts.open_run_dir(Path(run_dir))
    text = neurons.passage(run)
    ids = run.vocab.encode(text)[0] if text else []
    return text, [a.tolist() for a in neurons.activations(Stepper(run.model, run.weights), ids)] if text else []


def unit_activations(run_id: str) -> tuple[str, list]:
    """(a held-out passage, per layer its (chars, units) activations) of a char-level run; cached per weights."""
    run_dir = registry().run_dir(run_id)
    with st.spinner(_("Reading the run's units…")):
        return _unit_activations(str(run_dir), (run_dir / "weights.npz").stat().st_mtime)

