"""The memory experiment's verdict in the reader's language: the engine's one verdict, its pieces through the
catalogue (pages/i18n_extract.py takes them from textgen/memory_verdict.py's `tr("...")` calls)."""
from __future__ import annotations

from pages.i18n import _, tidy
from textgen import memory_verdict


def explain(results: list, cfg) -> str:
    return tidy(memory_verdict.explain(results, cfg, _))
