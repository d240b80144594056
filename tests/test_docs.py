"""The README stays a newcomer's page and the installs stay pinned (issue 16's done-when, made checkable)."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme() -> str:
    return (ROOT / "README.md").read_text("utf-8")


def test_readme_is_short_and_opens_with_the_two_commands():
    text = _readme()
    assert len(text.splitlines()) < 150
    commands = re.findall(r"^\s*(make \w+)(?:\s|$)", text, flags=re.M)
    assert commands[:2] == ["make run", "make test"]


def test_readme_names_every_host_limit_the_code_reads():
    code = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "textgen").rglob("*.py")]
    names = set()
    for path in code:
        names |= set(re.findall(r"INKWELL_[A-Z_]+", path.read_text("utf-8")))
    missing = sorted(n for n in names if n not in _readme())
    assert not missing, missing


def _names(path: Path) -> set[str]:
    out = set()
    for line in path.read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            out.add(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return out


def test_every_requirement_is_pinned_in_the_constraints():
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not an exact pin"
            pinned[name.lower().replace("_", "-")] = version
    wanted = _names(ROOT / "requirements.txt") | _names(ROOT / "requirements-dev.txt")
    assert wanted <= set(pinned), sorted(wanted - set(pinned))


def test_make_installs_from_the_constraints():
    makefile = (ROOT / "Makefile").read_text("utf-8")
    lock = re.search(r"^LOCK\s*:?=\s*(\S+)", makefile, flags=re.M)
    assert lock and lock.group(1) == "constraints.txt"
    assert makefile.count("-c $(LOCK)") >= 2   # the app's install and the test tools' install
    assert "bash .ci/run" not in makefile and "make test" in (ROOT / ".ci" / "run").read_text("utf-8")
