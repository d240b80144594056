"""Run labels the app and engine write themselves (the clipping pair's two runs, one run per cell, a vanishing
measurement's and the memory experiment's jobs), shown in the reader's language.

The engine stores them in English, as any label is stored as written. A page shows a run's label through
label(): one of these templates is refilled in the reader's language; a writer's own label stays as typed.
The templates mirror textgen/clipping.py's, vanishing.py's and experiments.py's; tests/test_run_labels.py
checks them against a label it makes.
"""
from __future__ import annotations

import functools
import re

from pages.i18n import ERROR_CONTEXT, PLACEHOLDER, current, translations


def pgettext(context: str, message: str) -> str:
    """Marks a template for the catalogue (Babel's pgettext keyword); label() translates it where shown."""
    return message


TEMPLATES = (
    pgettext("engine", "Clipping off: SimpleRNN, {optimizer} at lr {lr} on {source}"),
    pgettext("engine", "Clipping on: SimpleRNN, {optimizer} at lr {lr} on {source}"),
    pgettext("engine", "Clipping off: SimpleRNN, {optimizer} at lr {lr}"),
    pgettext("engine", "Clipping on: SimpleRNN, {optimizer} at lr {lr}"),
    # Jobs that are not text models (textgen/vanishing.py, textgen/experiments.py): the Workshop's queue and the
    # sidebar show them. Before EACH_CELL, which would also match "Vanishing curve of x · GRU (58 units)".
    pgettext("engine", "Vanishing curve of {label}"),
    pgettext("engine", "Why gates? {cell}"),
    pgettext("engine", "{label} · {cell} ({units} units)"),   # the Runs page's "train with each cell"
)
VANISHING, WHY_GATES, EACH_CELL = TEMPLATES[-3:]


@functools.cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    out = []
    for t in TEMPLATES:
        parts = PLACEHOLDER.split(t)   # literal, name, literal, ...
        out.append((re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                                       for i, p in enumerate(parts)), re.DOTALL), t))
    return out


def label(text: str | None) -> str:
    if not text or current() == "en":
        return text or ""
    for pattern, template in _patterns():
        if m := pattern.fullmatch(text):
            parts = m.groupdict()
            if "label" in parts:   # a measurement of an engine-made run ("Vanishing curve of Clipping on: …")
                parts["label"] = label(parts["label"])
            return translations(current()).pgettext(ERROR_CONTEXT, template).format(**parts)
    return text
