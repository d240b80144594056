"""Run labels the app and engine write themselves (the clipping pair's two runs, one run per cell), shown in the reader's language.

textgen.clipping stores them in English, as any label is stored as written. A page shows a run's label through
label(): one of these templates is refilled in the reader's language; a writer's own label stays as typed.
The templates mirror textgen/clipping.py's; tests/test_run_labels.py checks them against a label it makes.
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
    pgettext("engine", "{label} · {cell} ({units} units)"),   # the Runs page's "train with each cell"
)
EACH_CELL = TEMPLATES[-1]


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
            return translations(current()).pgettext(ERROR_CONTEXT, template).format(**m.groupdict())
    return text
