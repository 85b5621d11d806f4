"""Query latency of a ranker, as the paper defines it.

Hofstätter et al. (2020, Section 4 and Figure 1) report *query latency*: the time to
re-rank one query's candidates, with passage representations computed ahead of time
(at indexing time) wherever the architecture allows it. So:

- BERT_DOT, ColBERT, PreTT and TK (``supports_passage_cache``): the candidates' passage
  representations are encoded before the clock starts; the timed part is
  ``score_cached(query, cache)`` (query encoding plus the interaction).
- BERT_CAT: nothing can be pre-computed; the timed part is scoring all ``depth``
  (query, passage) pairs with ``score``.

Each query is timed ``repeats`` times after ``warmup`` untimed runs with
``time.perf_counter`` (with a CUDA synchronise before reading the clock on a GPU); a
query's latency is the median of its repeats, and the result reports the median and the
95th percentile over queries. Inference runs under ``torch.inference_mode``, bf16
autocast where supported, and the encoder's attention switched to ``sdpa`` (PyTorch's
fused scaled-dot-product kernel) for the measurement, then switched back.

On a CPU, ``threads`` fixes the torch threads of the timed calls. On a machine other jobs
share, a multi-threaded call is only as fast as its slowest thread: one descheduled OpenMP
thread turned a 20 ms query encoding into 750 ms in our measurements (6-layer, 768-wide
encoder, 2 cores, load 4), while one thread gave 20 ms on every call.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class LatencyResult:
    """Per-query re-ranking latency of one ranker.

    Attributes:
        arch: the architecture (``bert_cat``, ``bert_dot``, ...).
        per_query_ms: ``(n_queries,)`` median latency of each query in ms.
        median_ms: median of ``per_query_ms``.
        p95_ms: 95th percentile of ``per_query_ms``.
        cached: whether passage representations were pre-encoded (excluded from timing).
        depth: candidates re-ranked per query (the largest list; some queries may have fewer).
        device: the device the ranker ran on.
        qids: the timed queries, in the order of ``per_query_ms``.
    """

    arch: str
    per_query_ms: np.ndarray
    median_ms: float
    p95_ms: float
    cached: bool
    depth: int = 0
    device: str = "cpu"
    qids: tuple[str, ...] = ()

    @property
    def n_queries(self) -> int:
        """Number of timed queries."""
        return int(self.per_query_ms.shape[0])


def _arch_name(ranker: Any) -> str:
    config = getattr(ranker, "config", None)
    for holder in (config, ranker):
        for attribute in ("arch", "architecture", "name"):
            value = getattr(holder, attribute, None)
            if isinstance(value, str) and value:
                return value
    return type(ranker).__name__


def _synchronize(device: Any) -> Callable[[], None]:
    """A function that waits for queued GPU work (a no-op on a CPU)."""
    import torch

    if getattr(device, "type", "cpu") == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def _time_call(call: Callable[[], Any], *, repeats: int, warmup: int, sync: Callable[[], None]) -> float:
    """Median wall time of ``call`` over ``repeats`` runs after ``warmup`` runs, in ms."""
    for _ in range(warmup):
        call()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        sync()
        times.append(1000.0 * (time.perf_counter() - start))
    return float(np.median(times))


def measure_latency(
    ranker: Any,
    dataset: Any,
    *,
    candidates: str = "bm25",
    depth: int = 100,
    n_queries: int | None = None,
    repeats: int = 3,
    warmup: int = 1,
    batch_size: int | None = None,
    bf16: bool = True,
    attention: str | None = "sdpa",
    qids: Iterable[str] | None = None,
    threads: int | None = None,
) -> LatencyResult:
    """Time the re-ranking of each query's top-``depth`` candidates.

    Args:
        ranker: a kdlib Ranker (``score``; ``encode_passages``/``score_cached`` when
            ``supports_passage_cache``).
        dataset: a :class:`kdlib.data.Dataset` holding the ``candidates`` run.
        candidates: the first-stage run whose candidates are re-ranked.
        depth: candidates per query (paper: 1000 from BM25; the embedded pack has 100).
        n_queries: time only the first ``n_queries`` queries (``None``: all).
        repeats: timed runs per query; the query's latency is their median.
        warmup: untimed runs per query before timing (caches, kernel selection).
        batch_size: pairs per forward pass for uncached scoring (``None``: all ``depth``
            pairs in one batch, i.e. one query per batch as in the paper's measurement).
        bf16: bf16 autocast where the device supports it.
        attention: the encoder's attention kernel during timing (``None``: leave it as built).
        qids: the queries to time (``None``: the run's queries in order).
        threads: torch CPU threads during the timed calls (``None``: leave torch's setting);
            encoding passages ahead of time is not timed and keeps torch's setting. Ignored
            on a GPU.

    Returns:
        Per-query latencies and their median and 95th percentile.

    Raises:
        ValueError: no query has candidates with passage text, or ``repeats < 1``.
    """
    from kdlib.runtime.inference import inference_context, ranker_device
    from kdlib.eval.rerank import candidate_lists

    if repeats < 1 or warmup < 0 or depth < 1 or (threads is not None and threads < 1):
        raise ValueError(f"measure_latency: need repeats >= 1, warmup >= 0, depth >= 1, threads >= 1; got {repeats}, "
                         f"{warmup}, {depth}, {threads}")
    lists, _ = candidate_lists(dataset, candidates=candidates, depth=depth, qids=qids)
    timed = list(lists)[:n_queries] if n_queries is not None else list(lists)
    if not timed:
        raise ValueError(f"measure_latency: no query of {getattr(dataset, 'name', 'the dataset')} has {candidates} candidates with text")
    cached = bool(getattr(ranker, "supports_passage_cache", False))
    device = ranker_device(ranker)
    sync = _synchronize(device)
    per_query = np.empty(len(timed), dtype=np.float64)
    with _attention(ranker, attention), inference_context(ranker, bf16=bf16):
        for i, qid in enumerate(timed):
            query = dataset.queries[qid]
            passages = [dataset.passages[pid] for pid in lists[qid]]
            call = _cached_call(ranker, query, passages) if cached else _pairs_call(ranker, query, passages, batch_size)
            with _cpu_threads(None if getattr(device, "type", "cpu") == "cuda" else threads):
                per_query[i] = _time_call(call, repeats=repeats, warmup=warmup, sync=sync)
    return LatencyResult(
        arch=_arch_name(ranker),
        per_query_ms=per_query,
        median_ms=float(np.median(per_query)),
        p95_ms=float(np.percentile(per_query, 95)),
        cached=cached,
        depth=max(len(lists[q]) for q in timed),
        device=str(device),
        qids=tuple(timed),
    )


@contextlib.contextmanager
def _cpu_threads(threads: int | None) -> Iterator[None]:
    """torch's CPU threads set to ``threads`` (``None``: unchanged), and restored afterwards."""
    import torch

    previous = torch.get_num_threads()
    if threads is None or threads == previous:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def _attention(ranker: Any, impl: str | None) -> Iterator[None]:
    """Switch the ranker's encoder to attention kernel ``impl`` and back afterwards."""
    encoder = getattr(ranker, "encoder", None)
    previous = getattr(getattr(encoder, "config", None), "_attn_implementation", None)
    if impl is None or encoder is None or previous is None or previous == impl:
        yield
        return
    from kdlib.models import set_attention

    set_attention(ranker, impl)
    try:
        yield
    finally:
        set_attention(ranker, previous)


def _cached_call(ranker: Any, query: str, passages: Sequence[str]) -> Callable[[], Any]:
    # Encoded before timing: the paper's setting, where passage representations are
    # computed at indexing time and only looked up at query time.
    cache = ranker.encode_passages(list(passages), batch_size=len(passages))
    return lambda: ranker.score_cached(query, cache)


def _pairs_call(ranker: Any, query: str, passages: Sequence[str], batch_size: int | None) -> Callable[[], Any]:
    queries = [query] * len(passages)
    passages = list(passages)
    size = batch_size or len(passages)
    return lambda: ranker.score(queries, passages, batch_size=size)


def latency_table(results: Iterable[LatencyResult]) -> Any:
    """One row per ranker: arch, cached, median and p95 latency (ms), queries, depth, device.

    Returns:
        A pandas DataFrame sorted by median latency (fastest first).
    """
    import pandas as pd

    rows = [
        {
            "arch": r.arch,
            "cached": r.cached,
            "median_ms": r.median_ms,
            "p95_ms": r.p95_ms,
            "n_queries": r.n_queries,
            "depth": r.depth,
            "device": r.device,
        }
        for r in results
    ]
    columns = ["arch", "cached", "median_ms", "p95_ms", "n_queries", "depth", "device"]
    return pd.DataFrame(rows, columns=columns).sort_values("median_ms", kind="stable").reset_index(drop=True)
