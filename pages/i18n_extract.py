"""Babel extraction of the engine's user-facing sentences, so textgen needs no gettext markers.

Three kinds of engine text reach the app: the errors textgen raises (`raise XError("..." or f"...")`),
extracted with the context "error" as templates whose placeholders are the f-string's expressions
("You chose {len(files)} files..."), and a few tables of labels (Widget labels and help, preset names and
blurbs, the cells' notes, the baselines' names), and the messages workers and the registry store with a run
(status lines such as "Stopped early: ..." written by finish/fail/interrupt/requeue), shown on Train and Runs
through the same template matching as errors. The page maps an error back to its template at run time
(pages/i18n.py). A fourth kind is translated, not matched back: text the engine composes from pieces it passes
through a translation hook named `_` (the memory verdict's explain(..., _)); each `_("...")` is a plain
entry, as in a page, so the call that translates a piece is the one that marks it. Used by
`catalogue.py` and tests/test_i18n.py through Babel's method map.
"""
from __future__ import annotations

import ast
import re

ERROR_CONTEXT = "engine"   # the catalogue's context for the engine's sentences (templates)
TABLES = {"CELL_NOTES", "NAMES", "LEVEL_UNITS", "KEEP_GATE"}   # module-level dicts whose string values the app shows
# call -> the positions and the keyword of its shown text
CALLS = {"Widget": (0, 2, "help"), "Preset": (0, 1, "blurb"), "Demo": (3, "label")}
# Functions whose returned (and assigned) strings are sentences the app shows: the Corpus page's advice, the
# Train page's verdict on baselines and gradient norms. Each string is a template, like an error's.
SENTENCES = {"over_limit", "advise", "text_notes", "fit_notes", "_span", "describe", "describe_norms", "unknown_note", "mismatch",
             "verdict", "_told", "legend", "corpus_advice"}
SENTENCE_CALLS = {"Advice": 2}
NAMED = {"SHORT_TEXT", "STALE", "STOPPED", "LOST"}   # module-level sentences raised or returned by name
LABELS = {"FEATURES"}   # module-level tuples of labels (the neuron table's features)
# A run's stored message: the names it is assigned to before the registry keeps it, and the registry transitions
# that take it (the position of the message argument; `message=` keywords and defaults count everywhere).
MESSAGE_NAMES = {"message", "msg"}
MESSAGE_CALLS = {"finish": 2, "fail": 1, "interrupt": 1, "requeue": 2}
HOOK = "_"   # an engine function's translation hook (textgen.memory_verdict.explain(..., _)): _("...") is a piece


def template(node: ast.AST) -> str | None:
    """A str constant or an f-string as a template: each {expression} stays as written; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return None if "{" in node.value or "}" in node.value else node.value
    if not isinstance(node, ast.JoinedStr):
        return None
    out = []
    for part in node.values:
        if isinstance(part, ast.Constant):
            if "{" in part.value or "}" in part.value:
                return None   # a literal brace would read as a placeholder
            out.append(part.value)
        elif isinstance(part, ast.FormattedValue):
            out.append("{" + placeholder(part) + "}")
        else:
            return None
    return "".join(out)


def has_words(text: str) -> bool:
    """Whether a template has words of its own: one made only of placeholders would match any sentence."""
    return re.search(r"[A-Za-z]{2}", re.sub(r"\{[^{}]*\}", "", text)) is not None


def placeholder(part: ast.FormattedValue) -> str:
    text = ast.unparse(part.value)
    if part.conversion != -1:
        text += "!" + chr(part.conversion)
    if part.format_spec is not None:
        spec = template(part.format_spec)
        text += ":" + (spec or "")
    return text.replace("{", "(").replace("}", ")")


def _sentences(func: ast.FunctionDef):
    for node in ast.walk(func):
        values = []
        if isinstance(node, (ast.Return, ast.Assign, ast.AugAssign)) and node.value is not None:   # said += "..."
            values = [node.value]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in SENTENCE_CALLS:
            values = node.args[SENTENCE_CALLS[node.func.id]:SENTENCE_CALLS[node.func.id] + 1]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "append":   # notes.append(...)
            values = node.args[:1]
        for part in (p for v in values for p in _pieces(v)):
            if (text := template(part)) and " " in text.strip() and has_words(text):
                yield part.lineno, "pgettext", (ERROR_CONTEXT, text.strip())


def _pieces(node: ast.AST):
    """The strings an expression is built of: both sides of "a" + f"b", both branches of x if c else y."""
    if isinstance(node, (ast.Constant, ast.JoinedStr)):
        yield node
    elif isinstance(node, ast.BinOp):
        yield from _pieces(node.left)
        yield from _pieces(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _pieces(node.body)
        yield from _pieces(node.orelse)
    elif isinstance(node, (ast.List, ast.Tuple)):
        for v in node.elts:
            yield from _pieces(v)


def _shown(node: ast.AST):
    """(lineno, funcname, message) for each user-facing string this node carries."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == HOOK:
        if not (node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            # an f-string or a name could not be looked up as written: say so where the catalogue is made
            raise ValueError(f"line {node.lineno}: {HOOK}() takes a str literal (format it after translating)")
        yield node.lineno, "gettext", node.args[0].value
    elif isinstance(node, ast.FunctionDef) and node.name in SENTENCES:
        yield from _sentences(node)
    elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
        name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", ""))
        text = template(node.exc.args[0])
        if name.endswith("Error") and text:
            yield node.lineno, "pgettext", (ERROR_CONTEXT, text)
    elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in CALLS:
        *positions, keyword = CALLS[node.func.id]
        args = [a for i, a in enumerate(node.args) if i in positions]
        args += [k.value for k in node.keywords if k.arg == keyword]
        for a in args:
            if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value:
                yield a.lineno, "gettext", a.value
    elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) in LABELS for t in node.targets):
        for v in getattr(node.value, "elts", []):
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                yield v.lineno, "gettext", v.value
    elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) in NAMED for t in node.targets):
        for part in _pieces(node.value):
            if text := template(part):
                yield part.lineno, "pgettext", (ERROR_CONTEXT, text)
    elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
          and any(getattr(t, "id", None) in TABLES for t in node.targets)):
        for v in node.value.values:
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                yield v.lineno, "gettext", v.value


def _message_values(node: ast.AST):
    """The expressions a run's stored message is made of, where textgen sets it."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id in MESSAGE_NAMES:
                yield node.value
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):   # status, message = ...
                yield from (v for t, v in zip(target.elts, node.value.elts) if getattr(t, "id", None) in MESSAGE_NAMES)
    elif isinstance(node, ast.Call):
        yield from (k.value for k in node.keywords if k.arg in MESSAGE_NAMES)
        at = MESSAGE_CALLS.get(getattr(node.func, "attr", None))
        if at is not None and len(node.args) > at:
            yield node.args[at]
    elif isinstance(node, ast.FunctionDef) and node.args.defaults:   # def requeue(..., message="Waiting to resume.")
        named = node.args.args[-len(node.args.defaults):]
        yield from (d for a, d in zip(named, node.args.defaults) if a.arg in MESSAGE_NAMES)


def _run_messages(node: ast.AST):
    for part in (p for v in _message_values(node) for p in _pieces(v)):
        if (text := template(part)) and has_words(text):
            yield part.lineno, "pgettext", (ERROR_CONTEXT, text.strip())


def extract_engine(fileobj, keywords, comment_tags, options):
    """Babel's extraction-method interface over a textgen module."""
    tree = ast.parse(fileobj.read().decode(options.get("encoding", "utf-8")))
    found = [hit for node in ast.walk(tree) for hit in (*_shown(node), *_run_messages(node))]
    # ast.walk goes breadth first; in line order a sentence's pieces stand together in the .po for the translator
    for lineno, func, message in sorted(found, key=lambda hit: hit[0]):
        yield lineno, func, message, []
