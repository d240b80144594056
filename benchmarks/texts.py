"""The texts the quality benchmark trains on: public-domain or freely licensed texts that Debian
packages install on the machine (`make bench-quality` installs them), so nothing is downloaded at
run time and no text is committed. Each has a kind and a size, so the presets are checked on the
texts people bring (prose, verse, dialogue; about 90 KB to 4 MB; English and Chinese), not on one.
"""
from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

FORTUNES = Path("/usr/share/games/fortunes")
ANSI = re.compile(r"\x1b\[[0-9;]*m")   # fortunes-zh colours its titles


@dataclass(frozen=True)
class Text:
    key: str
    title: str
    kind: str
    package: str
    read: Callable[[], str]


def _kjv() -> str:
    if shutil.which("bible") is None:
        raise FileNotFoundError("bible")
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"^\S+\d+:\d+ ", "", out, flags=re.M)   # drop "Ge1:1 " verse references


def _fortune_files(names: list[str]) -> str:
    parts = []
    for name in names:
        raw = (FORTUNES / name).read_bytes().decode("utf-8", errors="replace")
        parts.append(ANSI.sub("", raw))
    # The "%" lines only separate entries; a blank line does the same job in ordinary text.
    return re.sub(r"^%\n", "\n", "".join(parts), flags=re.M)


def _english_fortunes() -> str:
    skip = {"chinese", "tang300", "song100", "songs-poems", "ascii-art", "art"}
    names = sorted(p.name for p in FORTUNES.iterdir()
                   if p.is_file() and p.suffix == "" and p.name not in skip and not p.name.startswith("."))
    if not names:
        raise FileNotFoundError(FORTUNES)
    return _fortune_files(names)


def _devil() -> str:
    with gzip.open("/usr/share/dictd/devil.dict.dz", "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    start = text.find("PREFACE")   # the dictd header lines before it are the package's, not the book's
    return text[start:] if start > 0 else text


TEXTS: dict[str, Text] = {t.key: t for t in (
    Text("kjv", "King James Bible", "prose", "bible-kjv", _kjv),
    Text("fortunes", "fortune cookies (quotes, jokes, dialogue)", "dialogue", "fortunes",
         _english_fortunes),
    Text("devil", "The Devil's Dictionary (Bierce)", "prose", "dict-devil", _devil),
    Text("songs", "songs and poems (fortunes)", "verse", "fortunes", lambda: _fortune_files(["songs-poems"])),
    Text("tang300", "300 Tang poems", "verse (Chinese)", "fortunes-zh", lambda: _fortune_files(["tang300"])),
)}
PACKAGES = sorted({t.package for t in TEXTS.values()})


def read(key: str) -> str:
    """The text for `key`, or SystemExit with one line naming the package to install."""
    t = TEXTS[key]
    try:
        return t.read()
    except (FileNotFoundError, subprocess.CalledProcessError):
        raise SystemExit(f"benchmarks.quality needs Debian's {t.package} package for '{key}': "
                         "run `make bench-quality`.") from None
