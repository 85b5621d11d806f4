"""Re-rank a first-stage run with a neural ranker (validation, evaluation, notebooks).

The paper re-ranks the BM25 top-1000 (the embedded pack has the top-100). Architectures
that can pre-compute passage representations (BERT_DOT, ColBERT, PreTT's passage half,
TK) encode every unique candidate passage once and then score each query against its
cached candidates; the others score aligned (query, passage) pairs in batches.

:func:`rerank` works on a :class:`kdlib.data.Dataset` in memory. :func:`rerank_stream` is the
full-scale path (MSMARCO-DEV: 7M pairs): candidate lists come one query at a time (e.g.
:func:`kdlib.data.irds.iter_candidates`), a chunk of queries at a time their passages are
fetched in one ``get_many`` and re-ranked, and the scored queries are yielded, ready for
:func:`kdlib.data.formats.write_run_stream` and :func:`kdlib.eval.measures.evaluate_stream`.
"""
from __future__ import annotations

import logging
import os
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import torch

from kdlib.data.formats import ranked
from kdlib.runtime.inference import inference_context

log = logging.getLogger(__name__)

Run = dict[str, dict[str, float]]


def candidate_lists(
    dataset: Any, *, candidates: str = "bm25", depth: int = 100, qids: Iterable[str] | None = None
) -> tuple[dict[str, list[str]], int]:
    """The top-``depth`` candidates (by first-stage score) of each query that has text.

    Returns:
        ``(qid -> [pid, ...], skipped)`` where ``skipped`` counts candidates left out
        because the dataset has no text for them (e.g. RepLLaMA's id-only run).
    """
    if candidates not in dataset.runs:
        raise KeyError(f"no run {candidates!r} in dataset {dataset.name!r}; has {sorted(dataset.runs)}")
    run = dataset.runs[candidates]
    wanted = list(run) if qids is None else [q for q in qids if q in run]
    lists: dict[str, list[str]] = {}
    skipped = 0
    for qid in wanted:
        if qid not in dataset.queries:
            continue
        top = ranked(run[qid], depth)
        pids = [pid for pid, _ in top if pid in dataset.passages]
        skipped += len(top) - len(pids)
        if pids:
            lists[qid] = pids
    return lists, skipped


def rerank(
    ranker: Any,
    dataset: Any,
    *,
    candidates: str = "bm25",
    depth: int = 100,
    batch_size: int = 128,
    qids: Iterable[str] | None = None,
    bf16: bool = True,
    precision: str | None = None,
) -> Run:
    """Score the top-``depth`` candidates of each query with ``ranker``.

    Args:
        ranker: a kdlib Ranker (``score``, and ``encode_passages``/``score_cached`` when
            ``supports_passage_cache``).
        dataset: a :class:`kdlib.data.Dataset` with the ``candidates`` run.
        candidates: the run to re-rank.
        depth: candidates per query.
        batch_size: pairs (or passages) per forward pass.
        qids: the queries to re-rank (default: every query of the run).
        bf16: bf16 autocast where supported (inference only; scores returned as float).
        precision: ``bf16``, ``fp16`` or ``fp32`` autocast instead (overrides ``bf16``).

    Returns:
        A run ``qid -> pid -> score`` (ready for :func:`kdlib.eval.measures.evaluate`).
    """
    lists, skipped = candidate_lists(dataset, candidates=candidates, depth=depth, qids=qids)
    if skipped:
        log.info("rerank: %d candidates without passage text left out", skipped)
    with inference_context(ranker, bf16=bf16, precision=precision):
        if getattr(ranker, "supports_passage_cache", False):
            return _rerank_cached(ranker, dataset, lists, batch_size)
        return _rerank_pairs(ranker, dataset, lists, batch_size)


def _chunks(
    candidates: Iterable[Any], queries: Mapping[str, str], pairs: int, max_queries: int | None
) -> Iterator[list[tuple[str, list[str]]]]:
    """Whole queries (with text and candidates) grouped until ``pairs`` candidates or ``max_queries``."""
    chunk: list[tuple[str, list[str]]] = []
    size = 0
    for item in candidates:
        qid, pids = item[0], list(item[1])
        if qid not in queries or not pids:
            continue
        chunk.append((qid, pids))
        size += len(pids)
        if size >= pairs or (max_queries is not None and len(chunk) >= max_queries):
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def rerank_stream(
    ranker: Any,
    queries: Mapping[str, str],
    candidates: Iterable[tuple[str, Sequence[str]] | Any],
    passages: Any,
    *,
    batch_size: int = 128,
    pairs_per_chunk: int = 4096,
    queries_per_chunk: int | None = None,
    bf16: bool = True,
    precision: str | None = None,
) -> Iterator[tuple[str, dict[str, float]]]:
    """Re-rank candidate lists as they come, a chunk of queries at a time, in bounded memory.

    A chunk gathers whole queries until it holds ``pairs_per_chunk`` candidates (or
    ``queries_per_chunk`` queries); its passages are fetched in one ``get_many`` and, for
    cacheable architectures, encoded once. The chunk bounds memory: ColBERT keeps
    ``pairs x 200 tokens x dim`` float32 token vectors (4096 x 200 x 768: 2.5 GB), BERT_DOT one
    vector per passage.

    Args:
        ranker: a kdlib Ranker.
        queries: ``qid -> text``; queries without text are skipped.
        candidates: ``(qid, [pid, ...])`` in rank order, e.g. the :class:`kdlib.data.irds.Candidates`
            of :func:`kdlib.data.irds.iter_candidates`.
        passages: ``pid -> text`` with ``get_many`` (an ``ir_datasets`` docs store) or a mapping;
            candidates without text are left out.
        batch_size: pairs (or passages) per forward pass.
        pairs_per_chunk: candidates re-ranked together (a query is never split).
        queries_per_chunk: also end a chunk after this many queries (``None``: no limit).
        bf16: bf16 autocast where supported (without ``precision``).
        precision: ``bf16``, ``fp16`` or ``fp32`` autocast (overrides ``bf16``).

    Yields:
        ``(qid, {pid: score})`` per query, in the order of ``candidates``.
    """
    from kdlib.data.datasets import Dataset
    from kdlib.data.teacher_stream import fetch_texts

    if pairs_per_chunk < 1 or (queries_per_chunk is not None and queries_per_chunk < 1):
        raise ValueError(f"pairs_per_chunk and queries_per_chunk must be >= 1, got {pairs_per_chunk}, {queries_per_chunk}")
    for chunk in _chunks(candidates, queries, pairs_per_chunk, queries_per_chunk):
        texts = fetch_texts(passages, {pid for _, pids in chunk for pid in pids})
        # Rank order -> descending scores, so that candidate_lists keeps it.
        run = {qid: {pid: float(len(pids) - i) for i, pid in enumerate(pids)} for qid, pids in chunk}
        part = Dataset(
            name="chunk", queries=types.MappingProxyType({qid: queries[qid] for qid, _ in chunk}),
            passages=texts, qrels=None, runs={"candidates": run},
        )
        depth = max(len(pids) for _, pids in chunk)
        scored = rerank(ranker, part, candidates="candidates", depth=depth, batch_size=batch_size,
                        bf16=bf16, precision=precision)
        for qid, _ in chunk:
            if scored.get(qid):
                yield qid, scored[qid]


@dataclass
class RerankOutput:
    """What :func:`rerank_to_file` wrote.

    Attributes:
        path: the TREC run.
        queries: queries in the run.
        pairs: lines in the run.
        measures: ``measure -> mean`` over the judged queries, or ``None`` without qrels.
    """

    path: Path
    queries: int
    pairs: int
    measures: dict[str, float] | None = None


def rerank_to_file(
    ranker: Any,
    queries: Mapping[str, str],
    candidates: Iterable[tuple[str, Sequence[str]] | Any],
    passages: Any,
    out: str | os.PathLike,
    *,
    qrels: Mapping[str, Mapping[str, int]] | None = None,
    measures: Sequence[str] | None = None,
    tag: str = "kdlib",
    progress: bool = False,
    total: int | None = None,
    **stream_options: Any,
) -> RerankOutput:
    """:func:`rerank_stream` into a TREC run file, then (with ``qrels``) evaluate it streaming.

    Args:
        ranker, queries, candidates, passages: as for :func:`rerank_stream`.
        out: the run file (written atomically, one query at a time).
        qrels: judgements to evaluate with (``None``: no evaluation).
        measures: ir-measures names (default: :data:`kdlib.eval.measures.DEFAULT_MEASURES`).
        tag: the run tag.
        progress: a tqdm bar over queries (``total`` of them, if known).
        **stream_options: ``batch_size``, ``pairs_per_chunk``, ``queries_per_chunk``, ``bf16``, ``precision``.
    """
    from tqdm import tqdm

    from kdlib.data.formats import write_run_stream
    from kdlib.eval.measures import DEFAULT_MEASURES, evaluate_run_file

    scored = rerank_stream(ranker, queries, candidates, passages, **stream_options)
    scored = tqdm(scored, total=total, desc="rerank", unit="query", disable=not progress, dynamic_ncols=True)
    n_queries, n_pairs = write_run_stream(scored, out, tag=tag)
    values = None
    if qrels:
        values = evaluate_run_file(out, qrels, measures if measures is not None else DEFAULT_MEASURES)
    return RerankOutput(Path(out), n_queries, n_pairs, values)


def rerank_irds(
    ranker: Any,
    name: str,
    out: str | os.PathLike,
    *,
    depth: int = 1000,
    measures: Sequence[str] | None = None,
    loader: Any = None,
    **options: Any,
) -> RerankOutput:
    """Re-rank an ``ir_datasets`` dataset's BM25 top-``depth`` into ``out`` and evaluate it with
    the dataset's measures (:func:`kdlib.data.irds.measures_for`), all streamed.

    Example: ``rerank_irds(ranker, "msmarco-passage/dev/small", "dev.run", precision="bf16")``
    gives MRR@10 (``RR@10``) and ``R@1000`` of MSMARCO-DEV.

    Args:
        ranker: a kdlib Ranker (on its device).
        name: an ``ir_datasets`` id with scoreddocs.
        out: the run file.
        depth: candidates per query.
        measures: instead of the dataset's own.
        loader: ``name -> dataset object`` (default ``ir_datasets.load``).
        **options: :func:`rerank_to_file` options (``batch_size``, ``pairs_per_chunk``,
            ``precision``, ``tag``, ``progress``).
    """
    from kdlib.data import irds

    dataset = irds.load_irds(name, loader=loader)
    candidates = irds.iter_candidates(name, depth=depth, loader=loader)
    return rerank_to_file(ranker, dataset.queries, candidates, dataset.passages, out, qrels=dataset.qrels,
                          measures=measures if measures is not None else irds.measures_for(name),
                          total=len(dataset.queries), **options)


def _rerank_pairs(ranker: Any, dataset: Any, lists: dict[str, list[str]], batch_size: int) -> Run:
    pairs = [(qid, pid) for qid, pids in lists.items() for pid in pids]
    queries = [dataset.queries[qid] for qid, _ in pairs]
    passages = [dataset.passages[pid] for _, pid in pairs]
    run: Run = {qid: {} for qid in lists}
    if not pairs:
        return run
    scores = ranker.score(queries, passages, batch_size=batch_size).float().cpu().tolist()
    for (qid, pid), score in zip(pairs, scores):
        run[qid][pid] = float(score)
    return run


def _rerank_cached(ranker: Any, dataset: Any, lists: dict[str, list[str]], batch_size: int) -> Run:
    unique = sorted({pid for pids in lists.values() for pid in pids})
    position = {pid: i for i, pid in enumerate(unique)}
    cache = ranker.encode_passages([dataset.passages[pid] for pid in unique], batch_size=batch_size)
    run: Run = {}
    for qid, pids in lists.items():
        indices = torch.tensor([position[pid] for pid in pids], dtype=torch.long)
        scores = ranker.score_cached(dataset.queries[qid], cache, indices).float().cpu().tolist()
        run[qid] = {pid: float(s) for pid, s in zip(pids, scores)}
    return run


def run_file_name(dataset: str) -> str:
    """The file a re-ranking of ``dataset`` is written to in a model's directory."""
    return f"{dataset.replace('/', '__')}.run"


def evaluate_datasets(
    source: Any,
    names: Sequence[str],
    load_ranker: Callable[[], Any],
    out_dir: Path,
    *,
    run: str,
    depth: int,
    batch_size: int,
    exclude: Iterable[str] = (),
    max_queries: int | None = None,
    tag: str = "kdlib",
) -> dict[str, dict[str, float]]:
    """Re-rank the top-``depth`` candidates (``run``) of every dataset in ``names`` and measure it.

    Each run is written once to ``out_dir/<dataset>.run`` (:func:`run_file_name`; streamed:
    MSMARCO-DEV has 7M candidate pairs) and evaluated with the dataset's own measures
    (:func:`kdlib.data.irds.measures_for`).

    Args:
        source: the profile's :class:`kdlib.data.sources.DataSource`.
        load_ranker: called only when a run is missing.
        exclude: queries left out (the validation queries held out of a dataset).
        max_queries: judged queries kept per dataset (the profile's ``data.max_queries``).
        tag: the run tag.

    Returns:
        dataset -> measure -> value.
    """
    from kdlib.data.irds import measures_for
    from kdlib.eval.measures import evaluate_run_file

    excluded = set(exclude)
    out: dict[str, dict[str, float]] = {}
    ranker = None
    for name in names:
        dataset = source.load(name, max_queries=max_queries, candidates=False, depth=depth)
        qids = [q for q in dataset.judged_qids() if q not in excluded]
        qrels = {q: dataset.qrels[q] for q in qids}
        path = out_dir / run_file_name(name)
        if not path.is_file():
            ranker = ranker if ranker is not None else load_ranker()
            candidates = source.iter_candidates(name, run=run, depth=depth, qids=qids)
            rerank_to_file(ranker, dataset.queries, candidates, dataset.passages, path, tag=tag,
                           batch_size=batch_size)
        out[name] = evaluate_run_file(path, qrels, measures_for(name))
    return out
