"""What a reader sees of a Markdown-escaped message: the pages escape user-facing text (ui.safe)."""
import re


def shown(value: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", value).replace("\u2060", "")
