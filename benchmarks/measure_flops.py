"""Count the training FLOPs per triple of every student at DistilBERT size (on the CPU).

The dry run's GPU-hour estimates (``kdlib book --dry-run``, :mod:`kdlib.repro.estimate`) need a
cost per training triple. Without a GPU throughput measured at full size, this script counts
the floating-point operations of one optimiser step's forward and backward pass with
``torch.utils.flop_counter.FlopCounterMode`` (matrix products and attention; element-wise
ops are not counted), for a randomly initialised DistilBERT-shaped encoder (6 layers, 768
wide, 12 heads; weights do not change the count) at the paper's lengths (query 30, passage
200 word pieces, texts long enough to fill them). It writes ``kdlib/repro/flops_per_triple.yaml``.

Run: ``python benchmarks/measure_flops.py`` (a minute on a 2-core CPU).
"""
from __future__ import annotations

import datetime
import platform
from pathlib import Path

import _common  # noqa: F401 - offline and thread settings before torch loads
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from kdlib.data.examples import TrainingExample
from kdlib.models import build
from kdlib.models.encoders import random_shape
from kdlib.train.batching import make_collate

OUT = Path(__file__).resolve().parents[1] / "kdlib" / "flops_per_triple.yaml"
ARCHS = ("bert_cat", "bert_dot", "colbert", "prett", "tk")
#: DistilBERT-base's shape (distilbert-base-uncased) as kdlib's random BERT encoder: 6 layers,
#: 768 wide, 12 heads, FFN 3072, MiniLM's (BERT uncased) tokenizer.
DISTILBERT_ENCODER = "random:6:768"
DISTILBERT_SHAPE = random_shape(DISTILBERT_ENCODER).config()
BATCH = 2


def flops_per_triple(arch: str, encoder: str) -> int:
    torch.manual_seed(0)
    ranker = build(arch, encoder, query_max_len=30, passage_max_len=200, dropout=0.0,
                   attn_implementation="eager")
    ranker.train()
    words = " ".join(f"word{i}" for i in range(400))  # fills both length limits
    batch = make_collate(ranker.tokenize)([TrainingExample(words, words, words, 1.0, 0.0)] * BATCH)
    counter = FlopCounterMode(display=False)
    with counter:
        scores = ranker(batch["features"])
        scores.sum().backward()
    return int(counter.get_total_flops() // BATCH)


def main() -> None:
    table = {arch: flops_per_triple(arch, DISTILBERT_ENCODER) for arch in ARCHS}
    for arch, flops in table.items():
        print(f"{arch:9s} {flops / 1e9:8.1f} GFLOP per training triple")
    document = {
        "provenance": {
            "what": "training FLOPs (forward + backward) per triple, counted by "
                    "torch.utils.flop_counter.FlopCounterMode (matmuls and attention only)",
            "encoder": "random BERT of DistilBERT's shape " + str(DISTILBERT_SHAPE),
            "lengths": {"query": 30, "passage": 200},
            "measured_on": f"CPU ({platform.machine()}), torch {torch.__version__}",
            "date": datetime.date.today().isoformat(),
            "command": "python benchmarks/measure_flops.py",
        },
        "flops_per_triple": table,
    }
    OUT.write_text(yaml.safe_dump(document, sort_keys=False))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
