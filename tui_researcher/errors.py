"""The one error type a person sees: the CLI prints it as one line (exit 2), the app as a notice."""

from __future__ import annotations


class ResearcherError(Exception):
    """A problem the user can act on; ``str()`` is the whole message."""

    exit_code = 2

    def __init__(self, message: str, title: str = "Error") -> None:
        super().__init__(message)
        self.title = title


class ConfigError(ResearcherError):
    """Bad configuration: names the file, the key path and, where known, the line."""


class LockHeldError(ResearcherError):
    """Another controller already runs this project."""


class BackendError(ResearcherError):
    """A host or process operation failed (host down, helper died, bad command)."""


class PathEscapeError(ResearcherError):
    """A path resolved outside the workspace, or named a protected file."""
