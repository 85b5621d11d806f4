"""``kdlib rerank``: write a TREC run of a model re-ranking a candidate set (and evaluate it).

The model is a directory (kdlib's, or a published layout) or a Hugging Face hub id; the
candidates come from one of three sources::

    # a dataset of the embedded pack and one of its runs
    kdlib rerank --model runs/colbert-T2/best --dataset trec-dl-2019 --candidates bm25 --out dl19.run
    # an ir_datasets id with scoreddocs (MS MARCO's BM25 top-1000), streamed
    kdlib rerank --model sebastian-hofstaetter/colbert-distilbert-margin_mse-T2-msmarco \\
        --irds msmarco-passage/dev/small --depth 1000 --out dev.run
    # a TREC run file with queries and collection TSV files (only its candidates' texts are kept)
    kdlib rerank --model DIR --run-file bm25.run --queries queries.tsv --collection collection.tsv \\
        --qrels qrels.txt --out reranked.run

The run is written one query at a time. With judgements (the dataset's, or ``--qrels``) the
run is evaluated with the dataset's measures (:func:`kdlib.data.irds.measures_for`) or
``--measure``; a JSON summary is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see kdlib/cli/commands/score.py


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="a model directory or a Hugging Face hub id")
    parser.add_argument("--arch", help="architecture of a plain transformers encoder (default: bert_dot)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="a dataset of the embedded pack (e.g. trec-dl-2019)")
    source.add_argument("--irds", metavar="ID", help="an ir_datasets id with scoreddocs (e.g. msmarco-passage/dev/small)")
    source.add_argument("--run-file", metavar="RUN", help="a TREC run file of candidates (with --queries and --collection)")
    parser.add_argument("--candidates", default="bm25", help="with --dataset: the run to re-rank (default: bm25)")
    parser.add_argument("--queries", metavar="TSV", help="with --run-file: qid<TAB>query")
    parser.add_argument("--collection", metavar="TSV", help="with --run-file: pid<TAB>passage")
    parser.add_argument("--qrels", help="TREC qrels to evaluate with (default: the dataset's, if any)")
    parser.add_argument("--measure", action="append", help="an ir-measures measure (repeatable; default: the dataset's)")
    parser.add_argument("--out", required=True, help="the TREC run to write")
    parser.add_argument("--tag", default="kdlib", help="run tag (last column)")
    parser.add_argument("--depth", type=int, default=1000, help="candidates re-ranked per query (default: 1000)")
    parser.add_argument("--batch-size", type=int, default=128, help="pairs per forward pass")
    parser.add_argument("--pairs-per-chunk", type=int, default=4096,
                        help="candidates fetched and re-ranked together (bounds ColBERT's passage cache)")
    parser.add_argument("--queries-per-chunk", type=int, default=None, help="also end a chunk after this many queries")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp16", "fp32"],
                        help="inference autocast (auto: bf16 where native, fp16 on other GPUs, else fp32)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _source(args: argparse.Namespace):
    """``(name, queries, candidate iterator, passages, qrels, number of queries)`` of the chosen source."""
    from kdlib.core.errors import ConfigError

    if args.dataset:
        from kdlib.data import load_dataset
        from kdlib.eval.rerank import candidate_lists

        dataset = load_dataset(args.dataset)
        lists, _ = candidate_lists(dataset, candidates=args.candidates, depth=args.depth)
        return args.dataset, dataset.queries, lists.items(), dataset.passages, dataset.qrels, len(lists)
    if args.irds:
        from kdlib.data import irds

        dataset = irds.load_irds(args.irds)
        candidates = irds.iter_candidates(args.irds, depth=args.depth)
        return args.irds, dataset.queries, candidates, dataset.passages, dataset.qrels, len(dataset.queries)
    if not (args.queries and args.collection):
        raise ConfigError("--run-file needs --queries and --collection (TSV files)")
    from kdlib.data import read_collection, read_queries, read_run
    from kdlib.data.formats import ranked

    run = read_run(args.run_file)
    lists = {qid: [p for p, _ in ranked(scores, args.depth)] for qid, scores in run.items()}
    wanted = {pid for pids in lists.values() for pid in pids}
    passages = {pid: text for pid, text in read_collection(args.collection) if pid in wanted}
    return args.run_file, read_queries(args.queries), lists.items(), passages, None, len(lists)


def run(args: argparse.Namespace) -> int:
    import torch

    from kdlib.data import read_qrels
    from kdlib.data.irds import measures_for
    from kdlib.eval.rerank import rerank_to_file
    from kdlib.models import load
    from kdlib.runtime.precision import resolve_precision

    name, queries, candidates, passages, qrels, total = _source(args)
    if args.qrels:
        qrels = read_qrels(args.qrels)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    ranker = load(args.model, arch=args.arch).to(device)
    precision = resolve_precision(args.precision, device)
    start = time.perf_counter()
    output = rerank_to_file(
        ranker, queries, candidates, passages, args.out, qrels=qrels,
        measures=args.measure or list(measures_for(args.dataset or args.irds or "")), tag=args.tag,
        progress=not args.no_progress, total=total, batch_size=args.batch_size,
        pairs_per_chunk=args.pairs_per_chunk, queries_per_chunk=args.queries_per_chunk, precision=precision,
    )
    summary = {"out": args.out, "model": args.model, "arch": ranker.arch, "candidates": name, "queries": output.queries,
               "pairs": output.pairs, "precision": precision, "device": str(device),
               "seconds": round(time.perf_counter() - start, 2)}
    if output.measures is not None:
        summary["measures"] = output.measures
    print(json.dumps(summary, indent=1))
    return 0
