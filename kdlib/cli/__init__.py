"""The ``kdlib`` command line: :mod:`kdlib.cli.app` parses, one module of
:mod:`kdlib.cli.commands` per sub-command runs. Left out of the code fingerprint."""
from __future__ import annotations

from kdlib.cli.app import main

__all__ = ["main"]
