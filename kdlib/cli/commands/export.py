"""``kdlib export``: a trained student as a sentence-transformers model.

Examples::

    kdlib export --model runs/dot_t2 --out exported/dot_t2     # BERT_DOT -> SentenceTransformer
    kdlib export --model runs/teacher --out exported/teacher   # BERT_CAT -> CrossEncoder

``--model`` takes a saved model or the ``--out`` directory of ``kdlib train`` (its best/,
else final/). See :mod:`kdlib.models.export` for what carries over exactly.
"""
from __future__ import annotations

import argparse
import json


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="a saved BERT_DOT or BERT_CAT model, or the --out directory of `kdlib train`")
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write (replaced if it exists)")


def run(args: argparse.Namespace) -> int:
    from kdlib.models import load
    from kdlib.models.export import export
    from kdlib.train.result import find_model_dir

    source = find_model_dir(args.model)
    out, fmt = export(load(source), args.out)
    loader = "SentenceTransformer" if fmt == "sentence-transformers" else "CrossEncoder"
    print(json.dumps({"out": str(out), "format": fmt, "model": str(source),
                      "load": f"from sentence_transformers import {loader}; {loader}({str(out)!r})"}))
    return 0
