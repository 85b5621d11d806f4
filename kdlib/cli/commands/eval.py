"""``kdlib eval``: evaluate runs with ir-measures, from the pack or from TREC files.

Examples::

    kdlib eval --dataset trec-dl-2019 --run bm25 --run tas_b
    kdlib eval --dataset msmarco-dev-sample --run bm25   # its own measures: RR@10, R@20
    kdlib eval --run my.run --qrels qrels.dl19-passage.txt --measure nDCG@10 --per-query
"""
from __future__ import annotations

import argparse
import os
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    from kdlib.data.datasets import PACK_DATASETS

    parser.add_argument("--dataset", choices=PACK_DATASETS,
                        help="a dataset of the pack (its qrels; --run may then name its runs): %(choices)s")
    parser.add_argument("--run", action="append", required=True, help="a run name of --dataset or a TREC run file (repeatable)")
    parser.add_argument("--qrels", help="a TREC qrels file (instead of --dataset's judgements)")
    parser.add_argument("--measure", action="append", help="an ir-measures measure, e.g. nDCG@10 (repeatable; default: "
                        "--dataset's own measures, else the four standard ones)")
    parser.add_argument("--per-query", action="store_true", help="also print each query's values")


def run(args: argparse.Namespace) -> int:
    from kdlib.data import load_dataset, measures_for, read_qrels, read_run
    from kdlib.eval.measures import DEFAULT_MEASURES, evaluate_per_query, parse_measures, results_table

    if not args.dataset and not args.qrels:
        print("kdlib eval: error: give --dataset or --qrels", file=sys.stderr)
        return 2
    try:
        measures = parse_measures(args.measure or (measures_for(args.dataset) if args.dataset else DEFAULT_MEASURES))
    except ValueError as exc:
        print(f"kdlib eval: error: {exc}", file=sys.stderr)
        return 2
    dataset = load_dataset(args.dataset) if args.dataset else None
    qrels = read_qrels(args.qrels) if args.qrels else dataset.qrels
    if qrels is None:
        print(f"kdlib eval: error: {args.dataset} has no judgements; pass --qrels", file=sys.stderr)
        return 2
    runs = {}
    for name in args.run:
        if dataset is not None and name in dataset.runs:
            runs[name] = dataset.runs[name]
        elif os.path.isfile(name):
            runs[name] = read_run(name)
        else:
            known = f" or one of {sorted(dataset.runs)}" if dataset is not None else ""
            print(f"kdlib eval: error: run {name!r} is not a file{known}", file=sys.stderr)
            return 2
    table = results_table(runs, qrels, measures)
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    if args.per_query:
        for name, run_ in runs.items():
            frame = evaluate_per_query(run_, qrels, measures).pivot(index="qid", columns="measure", values="value")
            print(f"\n# per query: {name}")
            print(frame[[str(m) for m in measures]].to_string(float_format=lambda v: f"{v:.4f}"))
    return 0
