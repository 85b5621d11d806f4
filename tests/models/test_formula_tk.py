"""TK's kernel pooling against a NumPy version of the TK paper's formulas, on hand-made vectors.

Only the match-matrix -> RBF kernels -> log-sum pooling -> linear part (``kernel_score``) is
checked here; the contextualisation feeding it is TK's own business.

    M_ij = cos(q_i, p_j)
    K_k(i) = sum over real passage tokens j of exp(-(M_ij - mu_k)^2 / (2 sigma^2))
    phi_k = sum over real query tokens i of log(max(K_k(i), 1e-10))
    s = w . phi
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kdlib.models import build
from numpy_reference import TK_MUS

DIM = 32


def reference_tk(query, query_mask, passage, passage_mask, w, sigma):
    scores = []
    for q, qm, p, pm in zip(query, query_mask, passage, passage_mask):
        q_real = [v / np.linalg.norm(v) for v, m in zip(q, qm) if m]
        p_real = [v / np.linalg.norm(v) for v, m in zip(p, pm) if m]
        phi = np.zeros(len(TK_MUS))
        for qi in q_real:
            for k, mu in enumerate(TK_MUS):
                kernel = sum(np.exp(-((qi @ pj - mu) ** 2) / (2 * sigma**2)) for pj in p_real)
                phi[k] += np.log(max(kernel, 1e-10))
        scores.append(float(w @ phi))
    return np.array(scores)


def hand_made_batch(seed: int = 0):
    """Three pairs of unit vectors; padded slots hold vectors that would change every score."""
    rng = np.random.default_rng(seed)
    query_lengths, passage_lengths = [4, 2, 3], [5, 3, 1]
    lq, lp = max(query_lengths), max(passage_lengths)
    query = rng.normal(size=(3, lq, DIM))
    passage = rng.normal(size=(3, lp, DIM))
    query /= np.linalg.norm(query, axis=-1, keepdims=True)
    passage /= np.linalg.norm(passage, axis=-1, keepdims=True)
    query_mask = np.array([[1] * n + [0] * (lq - n) for n in query_lengths])
    passage_mask = np.array([[1] * n + [0] * (lp - n) for n in passage_lengths])
    passage[0, 2] = query[0, 1]  # an exact match (cosine 1: the exact-match kernel fires)
    passage[0, 3] = -query[0, 0]  # cosine -1: the far kernels fall below the 1e-10 clamp
    passage[1, 4] = query[1, 0]  # a padded exact match: must not count
    query[1, 3] = passage[1, 0]  # a padded query token matching exactly: must not count
    query[2, 1] = 0.6 * query[2, 0] + 0.8 * passage[2, 0]  # mid-range cosines
    query[2, 1] /= np.linalg.norm(query[2, 1])
    return query, query_mask, passage, passage_mask


@pytest.mark.parametrize("sigma", [0.1, 0.25])
def test_kernel_score_matches_the_tk_formula(sigma):
    torch.manual_seed(0)
    ranker = build("tk", "tiny-random", dropout=0.0, kernel_sigma=sigma)
    w = np.random.default_rng(1).normal(size=len(TK_MUS))
    with torch.no_grad():
        ranker.kernel_weights.weight.copy_(torch.tensor(w, dtype=torch.float32).view(1, -1))
    query, query_mask, passage, passage_mask = hand_made_batch()
    tensors = [torch.tensor(a, dtype=torch.float32) for a in (query, passage)]
    with torch.no_grad():
        scores = ranker.kernel_score(tensors[0], torch.tensor(query_mask), tensors[1], torch.tensor(passage_mask))
    expected = reference_tk(query, query_mask, passage, passage_mask, w, sigma)
    np.testing.assert_allclose(scores.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_kernel_centres_are_the_papers():
    ranker = build("tk", "tiny-random", dropout=0.0)
    np.testing.assert_allclose(ranker.mus.flatten().numpy(), TK_MUS, atol=1e-7)


def test_one_more_query_token_adds_its_own_log_kernel_sums():
    # Log-sum pooling sums over query tokens: appending a real query token adds that token's
    # sum_k w_k log K_k to the score, whatever the other tokens are (a mean would not).
    ranker = build("tk", "tiny-random", dropout=0.0)
    w = np.random.default_rng(3).normal(size=len(TK_MUS))
    with torch.no_grad():
        ranker.kernel_weights.weight.copy_(torch.tensor(w, dtype=torch.float32).view(1, -1))
    gen = torch.Generator().manual_seed(2)
    q = torch.nn.functional.normalize(torch.randn(1, 3, DIM, generator=gen), dim=-1)
    p = torch.nn.functional.normalize(torch.randn(1, 4, DIM, generator=gen), dim=-1)
    ones = lambda t: torch.ones(t.shape[:2], dtype=torch.long)  # noqa: E731
    with torch.no_grad():
        before = ranker.kernel_score(q[:, :2], ones(q[:, :2]), p, ones(p))
        after = ranker.kernel_score(q, ones(q), p, ones(p))
    sigma = ranker.options.kernel_sigma
    cos = (q[0, 2] @ p[0].T).double().numpy()
    added = sum(wk * np.log(max(np.exp(-((cos - mu) ** 2) / (2 * sigma**2)).sum(), 1e-10)) for wk, mu in zip(w, TK_MUS))
    assert float(after - before) == pytest.approx(added, abs=1e-4)
