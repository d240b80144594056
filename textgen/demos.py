"""The shipped demo models, one per interface language, and which one a writer is offered.

English is assets/demo (trained on assets/sample.txt), Chinese assets/demo_zh (on assets/sample_zh.txt);
assets/make_demo.py rebuilds both. A language without a demo of its own gets the English one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class Demo:
    id: str          # the run id pages and the generator use for it
    dir: Path        # the run directory: config.json, vocab.json, weights.npz
    sample: Path     # the text it learned from (the originality measure reads it)
    label: str       # its name in model pickers (a plain constant the interface translates)
    language: str    # the interface language it is offered for


DEMOS = {
    "en": Demo("demo", ASSETS / "demo", ASSETS / "sample.txt", "Demo model (lighthouse town)", "en"),
    "zh": Demo("demo-zh", ASSETS / "demo_zh", ASSETS / "sample_zh.txt", "Chinese demo model (Gull Point)", "zh"),
}
DEFAULT_LANGUAGE = "en"


def demo_for(language: str | None) -> Demo:
    """The demo for an interface language or locale ("zh", "zh-CN", "zh_Hans", "en-GB"); English otherwise."""
    key = (language or "").replace("_", "-").split("-", 1)[0].lower()
    return DEMOS.get(key, DEMOS[DEFAULT_LANGUAGE])


def by_id(run_id: str) -> Demo | None:
    """The demo with this run id, or None: how a loader tells a shipped demo from a trained run."""
    return next((d for d in DEMOS.values() if d.id == run_id), None)


def available(demo: Demo) -> bool:
    return (demo.dir / "weights.npz").is_file() and (demo.dir / "config.json").is_file()
