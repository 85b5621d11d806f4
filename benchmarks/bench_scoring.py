"""Teacher-scoring throughput: kdlib's BERT_CAT vs ``sentence_transformers.CrossEncoder.predict``.

Both score the same real TREC DL (query, passage) pairs with the same MiniLM-L6 encoder
weights (the CrossEncoder's randomly initialised one-logit head is copied into kdlib's
``classification_layer``; its pooler adds a negligible 384x384 layer), with the same
truncation and batch size. kdlib scores as :func:`kdlib.teacher.score_triples` does:
``Ranker.score`` under bf16 autocast (where supported) and inference mode. The peer runs twice:
its default ``predict`` (fp32), and ``predict`` under the same bf16 autocast (sdpa attention,
its default) -- the ratio that matters is against the second. Figures are printed as
``RESULT`` lines.

Run: ``.venv/bin/python benchmarks/bench_scoring.py [--pairs 512] [--batch-size 64]``
(CPU or CUDA, detected).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
from _common import device, machine, minilm_path, real_triples, result_line, sync  # noqa: E402

MAX_LEN = 30 + 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    dev = device()
    from sentence_transformers import CrossEncoder

    from kdlib import models
    from kdlib.runtime.precision import autocast

    triples = real_triples(args.pairs // 2)
    queries = [q for q, _, _ in triples for _ in (0, 1)]
    passages = [p for _, a, b in triples for p in (a, b)]

    cross = CrossEncoder(minilm_path(), num_labels=1, max_length=MAX_LEN, device=str(dev))
    ours = models.build("bert_cat", minilm_path(), query_max_len=30, passage_max_len=128,
                        attn_implementation="sdpa").to(dev)
    head = cross.model.classifier
    with torch.no_grad():
        ours.classification_layer.weight.copy_(head.weight)
        ours.classification_layer.bias.copy_(head.bias)

    def run_kdlib() -> None:
        with torch.inference_mode(), autocast(dev):
            ours.score(queries, passages, batch_size=args.batch_size)

    def run_cross() -> None:
        cross.predict(list(zip(queries, passages)), batch_size=args.batch_size, show_progress_bar=False)

    def run_cross_bf16() -> None:
        with autocast(dev):
            run_cross()

    results = {}
    for name, fn in (("kdlib", run_kdlib), ("peer_default", run_cross), ("peer_same_precision", run_cross_bf16)):
        fn()  # warm-up (kernel selection, caches)
        sync(dev)
        start = time.perf_counter()
        fn()
        sync(dev)
        results[name] = len(queries) / (time.perf_counter() - start)
    print(f"machine: {machine(dev)}, pairs: {len(queries)}, batch {args.batch_size}, MiniLM-L6 (6 layers)")
    result_line("score_bert_cat", encoder="minilm-L6", batch=args.batch_size,
                kdlib_pairs_per_s=results["kdlib"], peer="CrossEncoder.predict",
                peer_default_pairs_per_s=results["peer_default"],
                peer_same_precision_pairs_per_s=results["peer_same_precision"],
                ratio_vs_default=results["kdlib"] / results["peer_default"],
                ratio_vs_same_precision=results["kdlib"] / results["peer_same_precision"])


if __name__ == "__main__":
    main()
