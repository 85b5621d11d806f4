"""Query latency: shape of the result, positive times, pre-encoding per architecture."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from kdlib.data import Dataset
from kdlib.eval import latency

N_QUERIES, DEPTH = 3, 6


def _dataset() -> Dataset:
    queries = {f"{i}": f"query number {i} about coffee" for i in range(4)}
    passages = {f"p{j}": f"passage {j} " + "words " * (5 + j) for j in range(10)}
    # Candidate scores decrease with j, so the top-DEPTH are p0..p5 for every query.
    bm25 = {q: {f"p{j}": 20.0 - j for j in range(10)} for q in queries}
    return Dataset("synthetic", queries, passages, None, {"bm25": bm25})


@pytest.mark.parametrize(
    ("arch", "cached"), [("bert_cat", False), ("bert_dot", True), ("colbert", True), ("tk", True)]
)
def test_latency_per_architecture(arch, cached):
    from kdlib.models import build

    torch.manual_seed(0)
    ranker = build(arch, "tiny-random", query_max_len=16, passage_max_len=32, attn_implementation="eager")
    result = latency.measure_latency(ranker, _dataset(), depth=DEPTH, n_queries=N_QUERIES, repeats=2, warmup=1)
    encoder = getattr(ranker, "encoder", None)
    if encoder is not None:  # timed with sdpa, then switched back to what it was built with
        assert encoder.config._attn_implementation == "eager"
    assert result.arch == arch
    assert result.cached is cached
    assert result.per_query_ms.shape == (N_QUERIES,)
    assert np.all(result.per_query_ms > 0)
    assert result.median_ms == pytest.approx(float(np.median(result.per_query_ms)))
    assert result.per_query_ms.min() <= result.median_ms <= result.p95_ms <= result.per_query_ms.max()
    assert result.depth == DEPTH and result.device == "cpu"


class _SlowEncoder:
    """A ranker whose passage encoding is slow and whose cached scoring is fast."""

    supports_passage_cache = True
    arch = "slow_encoder"

    def __init__(self) -> None:
        self.encoded: list[int] = []
        self.scored = 0

    def encode_passages(self, passages, *, batch_size):
        time.sleep(0.05)
        self.encoded.append(len(passages))
        return torch.ones(len(passages), 2)

    def score_cached(self, query, cache, indices=None):
        self.scored += 1
        return cache.sum(dim=1)


def test_passage_encoding_is_not_timed():
    ranker = _SlowEncoder()
    result = latency.measure_latency(ranker, _dataset(), depth=DEPTH, n_queries=2, repeats=3, warmup=1)
    assert result.cached and result.arch == "slow_encoder"
    assert ranker.encoded == [DEPTH, DEPTH]  # once per query, before timing
    assert ranker.scored == 2 * (3 + 1)  # repeats + warm-up per query
    assert result.median_ms < 50.0  # the 50 ms encoding sleep is outside the clock


class _ThreadRecorder(_SlowEncoder):
    """Records torch's CPU threads while encoding passages and while scoring."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: dict[str, set[int]] = {"encode": set(), "score": set()}

    def encode_passages(self, passages, *, batch_size):
        self.threads["encode"].add(torch.get_num_threads())
        return torch.ones(len(passages), 2)

    def score_cached(self, query, cache, indices=None):
        self.threads["score"].add(torch.get_num_threads())
        return super().score_cached(query, cache, indices)


def test_threads_apply_to_the_timed_calls_only_and_are_restored():
    before = torch.get_num_threads()
    wanted = 1 if before > 1 else 2
    ranker = _ThreadRecorder()
    latency.measure_latency(ranker, _dataset(), depth=DEPTH, n_queries=2, repeats=2, threads=wanted)
    assert ranker.threads == {"encode": {before}, "score": {wanted}}
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"):
        latency.measure_latency(_ThreadRecorder(), _dataset(), threads=0)


def test_latency_table_and_bad_arguments():
    fast = latency.LatencyResult("a", np.array([1.0, 2.0, 3.0]), 2.0, 2.9, True, 6)
    slow = latency.LatencyResult("b", np.array([10.0, 20.0]), 15.0, 19.5, False, 6)
    table = latency.latency_table([slow, fast])
    assert list(table["arch"]) == ["a", "b"]
    assert list(table["n_queries"]) == [3, 2]
    assert list(table.columns) == ["arch", "cached", "median_ms", "p95_ms", "n_queries", "depth", "device"]
    with pytest.raises(ValueError, match="repeats"):
        latency.measure_latency(_SlowEncoder(), _dataset(), repeats=0)
    with pytest.raises(KeyError, match="bm25_rm3"):
        latency.measure_latency(_SlowEncoder(), _dataset(), candidates="bm25_rm3")
