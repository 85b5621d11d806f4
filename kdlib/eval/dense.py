"""Dense retrieval with a BERT_DOT ranker and a faiss nearest-neighbour index.

BERT_DOT encodes query and passage independently into single vectors and scores by their
dot product, ``s(q, p) = e_q · e_p``. The passage vectors can therefore be computed once,
put into a maximum-inner-product index, and the top-k passages of a query found without
any candidate run: the paper's dense-retrieval table (Hofstätter et al. 2020, Table 3)
indexes all 8.8M MS MARCO passages this way (12.7 GB at 768 dims in fp16).

Here: :func:`encode_corpus` (passage vectors), :func:`encode_queries` (query vectors),
:func:`build_index` (``faiss.index_factory`` with ``METRIC_INNER_PRODUCT``), :func:`search`
(a run ``qid -> pid -> score``), and :func:`dense_retrieval`, which ties them together and
measures index size, encoding time and search time per query. Indexes can be stored with
:func:`save_index` (atomically) and read back with :func:`load_index`.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kdlib.core.artifacts import atomic_path, write_atomic
from kdlib.core.errors import FormatError
from kdlib.runtime.inference import inference_context

if TYPE_CHECKING:  # pragma: no cover
    import faiss

Run = dict[str, dict[str, float]]

#: Passages per call of the ranker's encoder: large enough to batch well, small enough for tqdm to move.
_CHUNK_BATCHES = 16


@dataclass(frozen=True)
class DenseCorpus:
    """Passage vectors of a corpus, in the order of ``ids``.

    Attributes:
        ids: passage ids; row ``i`` of ``vectors`` belongs to ``ids[i]``.
        vectors: ``(n, dim)`` float32 array of passage vectors ``e_p``.
    """

    ids: list[str]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.ids):
            raise ValueError(f"DenseCorpus: expected {len(self.ids)} x dim vectors, got shape {self.vectors.shape}")

    @property
    def dim(self) -> int:
        """The vector width."""
        return int(self.vectors.shape[1])


@dataclass
class DenseResult:
    """Runs and costs of dense retrieval with one encoder and several index types.

    Attributes:
        runs: index kind -> run (``qid -> pid -> score``, the top ``k`` per query).
        index_bytes: index kind -> size of the serialised index in bytes.
        build_seconds: index kind -> seconds to build (train + add) the index.
        search_ms_per_query: index kind -> search wall time per query in ms (all queries in one call).
        encode_seconds: seconds to encode the whole corpus (passage vectors).
        query_encode_ms_per_query: query encoding wall time per query in ms.
        n_passages: corpus size.
        dim: vector width.
        k: run depth per query.
    """

    runs: dict[str, Run]
    index_bytes: dict[str, int]
    build_seconds: dict[str, float]
    search_ms_per_query: dict[str, float]
    encode_seconds: float
    query_encode_ms_per_query: float
    n_passages: int
    dim: int
    k: int = 1000

    def table(self) -> Any:
        """One row per index kind: size (MB), build time, query time (a pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "index": kind,
                    "passages": self.n_passages,
                    "dim": self.dim,
                    "index_MB": self.index_bytes[kind] / 2**20,
                    "build_s": self.build_seconds[kind],
                    "search_ms_per_query": self.search_ms_per_query[kind],
                    "query_encode_ms_per_query": self.query_encode_ms_per_query,
                    "corpus_encode_s": self.encode_seconds,
                }
                for kind in self.runs
            ]
        )


def _as_float32(vectors: Any, what: str) -> np.ndarray:
    """A ranker's vectors (tensor or array) as a C-contiguous float32 numpy array."""
    import torch

    if isinstance(vectors, torch.Tensor):
        vectors = vectors.detach().float().cpu().numpy()
    array = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if array.ndim != 2:
        raise TypeError(f"{what}: expected (n, dim) vectors from a BERT_DOT ranker, got shape {array.shape}")
    return array


def _encode_sorted(
    encode: Any, texts: Sequence[str], *, batch_size: int, what: str, progress: bool
) -> np.ndarray:
    """Encode ``texts`` in order of length (less padding per batch) and restore the input order."""
    from tqdm import tqdm

    order = np.argsort([len(t) for t in texts], kind="stable")
    chunk = max(batch_size * _CHUNK_BATCHES, 1)
    parts = []
    with tqdm(total=len(texts), desc=f"encode {what}", unit=what, disable=not progress) as bar:
        for start in range(0, len(order), chunk):
            batch = [texts[i] for i in order[start : start + chunk]]
            parts.append(_as_float32(encode(batch, batch_size=batch_size), what))
            bar.update(len(batch))
    if not parts:
        raise ValueError(f"encode {what}: nothing to encode")
    sorted_vectors = np.concatenate(parts)
    vectors = np.empty_like(sorted_vectors)
    vectors[order] = sorted_vectors  # row order[j] of the input got the j-th sorted vector
    return vectors


def _require_dot_ranker(ranker: Any) -> None:
    if not getattr(ranker, "supports_passage_cache", False) or not hasattr(ranker, "encode_passages"):
        raise TypeError(f"dense retrieval needs a BERT_DOT ranker with encode_passages, got {type(ranker).__name__}")
    if not hasattr(ranker, "encode_queries"):
        raise TypeError(f"dense retrieval needs a ranker with encode_queries (query vectors), got {type(ranker).__name__}")


#: Passages whose texts are held in memory at once while a corpus is encoded: MS MARCO's 8.8M
#: texts (about 3 GB) are streamed in windows of this many, each fetched in one look-up.
STREAM_WINDOW = 65_536


def encode_corpus(
    ranker: Any,
    passages: Mapping[str, str],
    *,
    batch_size: int = 128,
    bf16: bool = True,
    progress: bool = False,
    window: int = STREAM_WINDOW,
) -> DenseCorpus:
    """Encode every passage into its BERT_DOT vector ``e_p``, streamed in windows.

    The texts of ``window`` passages at a time are fetched in one look-up (a docs store's
    ``get_many`` at full scale) and sorted by length before batching (less padding); the
    vectors are put back into the order of ``passages``. A corpus smaller than one window is
    encoded exactly as one sorted block.

    Args:
        ranker: a ``bert_dot`` ranker (``encode_passages(texts, batch_size=) -> (n, dim)``).
        passages: pid -> passage text.
        batch_size: passages per forward pass.
        bf16: bf16 autocast (off for exact fp32 comparisons).
        progress: show a tqdm bar (passages/s).
        window: passages fetched and length-sorted together.

    Returns:
        The ids and float32 vectors.

    Raises:
        ValueError: a passage has no text, or ``window`` < 1.
    """
    from tqdm import tqdm

    from kdlib.data.teacher_stream import fetch_texts

    _require_dot_ranker(ranker)
    if window < 1:
        raise ValueError(f"encode_corpus: window must be >= 1, got {window}")
    ids = list(passages)
    parts = []
    with inference_context(ranker, bf16=bf16), tqdm(total=len(ids), desc="encode passages", unit="passage",
                                                     disable=not progress) as bar:
        for start in range(0, len(ids), window):
            chunk = ids[start:start + window]
            texts = fetch_texts(passages, chunk)
            missing = [pid for pid in chunk if pid not in texts]
            if missing:
                raise ValueError(f"encode_corpus: {len(missing)} passages have no text (e.g. {missing[:3]})")
            parts.append(_encode_sorted(ranker.encode_passages, [texts[pid] for pid in chunk], batch_size=batch_size,
                                        what="passages", progress=False))
            bar.update(len(chunk))
    if not parts:
        raise ValueError("encode passages: nothing to encode")
    return DenseCorpus(ids, np.concatenate(parts))


def encode_queries(
    ranker: Any, queries: Sequence[str], *, batch_size: int = 128, bf16: bool = True
) -> np.ndarray:
    """Encode query texts into their BERT_DOT vectors ``e_q``, shape ``(n, dim)`` float32."""
    _require_dot_ranker(ranker)
    with inference_context(ranker, bf16=bf16):
        return _encode_sorted(ranker.encode_queries, list(queries), batch_size=batch_size, what="queries", progress=False)


def build_index(vectors: np.ndarray, kind: str = "Flat", *, ef_search: int | None = None) -> faiss.Index:
    """A faiss maximum-inner-product index over ``vectors``.

    Args:
        vectors: ``(n, dim)`` passage vectors (float32).
        kind: a ``faiss.index_factory`` string: ``"Flat"`` (exact search),
            ``"HNSW32"`` (graph, 32 links per node), ``"IVF256,Flat"``, ``"HNSW32,SQfp16"``, ...
            Kinds that need training are trained on ``vectors`` themselves.
        ef_search: HNSW search breadth (``None``: faiss' default; a search for ``k``
            results always explores at least ``k`` candidates).

    Returns:
        The filled index (metric: inner product, as BERT_DOT scores by dot product).
    """
    import faiss

    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError(f"build_index: expected non-empty (n, dim) vectors, got shape {data.shape}")
    index = faiss.index_factory(data.shape[1], kind, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(data)
    index.add(data)
    if ef_search is not None:
        faiss.ParameterSpace().set_index_parameter(index, "efSearch", ef_search)
    return index


def index_size_bytes(index: faiss.Index) -> int:
    """Size of the serialised index in bytes (what it takes on disk and, roughly, in memory)."""
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def search(
    index: faiss.Index,
    corpus_ids: Sequence[str],
    query_vectors: np.ndarray,
    k: int,
    *,
    query_ids: Sequence[str] | None = None,
) -> Run:
    """The top-``k`` passages of each query by inner product, as a run ``qid -> pid -> score``.

    Args:
        index: an index built over vectors in the order of ``corpus_ids``.
        corpus_ids: passage id of each index row.
        query_vectors: ``(nq, dim)`` query vectors.
        k: results per query (fewer when the corpus is smaller).
        query_ids: id of each query vector (``None``: ``"0"``, ``"1"``, ...).

    Returns:
        The run; scores are the inner products ``e_q · e_p`` the index reports.
    """
    queries = np.ascontiguousarray(query_vectors, dtype=np.float32)
    if queries.ndim != 2:
        raise ValueError(f"search: expected (nq, dim) query vectors, got shape {queries.shape}")
    if index.ntotal != len(corpus_ids):
        raise ValueError(f"search: the index holds {index.ntotal} vectors but {len(corpus_ids)} corpus ids were given")
    qids = [str(i) for i in range(len(queries))] if query_ids is None else list(query_ids)
    if len(qids) != len(queries):
        raise ValueError(f"search: {len(qids)} query ids for {len(queries)} query vectors")
    scores, rows = index.search(queries, min(k, index.ntotal))
    run: Run = {}
    for qid, q_scores, q_rows in zip(qids, scores, rows):
        # faiss pads with row -1 when it finds fewer than k neighbours.
        run[qid] = {corpus_ids[r]: float(s) for s, r in zip(q_scores, q_rows) if r >= 0}
    return run


def dense_retrieval(
    ranker: Any,
    dataset: Any,
    corpus: Mapping[str, str],
    *,
    index_kinds: Sequence[str] = ("Flat", "HNSW32"),
    k: int = 1000,
    batch_size: int = 128,
    bf16: bool = True,
    progress: bool = False,
    encoded: DenseCorpus | None = None,
) -> DenseResult:
    """Retrieve the top ``k`` passages of every query of ``dataset`` from ``corpus``.

    The corpus is encoded once; each index kind is built over the same vectors, so the
    runs differ only by the index's approximation (``Flat`` is exact).

    Args:
        ranker: a ``bert_dot`` ranker.
        dataset: a :class:`kdlib.data.Dataset`; its ``queries`` are searched.
        corpus: pid -> passage text (e.g. ``dataset.passages`` or the whole pack's passages).
        index_kinds: ``faiss.index_factory`` strings to compare.
        k: run depth per query (paper: 1000).
        batch_size: texts per forward pass.
        bf16: bf16 autocast during encoding.
        progress: show tqdm bars.
        encoded: ``corpus`` already encoded by this ranker (:func:`encode_corpus`), e.g. for a
            second query set over the same collection; its encoding time is then reported as 0.

    Returns:
        Runs, index sizes, and encode, build and search times.
    """
    if not index_kinds:
        raise ValueError("dense_retrieval: expected at least one index kind")
    start = time.perf_counter()
    dense = encoded if encoded is not None else encode_corpus(ranker, corpus, batch_size=batch_size, bf16=bf16,
                                                              progress=progress)
    encode_seconds = time.perf_counter() - start

    qids = list(dataset.queries)
    start = time.perf_counter()
    query_vectors = encode_queries(ranker, [dataset.queries[q] for q in qids], batch_size=batch_size, bf16=bf16)
    query_encode_ms = 1000.0 * (time.perf_counter() - start) / max(len(qids), 1)

    runs, sizes, build_s, search_ms = {}, {}, {}, {}
    for kind in index_kinds:
        start = time.perf_counter()
        index = build_index(dense.vectors, kind)
        build_s[kind] = time.perf_counter() - start
        sizes[kind] = index_size_bytes(index)
        start = time.perf_counter()
        runs[kind] = search(index, dense.ids, query_vectors, k, query_ids=qids)
        search_ms[kind] = 1000.0 * (time.perf_counter() - start) / max(len(qids), 1)
    return DenseResult(
        runs=runs,
        index_bytes=sizes,
        build_seconds=build_s,
        search_ms_per_query=search_ms,
        encode_seconds=encode_seconds,
        query_encode_ms_per_query=query_encode_ms,
        n_passages=len(dense.ids),
        dim=dense.dim,
        k=k,
    )


def save_index(index: faiss.Index, corpus_ids: Sequence[str], path: str | os.PathLike) -> None:
    """Write ``index`` to ``path`` and its row ids to ``path + ".ids"``, each atomically.

    The ids are written first, so a reader that finds the index also finds its ids.
    """
    import faiss

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target.with_name(target.name + ".ids"), "".join(f"{pid}\n" for pid in corpus_ids))
    with atomic_path(target) as tmp:
        faiss.write_index(index, str(tmp))


def load_index(path: str | os.PathLike) -> tuple[faiss.Index, list[str]]:
    """Read an index and its row ids written by :func:`save_index`.

    Raises:
        FormatError: the file is not a faiss index, or its id file does not match it.
    """
    import faiss

    target = Path(path)
    ids_path = target.with_name(target.name + ".ids")
    try:
        index = faiss.read_index(os.fspath(target))
    except RuntimeError as exc:
        raise FormatError(target, 0, "a faiss index written by kdlib.eval.dense.save_index", str(exc).strip()) from exc
    if not ids_path.is_file():
        raise FormatError(ids_path, 0, "one passage id per line next to the index", "no such file")
    ids = ids_path.read_text(encoding="utf-8").splitlines()
    for line_no, pid in enumerate(ids, start=1):
        if not pid.strip() or pid != pid.strip():
            raise FormatError(ids_path, line_no, "a passage id without surrounding whitespace", pid)
    if len(ids) != index.ntotal:
        raise FormatError(ids_path, len(ids), f"{index.ntotal} passage ids (one per index row)", f"{len(ids)} lines")
    return index, ids
