"""The ``kdlib`` command line: ``kdlib data|eval|train|score|rerank|export|book|check|trial|seeds``.

Each sub-command lives in its own module under :mod:`kdlib.cli.commands` with two functions,
``configure(parser)`` and ``run(args) -> int``; they are imported only when used, so that
``kdlib --help`` does not import torch.

Conventions, for every sub-command:

- a user error (a wrong name, a missing file, a profile that does not fit) exits with
  status 2 and one line on stderr that says what to do instead; never a traceback;
- a closed set of names (architectures, losses, datasets, published runs) is an argparse
  ``choices`` list, so ``--help`` shows it and a typo is caught before anything loads;
- kdlib's log messages (for instance how many pairs a published teacher imputed) go to
  stderr: ``-q`` keeps warnings only, ``-v`` adds debug messages.

A traceback is printed only for what is not a user error (a bug: please report it).
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import os
import re
import sys
from typing import Sequence

from kdlib import __version__
from kdlib.core.errors import KdlibError

COMMANDS: dict[str, str] = {
    "data": "check, fetch and describe the embedded TREC DL pack",
    "eval": "evaluate a run with ir-measures",
    "train": "train a teacher or a student",
    "score": "score training triples with one or more teachers (published file format)",
    "export": "save a trained BERT_DOT / BERT_CAT as a sentence-transformers model / CrossEncoder",
    "rerank": "write a TREC run of a model (directory or hub id) re-ranking a candidate set",
    "book": "execute the notebooks with papermill and build the Jupyter Book",
    "check": "compare a profile's results.csv with the committed expected values",
    "trial": "try a setting on one student cell: validation curve and fit beside BM25 and T2",
    "seeds": "retrain the students of claims 2 and 3 with other seeds: effects per seed and seed-averaged",
}

# File-system errors that come from what the user typed (a path), reported in one line.
_USER_OS_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, FileExistsError)


class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line (no usage block) and a "did you mean" for typos."""

    def error(self, message: str) -> None:  # type: ignore[override]
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if match:
            choices = re.findall(r"'([^']*)'", match.group(2))
            typo = match.group(1)
            # Swapped letters first (trian -> train, not trial), then the closest spelling.
            close = [c for c in choices if sorted(c) == sorted(typo)] or difflib.get_close_matches(typo, choices, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _command_module(name: str):
    return importlib.import_module(f"kdlib.cli.commands.{name}")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog="kdlib", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kdlib {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    wanted = next((a for a in (argv or []) if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        # Only the chosen command's module is imported (and may import heavy libraries).
        if name == wanted:
            _command_module(name).configure(sub_parser)
    return parser


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of each message (tests swap it)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "" if record.levelno == logging.INFO else f"{record.levelname.lower()}: "
        return f"kdlib: {level}{record.getMessage()}"


def configure_logging(*, quiet: bool = False, verbose: bool = False) -> None:
    """Send the ``kdlib`` loggers' messages to stderr (once per process; the level each call).

    INFO by default (e.g. imputation counts, skipped candidates), WARNING with ``quiet``,
    DEBUG with ``verbose``. Under ``torchrun`` only rank 0 logs below WARNING.
    """
    logger = logging.getLogger("kdlib")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter())
        logger.addHandler(handler)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    if os.environ.get("RANK", "0") != "0":
        level = max(level, logging.WARNING)
    logger.setLevel(level)


def _os_error_message(exc: OSError) -> str:
    if exc.filename is not None:
        return f"{exc.strerror or exc.__class__.__name__}: {exc.filename}"
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``kdlib`` with ``argv``; returns the exit status (0 ok, 2 user error, 130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    configure_logging(quiet=args.quiet, verbose=args.verbose)
    try:
        return int(_command_module(args.command).run(args) or 0)
    except KdlibError as exc:
        print(f"kdlib {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except _USER_OS_ERRORS as exc:
        print(f"kdlib {args.command}: error: {_os_error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"kdlib {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
