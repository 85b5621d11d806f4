"""Full-scale data (the paper's setup) through ``ir_datasets``, streamed.

The three datasets of the paper (:data:`IRDS_DATASETS`):

- ``msmarco-passage/train/triples-small``: the ~40M official training triples by id
  (:func:`iter_triples`, streamed from ``docpairs``), their queries and (grade-1) qrels.
  Its BM25 candidate lists (478M pairs, an 11.5 GB download) are never read.
- ``msmarco-passage/dev/small`` (MSMARCO-DEV): 6,980 queries, sparse grade-1 qrels, the
  official BM25 top-1000; measured with MRR@10 (``RR@10``, rel >= 1) and ``R@1000``.
- ``msmarco-passage/trec-dl-2019/judged`` (TREC-DL'19): 43 queries, graded qrels, the
  official BM25 top-1000; measured with nDCG@10, ``RR(rel=2)@10`` and ``R(rel=2)@1000``.

:func:`measures_for` gives each dataset's measures (:data:`DATASET_MEASURES`).

Candidates (:func:`iter_candidates`) keep the order of the ``scoreddocs`` file and get
descending scores from that order: ``ir_datasets`` reports the MS MARCO top-1000 with
score 0, and a run of ties would be ordered by passage id. Note that MS MARCO published its
top-1000 files in random order within a query, so the file order is not BM25's ranking:
re-ranking all 1000 candidates does not depend on it, a cut below 1000 or the "BM25" run
itself does. Candidate lists are collected a bounded number of queries at a time, so
memory does not grow with the number of queries.

Passage texts (8.8M) are never loaded as a whole: :class:`LazyPassages` reads them from
``docs_store()``, in batches with :meth:`LazyPassages.get_many`. ``ir_datasets`` downloads
on first use (into ``$IR_DATASETS_HOME``); tests inject a loader or point that variable at
a prepared cache.
"""
from __future__ import annotations

import itertools
import types
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

from kdlib.data.datasets import DEFAULT_MEASURE_NAMES, PACK_MEASURES, Dataset
from kdlib.data.examples import Triple

#: The official training triples (by id) of MS MARCO passage.
TRAIN = "msmarco-passage/train/triples-small"
#: MSMARCO-DEV: 6,980 queries with sparse grade-1 judgements and the BM25 top-1000.
DEV = "msmarco-passage/dev/small"
#: TREC-DL'19 passage: the 43 judged queries with graded judgements and the BM25 top-1000.
DL19 = "msmarco-passage/trec-dl-2019/judged"
#: The ir_datasets ids the full-scale profile uses.
IRDS_DATASETS = (TRAIN, DEV, DL19)
#: The name the ``scoreddocs`` of a dataset get in :attr:`Dataset.runs` (MS MARCO's BM25 top-1000).
SCOREDDOCS_RUN = "bm25"

_DL_MEASURES = ("nDCG@10", "RR(rel=2)@10", "R(rel=2)@1000")
#: The measures each dataset is reported with (ir-measures names). MSMARCO-DEV judges with
#: grade 1 only, so its binary measures count rel >= 1; TREC DL counts grade >= 2 as relevant.
#: Datasets of the embedded pack with measures of their own come from
#: :data:`kdlib.data.datasets.PACK_MEASURES` (the MS MARCO dev sample).
DATASET_MEASURES: Mapping[str, tuple[str, ...]] = types.MappingProxyType({
    **PACK_MEASURES,
    DEV: ("RR@10", "R@1000"),
    "msmarco-passage/dev": ("RR@10", "R@1000"),
    DL19: _DL_MEASURES,
    "msmarco-passage/trec-dl-2019": _DL_MEASURES,
    "msmarco-passage/trec-dl-2020/judged": _DL_MEASURES,
    "msmarco-passage/trec-dl-2020": _DL_MEASURES,
})

Loader = Callable[[str], Any]


def _default_loader(name: str) -> Any:
    import ir_datasets  # heavy: imported only when full-scale data is asked for

    return ir_datasets.load(name)


def _load(name: str, loader: Loader | None) -> Any:
    return (loader or _default_loader)(name)


def measures_for(dataset: str, default: Sequence[str] | None = None) -> tuple[str, ...]:
    """The measures ``dataset`` is reported with.

    Args:
        dataset: an ``ir_datasets`` id or a dataset of the embedded pack.
        default: the measures of a dataset not in :data:`DATASET_MEASURES` (``None``: the
            standard four of :data:`kdlib.data.datasets.DEFAULT_MEASURE_NAMES`).

    Returns:
        ir-measures names, e.g. ``("RR@10", "R@1000")`` for MSMARCO-DEV, ``("RR@10", "R@20")``
        for the pack's ``msmarco-dev-sample``.
    """
    if dataset in DATASET_MEASURES:
        return DATASET_MEASURES[dataset]
    if default is not None:
        return tuple(default)
    return DEFAULT_MEASURE_NAMES


class LazyPassages(Mapping[str, str]):
    """A read-only ``pid -> text`` mapping over an ``ir_datasets`` docs store.

    Look-ups go to ``docs_store()``; use :meth:`get_many` for many passages at once (one
    store access per batch). Iterating walks the whole corpus (8.8M passages for MS MARCO).
    """

    def __init__(self, irds_dataset: Any) -> None:
        self._dataset = irds_dataset
        self._store: Any = None

    def _docstore(self) -> Any:
        if self._store is None:
            self._store = self._dataset.docs_store()
        return self._store

    def __getitem__(self, pid: str) -> str:
        try:
            doc = self._docstore().get(pid)
        except KeyError:
            raise KeyError(pid) from None
        if doc is None:
            raise KeyError(pid)
        return doc.text

    def get_many(self, pids: Iterable[str]) -> dict[str, str]:
        """Texts of several passages in one store access (missing ids are left out)."""
        docs = self._docstore().get_many(list(pids))
        return {pid: doc.text for pid, doc in docs.items()}

    def __iter__(self) -> Iterator[str]:
        return (doc.doc_id for doc in self._dataset.docs_iter())

    def __len__(self) -> int:
        count = self._dataset.docs_count()
        # ir_datasets counts a TSV collection only once its docs store is built.
        return int(count if count is not None else self._docstore().count())

    def __contains__(self, pid: object) -> bool:
        try:
            self[pid]  # type: ignore[index]
        except KeyError:
            return False
        return True


def load_queries(name: str, *, loader: Loader | None = None) -> dict[str, str]:
    """``qid -> text`` of a dataset's queries (empty if it has none)."""
    ds = _load(name, loader)
    return {q.query_id: q.text for q in ds.queries_iter()} if ds.has_queries() else {}


def load_passages(name: str, *, loader: Loader | None = None) -> LazyPassages:
    """The passages of a dataset's collection, read lazily from its docs store."""
    return LazyPassages(_load(name, loader))


def load_qrels(name: str, *, loader: Loader | None = None) -> dict[str, dict[str, int]] | None:
    """``qid -> pid -> grade`` of a dataset's judgements (``None`` if it has none)."""
    ds = _load(name, loader)
    if not ds.has_qrels():
        return None
    qrels: dict[str, dict[str, int]] = {}
    for qrel in ds.qrels_iter():
        qrels.setdefault(qrel.query_id, {})[qrel.doc_id] = int(qrel.relevance)
    return qrels


class Candidates(NamedTuple):
    """One query's first-stage candidates, best first.

    Attributes:
        qid: the query id.
        pids: passage ids in rank order (at most the requested depth, no repeats).
        scores: one descending score per passage: the run's own scores where it has
            distinct ones, else ``len(pids) - rank + 1`` (rank 1 scores highest).
    """

    qid: str
    pids: list[str]
    scores: list[float]


def _ranked(qid: str, pids: list[str], scores: list[float], depth: int | None) -> Candidates:
    first: dict[str, int] = {}
    for i, pid in enumerate(pids):
        first.setdefault(pid, i)  # a repeated passage keeps its first (best) position
    order = list(first.values())
    has_scores = len({scores[i] for i in order}) > 1
    if has_scores:
        order.sort(key=lambda i: (-scores[i], i))  # stable: file order breaks ties
    order = order[:depth] if depth is not None else order
    kept = [pids[i] for i in order]
    ranked = [float(scores[i]) for i in order] if has_scores else [float(len(kept) - r) for r in range(len(kept))]
    return Candidates(qid, kept, ranked)


def iter_candidates(
    name: str,
    *,
    depth: int | None = 1000,
    qids: Iterable[str] | None = None,
    queries_per_pass: int = 1000,
    loader: Loader | None = None,
) -> Iterator[Candidates]:
    """Stream a dataset's ``scoreddocs`` (BM25 top-1000) one query at a time, in rank order.

    The file is read in passes; each pass collects the lists of at most
    ``queries_per_pass`` queries, so memory is bounded by that many lists whatever the
    number of queries and whether or not the file groups a query's lines together.

    Args:
        name: an ``ir_datasets`` id with scoreddocs.
        depth: candidates kept per query (``None``: all).
        qids: the queries wanted, in the order they are yielded (default: the dataset's
            queries in file order); queries without candidates are skipped.
        queries_per_pass: how many queries one pass over the file collects.
        loader: ``name -> dataset object`` (default ``ir_datasets.load``).

    Yields:
        :class:`Candidates` (ranks turned into descending scores where the file has none).

    Raises:
        ValueError: the dataset has no scoreddocs, or a bad ``depth`` / ``queries_per_pass``.
    """
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be >= 1 or None, got {depth}")
    if queries_per_pass < 1:
        raise ValueError(f"queries_per_pass must be >= 1, got {queries_per_pass}")
    ds = _load(name, loader)
    if not ds.has_scoreddocs():
        raise ValueError(f"{name} has no scoreddocs (first-stage candidates)")
    if qids is None:
        if not ds.has_queries():
            raise ValueError(f"{name} has no queries: pass the qids whose candidates you want")
        qids = (q.query_id for q in ds.queries_iter())
    wanted = iter(dict.fromkeys(qids))
    while True:
        chunk = list(itertools.islice(wanted, queries_per_pass))
        if not chunk:
            return
        found: dict[str, tuple[list[str], list[float]]] = {qid: ([], []) for qid in chunk}
        for scored in ds.scoreddocs_iter():
            entry = found.get(scored.query_id)
            if entry is not None:
                entry[0].append(scored.doc_id)
                entry[1].append(float(scored.score))
        for qid in chunk:
            pids, scores = found.pop(qid)
            if pids:
                yield _ranked(qid, pids, scores, depth)


def candidate_run(
    name: str, *, depth: int | None = 1000, qids: Iterable[str] | None = None, loader: Loader | None = None
) -> dict[str, dict[str, float]]:
    """The candidates of :func:`iter_candidates` as a run ``qid -> pid -> score`` in memory.

    Fine for TREC-DL'19 (43 x 1000); for MSMARCO-DEV (7M pairs) stream instead.
    """
    return {c.qid: dict(zip(c.pids, c.scores)) for c in iter_candidates(name, depth=depth, qids=qids, loader=loader)}


def load_irds(
    name: str, *, loader: Loader | None = None, candidates: bool = False, depth: int | None = 1000
) -> Dataset:
    """Load an ``ir_datasets`` dataset as a :class:`Dataset` (passages fetched lazily).

    Args:
        name: an ``ir_datasets`` id, e.g. one of :data:`IRDS_DATASETS`.
        loader: ``name -> dataset object`` (default ``ir_datasets.load``); tests pass fakes.
        candidates: also read its ``scoreddocs`` into the ``bm25`` run (top ``depth`` per
            query, see :func:`iter_candidates`). Off by default: a training split's lists
            are huge and no stage needs them.
        depth: candidates per query when ``candidates`` is set (``None``: all).

    Returns:
        queries, lazy passages, qrels (``None`` if it has none) and, if asked for and
        present, the ``bm25`` run.
    """
    ds = _load(name, loader)
    fixed: Loader = lambda _name: ds  # noqa: E731 - every helper reads the same object
    qrels = load_qrels(name, loader=fixed)
    runs: dict[str, Mapping[str, Mapping[str, float]]] = {}
    if candidates and ds.has_scoreddocs():
        qids = None if ds.has_queries() else {s.query_id: None for s in ds.scoreddocs_iter()}
        runs[SCOREDDOCS_RUN] = types.MappingProxyType(candidate_run(name, depth=depth, qids=qids, loader=fixed))
    return Dataset(
        name=name,
        queries=types.MappingProxyType(load_queries(name, loader=fixed)),
        passages=LazyPassages(ds),
        qrels=None if qrels is None else types.MappingProxyType(qrels),
        runs=types.MappingProxyType(runs),
    )


def iter_triples(name: str = TRAIN, *, loader: Loader | None = None) -> Iterator[Triple]:
    """Stream the training triples (``docpairs``) of an ``ir_datasets`` dataset as :class:`Triple`.

    For :data:`TRAIN` these are the ~40M official ``triples.train.small`` by id, in file order.

    Raises:
        ValueError: the dataset has no docpairs.
    """
    ds = _load(name, loader)
    if not ds.has_docpairs():
        raise ValueError(f"{name} has no docpairs (training triples)")
    for pair in ds.docpairs_iter():
        yield Triple(pair.query_id, pair.doc_id_a, pair.doc_id_b)


#: The earlier name of :func:`iter_triples`.
irds_triples = iter_triples
