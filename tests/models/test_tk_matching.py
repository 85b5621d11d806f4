"""TK as the paper's TK: an untrained TK already sees exact matches, and query and passage
positions differ.

On real TREC DL 2019 pairs with SPLADE-tiny's word pieces, an untrained TK must put every
exact query/passage term match in the mu = 1 kernel (cosine closer to 1.0 than to 0.9) and
above every non-matching pair. Before the embedding rescale, the word pieces (norm ~0.7) were
swamped by the position sinusoids (norm ~8) and exact matches had cosines around 0.25.
"""
from __future__ import annotations

import math

import pytest
import torch

from kdlib.models import build
from kdlib.models.tk import KERNEL_MUS, PASSAGE_POSITION_OFFSET, scaled_embeddings


@pytest.fixture(scope="module")
def dl19_pairs():
    from kdlib.data import load_dataset

    dataset = load_dataset("trec-dl-2019")
    pairs = []
    for qid in dataset.judged_qids()[:8]:
        judged = dataset.qrels[qid]
        best = max((p for p in judged if p in dataset.passages), key=judged.get)
        pairs.append((dataset.queries[qid], dataset.passages[best]))
    return pairs


def _match_cosines(tk, query: str, passage: str):
    features = tk.tokenize([query], [passage])
    with torch.no_grad():
        q = tk.contextualize(features["query_input_ids"], features["query_attention_mask"], passage=False)[0]
        p = tk.contextualize(features["passage_input_ids"], features["passage_attention_mask"], passage=True)[0]
    cosine = q @ p.T
    q_ids, p_ids = features["query_input_ids"][0], features["passage_input_ids"][0]
    exact = q_ids[:, None] == p_ids[None, :]
    return cosine[exact], cosine[~exact]


def test_untrained_tk_puts_exact_matches_in_the_mu1_kernel(dl19_pairs):
    torch.manual_seed(0)
    tk = build("tk", "splade-tiny", query_max_len=30, passage_max_len=128, dropout=0.0)
    mus = torch.tensor(KERNEL_MUS)
    found = 0
    for query, passage in dl19_pairs:
        exact, other = _match_cosines(tk, query, passage)
        if exact.numel() == 0:
            continue
        found += 1
        nearest_kernel = mus[(exact[:, None] - mus[None, :]).abs().argmin(dim=1)]
        assert (nearest_kernel == 1.0).all(), f"exact-match cosines {exact.tolist()} miss the mu=1 kernel"
        assert exact.min() > other.max(), f"an exact match ({exact.min():.3f}) is below a non-match ({other.max():.3f})"
    assert found >= 5


def test_embedding_scale_keeps_directions_and_sets_the_mean_norm():
    weights = torch.randn(50, 16) * 0.1
    scaled = scaled_embeddings(weights, 3.0)
    assert scaled.norm(dim=1).mean().item() == pytest.approx(3.0 * math.sqrt(16), rel=1e-5)
    assert torch.allclose(torch.nn.functional.normalize(scaled, dim=1), torch.nn.functional.normalize(weights, dim=1),
                          atol=1e-6)
    assert scaled_embeddings(weights, None) is weights
    assert torch.equal(scaled_embeddings(torch.zeros(3, 4), 3.0), torch.zeros(3, 4))  # placeholder before loading


def test_query_and_passage_positions_differ():
    torch.manual_seed(0)
    tk = build("tk", "tiny-random", query_max_len=8, passage_max_len=8, dropout=0.0)
    ids = torch.tensor([[2023, 2003, 1037]])
    mask = torch.ones_like(ids)
    with torch.no_grad():
        as_query = tk.contextualize(ids, mask, passage=False)
        as_passage = tk.contextualize(ids, mask, passage=True)
    # The same text gets different vectors as query and as passage (different positions) ...
    assert not torch.allclose(as_query, as_passage, atol=1e-4)
    # ... and the passage positions are the sinusoids from PASSAGE_POSITION_OFFSET on.
    assert torch.equal(tk.positions[PASSAGE_POSITION_OFFSET], tk.positions[PASSAGE_POSITION_OFFSET:][0])
    assert not torch.allclose(tk.positions[0], tk.positions[PASSAGE_POSITION_OFFSET])


def test_saved_tk_keeps_its_scaled_embeddings(tmp_path):
    from kdlib.models import load

    torch.manual_seed(0)
    tk = build("tk", "tiny-random", query_max_len=8, passage_max_len=16, dropout=0.0)
    tk.save_pretrained(tmp_path / "tk")
    again = load(tmp_path / "tk")
    assert torch.equal(again.embeddings.weight, tk.embeddings.weight)
    scores = tk.score(["a query"], ["a passage about a query"])
    assert torch.allclose(again.score(["a query"], ["a passage about a query"]), scores, atol=1e-5)
