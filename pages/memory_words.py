"""The memory experiment's verdict in the reader's language: the engine's one verdict, its pieces through the
catalogue (pages/i18n_extract.py takes them from textgen/memory_verdict.py's `tr("...")` calls)."""
from __future__ import annotations

from pages.i18n import _, tidy
from textgen import memory_verdict


def explain(results: list, cfg) -> str:
    return tidy(memory_verdict.explain(results, cfg, _))


def setup(cfg) -> str:
    """How this experiment's task was set up, where it differs between experiments."""
    inputs = _("fixed input vectors") if cfg.fixed_inputs else _("a learned embedding")
    if cfg.keep_bias is None:
        return _("Set up with {inputs}, the keep gates at Keras' defaults (LSTM's forget bias 1, GRU's update "
                 "bias 0).").format(inputs=inputs)
    return _("Set up with {inputs}, the keep gates starting at a bias of {bias:g}.").format(inputs=inputs,
                                                                                          bias=cfg.keep_bias)
