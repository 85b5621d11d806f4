"""Full-scale data (the paper's setup) through ``ir_datasets``, in the :class:`Dataset` shape.

- ``msmarco-passage/train/triples-small``: training queries, their qrels, and the ~40M
  official training triples (:func:`irds_triples`), which the paper's teachers score.
- ``msmarco-passage/dev/small``: 6,980 queries, sparse qrels, BM25 top-1000 (``bm25`` run).
- ``msmarco-passage/trec-dl-2019/judged``: 43 queries, graded qrels, BM25 top-1000.

Passage texts (8.8M) are not loaded: :class:`LazyPassages` fetches them from
``docs_store()`` when a model asks. ``ir_datasets`` downloads on first use; tests inject a
fake loader built from ``ir_datasets``' own record types.
"""
from __future__ import annotations

import types
from typing import Any, Callable, Iterable, Iterator, Mapping

from kdlib.data.datasets import Dataset
from kdlib.data.triples import Triple

#: The ir_datasets ids the full-scale profile uses.
IRDS_DATASETS = (
    "msmarco-passage/train/triples-small",
    "msmarco-passage/dev/small",
    "msmarco-passage/trec-dl-2019/judged",
)
#: The name the ``scoreddocs`` of a dataset get in :attr:`Dataset.runs` (MS MARCO's BM25 top-1000).
SCOREDDOCS_RUN = "bm25"

Loader = Callable[[str], Any]


def _default_loader(name: str) -> Any:
    import ir_datasets  # heavy: imported only when full-scale data is asked for

    return ir_datasets.load(name)


class LazyPassages(Mapping[str, str]):
    """A read-only ``pid -> text`` mapping over an ``ir_datasets`` docs store.

    Look-ups go to ``docs_store().get``; iterating walks the whole corpus (8.8M passages
    for MS MARCO), so prefer look-ups and :meth:`get_many`.
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
        return int(self._dataset.docs_count())

    def __contains__(self, pid: object) -> bool:
        try:
            self[pid]  # type: ignore[index]
        except KeyError:
            return False
        return True


def load_irds(name: str, *, loader: Loader | None = None) -> Dataset:
    """Load an ``ir_datasets`` dataset as a :class:`Dataset` (passages fetched lazily).

    Args:
        name: an ``ir_datasets`` id, e.g. one of :data:`IRDS_DATASETS`.
        loader: ``name -> dataset object`` (default ``ir_datasets.load``); tests pass fakes.

    Returns:
        queries, lazy passages, qrels (``None`` if it has none) and its ``scoreddocs`` as
        the ``bm25`` run (no runs if it has none).
    """
    ds = (loader or _default_loader)(name)
    queries = {q.query_id: q.text for q in ds.queries_iter()} if ds.has_queries() else {}
    qrels = None
    if ds.has_qrels():
        collected: dict[str, dict[str, int]] = {}
        for qrel in ds.qrels_iter():
            collected.setdefault(qrel.query_id, {})[qrel.doc_id] = int(qrel.relevance)
        qrels = types.MappingProxyType(collected)
    runs: dict[str, Mapping[str, Mapping[str, float]]] = {}
    if ds.has_scoreddocs():
        run: dict[str, dict[str, float]] = {}
        for scored in ds.scoreddocs_iter():
            run.setdefault(scored.query_id, {})[scored.doc_id] = float(scored.score)
        runs[SCOREDDOCS_RUN] = types.MappingProxyType(run)
    return Dataset(
        name=name,
        queries=types.MappingProxyType(queries),
        passages=LazyPassages(ds),
        qrels=qrels,
        runs=types.MappingProxyType(runs),
    )


def irds_triples(name: str = IRDS_DATASETS[0], *, loader: Loader | None = None) -> Iterator[Triple]:
    """Stream the training triples (``docpairs``) of an ``ir_datasets`` dataset as :class:`Triple`.

    Raises:
        ValueError: the dataset has no docpairs.
    """
    ds = (loader or _default_loader)(name)
    if not ds.has_docpairs():
        raise ValueError(f"{name} has no docpairs (training triples)")
    for pair in ds.docpairs_iter():
        yield Triple(pair.query_id, pair.doc_id_a, pair.doc_id_b)
