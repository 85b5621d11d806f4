"""ColBERT's late interaction against NumPy: ``s = sum_i max_j q_i . p_j`` over real tokens only.

The hand-made batch puts the largest dot product of a query token on a *padded* passage
slot, so a max that looks at padding, or a soft maximum (logsumexp), gives another score.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kdlib.models import build
from kdlib.models.colbert import max_sim
from numpy_reference import NumpyBert, linear, pieces, randomize_encoder


def reference_max_sim(query, query_mask, passage, passage_mask):
    scores = []
    for q, qm, p, pm in zip(query, query_mask, passage, passage_mask):
        real_p = p[np.asarray(pm, dtype=bool)]
        scores.append(sum(max(float(qi @ pj) for pj in real_p) for qi, m in zip(q, qm) if m))
    return np.array(scores)


def test_max_sim_on_hand_made_vectors():
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 3, 8))
    passage = rng.normal(size=(2, 4, 8))
    query_mask = np.array([[1, 1, 1], [1, 1, 0]])
    passage_mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]])
    passage[0, 3] = 10 * query[0, 0]  # padded, and by far the best match of query token 0
    passage[1, 2] = 10 * query[1, 1]
    query[1, 2] = 10 * passage[1, 0]  # a padded query token with a large match: adds nothing
    # Two near-equal real maxima: a soft maximum (logsumexp) would add about log 2.
    passage[0, 1] = query[0, 2] * 0.5
    passage[0, 2] = query[0, 2] * 0.5 + 1e-3
    as_tensor = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    scores = max_sim(as_tensor(query), torch.tensor(query_mask), as_tensor(passage), torch.tensor(passage_mask))
    np.testing.assert_allclose(scores.numpy(), reference_max_sim(query, query_mask, passage, passage_mask),
                               rtol=1e-5, atol=1e-5)


def test_max_sim_of_one_token_pair_is_their_dot_product():
    q = torch.tensor([[[1.0, 2.0, -1.0]]])
    p = torch.tensor([[[0.5, -1.0, 3.0], [100.0, 100.0, 100.0]]])
    one = torch.ones(1, 1, dtype=torch.long)
    assert max_sim(q, one, p, torch.tensor([[1, 0]])).item() == pytest.approx(0.5 - 2.0 - 3.0)


QUERIES = ["what is a flea", "flea life cycle stages"]
PASSAGES = ["Fleas are small wingless insects that feed on blood.", "Eggs hatch."]


@pytest.mark.parametrize("options", [{"query_augmentation": 2}, {"compression_dim": 8}])
def test_colbert_scores_match_numpy_encoder_and_max_sim(options):
    torch.manual_seed(0)
    ranker = build("colbert", "tiny-random", query_max_len=8, passage_max_len=12, dropout=0.0, **options)
    randomize_encoder(ranker.encoder)
    ranker.eval()
    with torch.no_grad():
        scores = ranker(ranker.tokenize(QUERIES, PASSAGES)).numpy()
    bert, tok = NumpyBert(ranker.encoder), ranker.tokenizer
    cls, sep, mask = tok.cls_token_id, tok.sep_token_id, tok.mask_token_id
    augmentation = [mask] * options.get("query_augmentation", 0)
    expected = []
    for query, passage in zip(QUERIES, PASSAGES):
        q = bert.encode([cls, *pieces(tok, query, 8), sep, *augmentation])
        p = bert.encode([cls, *pieces(tok, passage, 12), sep])
        if ranker.compressor is not None:
            q, p = linear(q, ranker.compressor), linear(p, ranker.compressor)
        expected.append(sum(max(qi @ pj for pj in p) for qi in q))
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
