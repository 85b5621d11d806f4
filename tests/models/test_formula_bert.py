"""BERT_CAT and BERT_DOT against a NumPy BERT (tests/numpy_reference.py), one sequence at a time.

    BERT_CAT: s = w . BERT([CLS] q [SEP] p [SEP])[CLS] + b   (segments 0 for [CLS] q [SEP], 1 after)
    BERT_DOT: s = pool(BERT([CLS] q [SEP])) . pool(BERT([CLS] p [SEP])), pool = CLS or token mean

The batches mix lengths, so the model pads while the reference never does.
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
Q_MAX, P_MAX = 8, 12


def tiny(arch: str, **options):
    torch.manual_seed(0)
    ranker = build(arch, "tiny-random", query_max_len=Q_MAX, passage_max_len=P_MAX, dropout=0.0, **options)
    randomize_encoder(ranker.encoder)
    return ranker.eval()


def test_numpy_reference_reproduces_the_transformers_encoder():
    # The reference itself, checked once against transformers on an unpadded sequence.
    ranker = tiny("bert_dot")
    tok = ranker.tokenizer
    ids = [tok.cls_token_id, *pieces(tok, PASSAGES[1], P_MAX), tok.sep_token_id]
    with torch.no_grad():
        hidden = ranker.encoder(input_ids=torch.tensor([ids])).last_hidden_state[0].double().numpy()
    np.testing.assert_allclose(hidden, NumpyBert(ranker.encoder).encode(ids), atol=1e-5)


def test_bert_cat_scores_the_cls_vector_of_the_pair():
    ranker = tiny("bert_cat")
    with torch.no_grad():
        scores = ranker(ranker.tokenize(QUERIES, PASSAGES)).numpy()
    bert, tok = NumpyBert(ranker.encoder), ranker.tokenizer
    expected = []
    for query, passage in zip(QUERIES, PASSAGES):
        q, p = pieces(tok, query, Q_MAX), pieces(tok, passage, P_MAX)
        ids = [tok.cls_token_id, *q, tok.sep_token_id, *p, tok.sep_token_id]
        segments = [0] * (len(q) + 2) + [1] * (len(p) + 1)
        expected.append(linear(bert.encode(ids, segments)[0], ranker.classification_layer)[0])
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_bert_dot_is_the_dot_product_of_pooled_vectors(pooling):
    ranker = tiny("bert_dot", pooling=pooling)
    with torch.no_grad():
        scores = ranker(ranker.tokenize(QUERIES, PASSAGES)).numpy()
        cached = ranker.encode_passages(PASSAGES).double().numpy()
    bert, tok = NumpyBert(ranker.encoder), ranker.tokenizer

    def pooled(text: str, max_len: int) -> np.ndarray:
        hidden = bert.encode([tok.cls_token_id, *pieces(tok, text, max_len), tok.sep_token_id])
        return hidden[0] if pooling == "cls" else hidden.mean(0)

    passages = np.stack([pooled(p, P_MAX) for p in PASSAGES])
    expected = [pooled(q, Q_MAX) @ p for q, p in zip(QUERIES, passages)]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    # The passage cache (the dense index input) holds the same pooled vectors.
    np.testing.assert_allclose(cached, passages, atol=1e-5)
