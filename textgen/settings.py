"""A writer's choices for one continuation (Settings) and the checks every generation call makes of them
before anything is read: length, alternatives, the samplers' values and the seed. Only the vocabulary's
size is needed; the banned words are checked against the vocabulary itself by the Generator."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from . import sampling
from .errors import GenerationError

MAX_LENGTH = 5000        # tokens per continuation; longer requests are refused with this number
MAX_ALTERNATIVES = 8
STOPS = ("length", "sentence", "line")


@dataclass(frozen=True)
class Settings:
    """A writer's choices for one press of Continue (the Write page's settings)."""
    length: int = 200          # tokens per continuation
    temperature: float = 0.8   # 0 always takes the likeliest token
    top_k: int = 0             # 0: off
    top_p: float = 1.0         # 1: off
    stop: str = "length"       # one of STOPS, or any text to stop after
    n: int = 1                 # alternatives; 1 streams
    seed: int | None = None    # None: a new random seed each time
    repetition_penalty: float = 1.0   # 1: off; above 1 makes recently generated tokens less likely
    ban: tuple[str, ...] = ()  # words the model may not write (sampling.parse_bans reads a writer's list)

    def kwargs(self, seed: int) -> dict:
        """The keyword arguments of Generator.stream, generate and alternatives, with this seed."""
        return dict(length=self.length, temperature=self.temperature, top_k=self.top_k, top_p=self.top_p,
                    seed=seed, stop=self.stop, repetition_penalty=self.repetition_penalty, ban=self.ban)


def check_values(length: int, temperature: float, top_k: int, top_p: float, n: int, repetition_penalty: float,
                 vocab_size: int) -> None:
    """Refuse a length, a number of alternatives or a sampler's value that no continuation can have."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise GenerationError("Length must be a whole number of at least 1.")
    if length > MAX_LENGTH:
        raise GenerationError(f"Length {length:,} is over the cap of {MAX_LENGTH:,} per continuation.")
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_ALTERNATIVES:
        raise GenerationError(f"The number of alternatives must be between 1 and {MAX_ALTERNATIVES}.")
    sampling.check_settings(temperature, top_k, top_p, vocab_size)
    sampling.check_penalty(repetition_penalty)


def texts_of(words) -> tuple[str, ...]:
    if not all(isinstance(w, str) for w in words):
        raise GenerationError("Banned words must be text.")
    return tuple(words)


def seed_of(seed: int | None) -> int:
    """The seed to use: a new random one for None; anything but a whole number from 0 up is refused."""
    if seed is None:
        return secrets.randbits(31)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise GenerationError("The seed must be a whole number, 0 or more.")
    return seed
