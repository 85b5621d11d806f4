"""Every architecture with the real MiniLM weights on a real TREC DL 2019 query and its BM25 top 10."""
from __future__ import annotations

import json

import pytest
import torch

from kdlib.data import pack_dir
from kdlib.models import ARCHITECTURES, build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def query_and_top10() -> tuple[str, list[str]]:
    # Found like every other test's data ($KDLIB_DATA, data/trec-dl, ../shared/data/trec-dl):
    # a missing pack fails with the pack finder's instructions instead of skipping silently.
    first = json.loads((pack_dir() / "rank_llm" / "BM25" / "retrieve_results_dl19.json").read_text())[0]
    return first["query"], [hit["content"] for hit in first["hits"][:10]]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_minilm_scores_bm25_top10(arch, query_and_top10):
    query, passages = query_and_top10
    torch.manual_seed(0)
    ranker = build(arch, "minilm", num_layers=3, attn_implementation="sdpa")
    assert ranker.encoder.config.hidden_size == 384 if arch != "tk" else ranker.embeddings.embedding_dim == 384
    with torch.autocast("cpu", dtype=torch.bfloat16):
        scores = ranker.score([query] * len(passages), passages, batch_size=10)
    assert scores.shape == (10,) and torch.isfinite(scores).all()
    assert scores.std() > 0  # the passages are told apart
    cache = ranker.encode_passages(passages)
    torch.testing.assert_close(ranker.score_cached(query, cache), ranker.score([query] * 10, passages), atol=1e-3, rtol=1e-4)
