"""Dense retrieval: faiss results agree with the BERT_DOT ranker's own scores."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kdlib.core.errors import FormatError
from kdlib.eval import dense

WORDS = (
    "coffee caffeine tea sleep heart rate blood pressure river bank loan interest money "
    "python snake code language machine learning retrieval ranking passage query search "
    "engine index vector dot product neural model teacher student margin distillation"
).split()


def _corpus(n: int, seed: int = 0) -> dict[str, str]:
    rng = np.random.default_rng(seed)
    return {f"p{i}": " ".join(rng.choice(WORDS, size=int(rng.integers(3, 30)))) for i in range(n)}


class _Queries:
    """The part of a kdlib Dataset that dense retrieval reads."""

    def __init__(self, queries: dict[str, str]) -> None:
        self.name = "synthetic"
        self.queries = queries


@pytest.fixture(scope="module")
def ranker():
    from kdlib.models import build

    torch.manual_seed(0)
    # Mean pooling: the random tiny encoder's CLS vector barely depends on the text (its
    # attention weights are ~0.02), so CLS scores would all tie; token means do not.
    return build("bert_dot", "tiny-random", query_max_len=16, passage_max_len=48, pooling="mean").eval()


def test_flat_run_equals_ranker_scores(ranker):
    corpus = _corpus(40)
    queries = {"q1": "coffee heart rate", "q2": "neural ranking model", "q3": "river bank loan"}
    result = dense.dense_retrieval(ranker, _Queries(queries), corpus, index_kinds=("Flat",), k=10, batch_size=8, bf16=False)
    run = result.runs["Flat"]
    pids = list(corpus)
    for qid, text in queries.items():
        exact = dict(zip(pids, ranker.score([text] * len(pids), [corpus[p] for p in pids], batch_size=16).tolist()))
        retrieved = list(run[qid])
        assert len(retrieved) == 10
        # Dense scores are the ranker's own scores of the same pairs ...
        np.testing.assert_allclose([run[qid][p] for p in retrieved], [exact[p] for p in retrieved], atol=1e-3, rtol=0)
        assert list(run[qid].values()) == sorted(run[qid].values(), reverse=True)
        # ... and they are the exact top 10 (up to ties within the tolerance).
        left_out = max(exact[p] for p in pids if p not in run[qid])
        assert min(exact[p] for p in retrieved) >= left_out - 1e-3
    assert result.n_passages == 40
    assert result.index_bytes["Flat"] >= 40 * result.dim * 4
    assert result.encode_seconds > 0 and result.search_ms_per_query["Flat"] > 0
    assert list(result.table()["index"]) == ["Flat"]


def test_encode_corpus_restores_input_order(ranker):
    corpus = _corpus(13, seed=1)
    encoded = dense.encode_corpus(ranker, corpus, batch_size=4, bf16=False)
    assert encoded.ids == list(corpus)
    assert encoded.vectors.dtype == np.float32 and encoded.vectors.shape == (13, encoded.dim)
    for row in (0, 5, 12):
        single = dense.encode_corpus(ranker, {encoded.ids[row]: corpus[encoded.ids[row]]}, bf16=False)
        np.testing.assert_allclose(single.vectors[0], encoded.vectors[row], atol=1e-4)


def test_encode_corpus_streams_in_windows_with_the_same_vectors(ranker):
    corpus = _corpus(13, seed=2)
    whole = dense.encode_corpus(ranker, corpus, batch_size=4, bf16=False)
    streamed = dense.encode_corpus(ranker, corpus, batch_size=4, bf16=False, window=5)
    assert streamed.ids == whole.ids
    np.testing.assert_allclose(streamed.vectors, whole.vectors, atol=1e-4)
    with pytest.raises(ValueError, match="window must be >= 1"):
        dense.encode_corpus(ranker, corpus, window=0)


def test_hnsw_recall_against_flat():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 32)).astype(np.float32)
    queries = rng.normal(size=(50, 32)).astype(np.float32)
    ids = [f"p{i}" for i in range(len(vectors))]
    flat = dense.search(dense.build_index(vectors, "Flat"), ids, queries, 10)
    hnsw_index = dense.build_index(vectors, "HNSW32", ef_search=64)
    hnsw = dense.search(hnsw_index, ids, queries, 10)
    recall = np.mean([len(set(flat[q]) & set(hnsw[q])) / 10 for q in flat])
    assert recall >= 0.9
    # A graph index stores its links on top of the vectors.
    assert dense.index_size_bytes(hnsw_index) > dense.index_size_bytes(dense.build_index(vectors, "Flat"))


def test_dense_retrieval_reports_every_index_kind(ranker):
    corpus = _corpus(30, seed=2)
    result = dense.dense_retrieval(ranker, _Queries({"a": "tea sleep"}), corpus, index_kinds=("Flat", "HNSW32"), k=5)
    assert set(result.runs) == set(result.index_bytes) == {"Flat", "HNSW32"}
    assert all(size > 0 for size in result.index_bytes.values())
    assert all(len(run["a"]) == 5 for run in result.runs.values())


def test_search_depth_beyond_corpus_and_query_ids():
    vectors = np.eye(4, dtype=np.float32)
    run = dense.search(dense.build_index(vectors, "Flat"), ["a", "b", "c", "d"], vectors[[2]] * 3, 100, query_ids=["q"])
    assert list(run) == ["q"] and len(run["q"]) == 4
    assert next(iter(run["q"].items())) == ("c", pytest.approx(3.0))
    with pytest.raises(ValueError, match="corpus ids"):
        dense.search(dense.build_index(vectors, "Flat"), ["a"], vectors, 2)


def test_save_and_load_index(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(20, 8)).astype(np.float32)
    ids = [f"p{i}" for i in range(20)]
    path = tmp_path / "sub" / "flat.faiss"
    dense.save_index(dense.build_index(vectors), ids, path)
    index, loaded_ids = dense.load_index(path)
    assert loaded_ids == ids and index.ntotal == 20
    assert sorted(p.name for p in path.parent.iterdir()) == ["flat.faiss", "flat.faiss.ids"]  # no temp files left

    (tmp_path / "bad.faiss").write_bytes(b"not an index")
    with pytest.raises(FormatError, match="bad.faiss"):
        dense.load_index(tmp_path / "bad.faiss")
    path.with_name("flat.faiss.ids").write_text("p1\np2\n")
    with pytest.raises(FormatError, match="20 passage ids"):
        dense.load_index(path)


def test_non_dot_ranker_is_rejected():
    class Cat:
        supports_passage_cache = False

    with pytest.raises(TypeError, match="BERT_DOT"):
        dense.encode_corpus(Cat(), {"p": "text"})
