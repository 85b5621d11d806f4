"""Parameter counts and scoring throughput of the five architectures on real TREC DL 2019 pairs.

For MiniLM-L6 (6 layers) and a 3-layer student built from it, prints per architecture the
parameter count and the pairs scored per second with bf16 autocast and in fp32
(``score()`` on aligned pairs, passage_max_len 200, sdpa attention, no passage cache).
A few batches each, so the whole run stays within a few minutes on a 2-core CPU.

Usage::

    python benchmarks/bench_models.py [--pairs 64] [--batch-size 32] [--threads N]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from kdlib.models import ARCHITECTURES, build

BM25_DL19 = Path("/work/shared/data/trec-dl/rank_llm/BM25/retrieve_results_dl19.json")


def dl19_pairs(count: int) -> tuple[list[str], list[str]]:
    """The first ``count`` (query, BM25 hit) pairs of TREC DL 2019, query by query."""
    queries, passages = [], []
    for entry in json.loads(BM25_DL19.read_text()):
        for hit in entry["hits"]:
            queries.append(entry["query"])
            passages.append(hit["content"])
            if len(queries) == count:
                return queries, passages
    return queries, passages


def throughput(ranker, queries, passages, batch_size: int, bf16: bool) -> float:
    """Pairs per second of ``ranker.score`` after one warm-up batch."""
    context = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else torch.autocast("cpu", enabled=False)
    with context:
        ranker.score(queries[:batch_size], passages[:batch_size], batch_size=batch_size)
        start = time.perf_counter()
        ranker.score(queries, passages, batch_size=batch_size)
    return len(queries) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=32, help="timed pairs per measurement")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    queries, passages = dl19_pairs(args.pairs)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {len(queries)} DL19 pairs, "
          f"batch {args.batch_size}, passage_max_len 200")
    print(f"{'encoder':<10} {'arch':<9} {'params':>12} {'bf16 pairs/s':>13} {'fp32 pairs/s':>13}")
    for layers in (6, 3):
        for arch in ARCHITECTURES:
            torch.manual_seed(0)
            ranker = build(arch, "minilm", num_layers=layers, passage_max_len=200, attn_implementation="sdpa")
            params = sum(p.numel() for p in ranker.parameters())
            bf16 = throughput(ranker, queries, passages, args.batch_size, bf16=True)
            fp32 = throughput(ranker, queries, passages, args.batch_size, bf16=False)
            print(f"{'MiniLM-L' + str(layers):<10} {arch:<9} {params:>12,} {bf16:>13.1f} {fp32:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
