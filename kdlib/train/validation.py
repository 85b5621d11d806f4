"""Validation during training: nDCG@10 of re-ranking held-out training queries.

The paper validates every 4,000 batches on BM25 candidates and keeps the best model by
nDCG@10 (early stopping). Here the depth is small by default (training is on a CPU).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


@dataclass
class Validation:
    """Re-rank ``qids`` of ``dataset`` and score the run with one ir-measures measure.

    Attributes:
        dataset: a :class:`kdlib.data.Dataset` with qrels and the ``candidates`` run.
        qids: validation queries (judged, never trained on).
        candidates: the first-stage run re-ranked.
        depth: candidates per query (small for speed).
        measure: the measure maximised (paper: nDCG@10).
        batch_size: pairs per forward pass.
    """

    dataset: Any
    qids: Sequence[str] | None = None
    candidates: str = "bm25"
    depth: int = 20
    measure: str = "nDCG@10"
    batch_size: int = 128

    def __call__(self, ranker: Any, *, bf16: bool = True, precision: str | None = None) -> float:
        """The validation score of ``ranker`` (higher is better).

        ``precision`` (``bf16``, ``fp16``, ``fp32``) overrides ``bf16`` (bf16 where supported).
        """
        from kdlib.eval.measures import evaluate
        from kdlib.eval.rerank import rerank

        run = rerank(
            ranker, self.dataset, candidates=self.candidates, depth=self.depth,
            batch_size=self.batch_size, qids=self.qids, bf16=bf16, precision=precision,
        )
        qrels = self.dataset.qrels
        if self.qids is not None:
            qrels = {q: qrels[q] for q in self.qids if q in qrels}
        return float(evaluate(run, qrels, [self.measure])[self.measure])
