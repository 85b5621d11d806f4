"""The paper's quoted figures are read by measure, and only for what the paper reports."""
from __future__ import annotations

from kdlib.repro import paper


def test_rerank_and_bm25_figures_follow_the_measure():
    assert paper.rerank_figure("colbert", "T2", "margin_mse", "nDCG@10") == 0.744
    assert paper.rerank_figure("colbert", "T2", "margin_mse", "RR@10") == 0.375
    assert paper.rerank_figure("colbert", "T2", "pointwise_mse", "nDCG@10") is None  # a loss it has no figure for
    assert paper.rerank_figure("colbert", "T2", "margin_mse", "R@20") is None
    assert (paper.bm25_figure("nDCG@10"), paper.bm25_figure("RR@10"), paper.bm25_figure("R@20")) == (0.501, 0.194, None)
