"""PreTT's split score against a NumPy BERT run layer by layer (tests/numpy_reference.py).

    h_q = L_1..k(emb([CLS] q [SEP], positions 0.., segment 0))
    h_p = L_1..k(emb(p [SEP], positions query_max_len + 2 + 0.., segment 1))
    s   = w . L_k+1..n([h_q ; h_p])[CLS] + b

The reference runs the lower layers on the query alone and on the passage alone, then the
upper layers on their concatenation: a query that skipped its lower layers, a passage whose
positions restarted at 0, or a passage that saw the query too early all give other scores.
With ``split_layer = 0`` PreTT is BERT_CAT: the passage follows the query's actual length.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kdlib.models import build
from numpy_reference import NumpyBert, linear, pieces, randomize_encoder

QUERIES = ["what is a flea", "flea", "how long does the flea life cycle take"]
PASSAGES = [
    "Fleas are small wingless insects that feed on blood.",
    "The life cycle of a flea has four stages: egg, larva, pupa and adult.",
    "Cats.",
]
Q_MAX, P_MAX = 10, 12  # every query above is shorter than Q_MAX: the passage offset is not its length


def reference_prett(ranker, queries, passages, split: int) -> np.ndarray:
    bert, tok = NumpyBert(ranker.encoder), ranker.tokenizer
    scores = []
    for query, passage in zip(queries, passages):
        q = [tok.cls_token_id, *pieces(tok, query, Q_MAX), tok.sep_token_id]
        p = [*pieces(tok, passage, P_MAX), tok.sep_token_id]
        start = Q_MAX + 2 if split > 0 else len(q)
        h_q = bert.layers(bert.embed(q, list(range(len(q))), 0), 0, split)
        h_p = bert.layers(bert.embed(p, list(range(start, start + len(p))), 1), 0, split)
        joint = bert.layers(np.concatenate([h_q, h_p]), split, bert.depth)
        scores.append(linear(joint[0], ranker.classification_layer)[0])
    return np.array(scores)


@pytest.mark.parametrize("split", [0, 1, 2])
def test_prett_split_score_matches_layer_by_layer_reference(split):
    torch.manual_seed(0)
    ranker = build("prett", "tiny-random", query_max_len=Q_MAX, passage_max_len=P_MAX, dropout=0.0, split_layer=split)
    randomize_encoder(ranker.encoder)
    ranker.eval()
    with torch.no_grad():
        scores = ranker(ranker.tokenize(QUERIES, PASSAGES)).numpy()
    np.testing.assert_allclose(scores, reference_prett(ranker, QUERIES, PASSAGES, split), rtol=1e-5, atol=1e-5)


def test_prett_cached_passages_match_the_reference():
    # The re-ranking path (passage states cached without their query) computes the same formula.
    torch.manual_seed(0)
    ranker = build("prett", "tiny-random", query_max_len=Q_MAX, passage_max_len=P_MAX, dropout=0.0, split_layer=1)
    randomize_encoder(ranker.encoder)
    cache = ranker.encode_passages(PASSAGES)
    scores = ranker.score_cached(QUERIES[0], cache).numpy()
    expected = reference_prett(ranker, [QUERIES[0]] * len(PASSAGES), PASSAGES, 1)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
