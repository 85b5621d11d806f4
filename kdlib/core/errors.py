"""Error types shared across kdlib.

One error type for malformed input files, so that callers (and tests) can catch every
format problem alike, and every message names the file, the line and what was expected.
"""
from __future__ import annotations

import os


class KdlibError(Exception):
    """Base class of kdlib's own errors."""


class FormatError(KdlibError, ValueError):
    """A malformed line in an input file.

    Args:
        path: the file that holds the line.
        line: 1-based line number (0 when the problem is not tied to one line).
        expected: what the line should have looked like.
        got: a short excerpt of what was found instead.
    """

    def __init__(self, path: str | os.PathLike, line: int, expected: str, got: str = "") -> None:
        self.path = os.fspath(path)
        self.line = line
        self.expected = expected
        self.got = got
        where = f"{self.path}:{line}" if line else self.path
        message = f"{where}: expected {expected}"
        if got:
            excerpt = got if len(got) <= 120 else got[:117] + "..."
            message += f", got {excerpt!r}"
        super().__init__(message)


class DataMissingError(KdlibError, FileNotFoundError):
    """The embedded data (or a file of it) could not be found or failed its checksum."""


class DownloadError(KdlibError):
    """A download that failed, or a downloaded file that failed its size or checksum test.

    The message names the file or URL and what to do about it.
    """


class ConfigError(KdlibError, ValueError):
    """A profile or override that does not fit the configuration schema."""
