"""User-facing errors. Each carries one readable sentence; the CLI prints it and exits non-zero."""


class InkwellError(Exception):
    """Base class: anything a user can cause and should be told about in one line."""


class CorpusError(InkwellError):
    """The text a user brought cannot be used (empty, binary, too large, too short, wrong kind)."""


class ConfigError(InkwellError):
    """A setting is out of range or inconsistent with the data."""


class RunError(InkwellError):
    """A run id is unknown, a run directory is incomplete, or a bundle is unsafe."""


class GenerationError(InkwellError):
    """Generation settings or the prompt cannot be used."""
