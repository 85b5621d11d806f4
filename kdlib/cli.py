"""The ``kdlib`` command line: ``kdlib data|eval|train|score|rerank|book``.

Each sub-command lives in its own module under :mod:`kdlib.commands` with two functions,
``configure(parser)`` and ``run(args) -> int``; they are imported only when used, so that
``kdlib --help`` does not import torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from kdlib.errors import KdlibError

COMMANDS: dict[str, str] = {
    "data": "check, fetch and describe the embedded TREC DL pack",
    "eval": "evaluate a run with ir-measures",
    "train": "train a teacher or a student",
    "score": "score training triples with one or more teachers (published file format)",
    "rerank": "write a TREC run of a model (directory or hub id) re-ranking a candidate set",
    "book": "execute the notebooks with papermill and build the Jupyter Book",
}


def _command_module(name: str):
    return importlib.import_module(f"kdlib.commands.{name}")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kdlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = next((a for a in (argv or []) if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        # Only the chosen command's module is imported (and may import heavy libraries).
        if name == wanted:
            _command_module(name).configure(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return int(_command_module(args.command).run(args) or 0)
    except KdlibError as exc:
        print(f"kdlib {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
