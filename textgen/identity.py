"""Who is asking: a writer (a random token kept in their browser, or a signed-in user) or the workshop's host.

Engine calls that read, train on, export or delete a corpus, run or draft take `owner=` one of these
(None is the machine owner at the command line, who sees the whole workspace). What is stored as an
owner is a digest of the token, never the token: the host's view and the registry show no secrets.

Things saved before owners existed, and what the command line makes, have no owner: they belong to
nobody in particular and stay open to everyone, as they were. They were already everyone's on that
server, so nothing private becomes public, and the machine owner's models (trained at the command line
before a workshop) are the room's to write with; everything a writer makes in the app is theirs.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from .errors import CorpusError, RunError

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")   # what a browser's link or cookie may carry


class AccessError(RunError, CorpusError):
    """Another writer's corpus, run or draft (a RunError and a CorpusError, so pages' handlers catch it)."""


def new_token() -> str:
    """A writer's token: 128 random bits, safe in a URL."""
    return secrets.token_urlsafe(16)


def is_token(value) -> bool:
    return isinstance(value, str) and TOKEN_RE.fullmatch(value) is not None


@dataclass(frozen=True)
class Identity:
    owner: str          # what is stored beside a writer's things: "w-" or "u-" and a digest
    host: bool = False  # the workshop's host sees and may stop or delete everything

    @classmethod
    def writer(cls, token: str) -> "Identity":
        """A browser's writer: its token is checked, then only its digest is kept."""
        if not is_token(token):
            raise AccessError("That writer token is not valid (20 to 64 letters, digits, '-' or '_').")
        return cls("w-" + _digest(token))

    @classmethod
    def user(cls, subject: str) -> "Identity":
        """A user signed in with st.login: their provider's stable id (the OIDC `sub`)."""
        if not isinstance(subject, str) or not subject:
            raise AccessError("A signed-in user needs a stable id.")
        return cls("u-" + _digest(subject))

    @classmethod
    def the_host(cls, owner: str = "host") -> "Identity":
        return cls(owner, host=True)

    @property
    def short(self) -> str:
        """A name for the host's view: enough to tell writers apart, nothing to impersonate them with."""
        return "host" if self.host and self.owner == "host" else self.owner[:8]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def owner_of(who: Identity | None) -> str | None:
    """The owner a new thing made by `who` gets; the command line's things have none (everyone's)."""
    return who.owner if who is not None else None


def sees_all(who: Identity | None) -> bool:
    return who is None or who.host


def may(who: Identity | None, owner: str | None, shared: bool = False, use: bool = False) -> bool:
    """Whether `who` may touch a thing owned by `owner`. `use`: only write with it (a shared run allows that)."""
    if sees_all(who) or not owner or owner == who.owner:
        return True
    return use and shared


def check(who: Identity | None, owner: str | None, what: str, shared: bool = False, use: bool = False) -> None:
    """Raise AccessError, one sentence, unless `who` may touch `what` (a display name: "run 2026...-a1b2c3")."""
    if not may(who, owner, shared, use):
        raise AccessError(f"The {what} belongs to another writer; only they or the host can open it.")
