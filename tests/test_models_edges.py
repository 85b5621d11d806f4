"""The rankers at their edges: options, defaults and paths the formula tests do not reach."""
from __future__ import annotations

import pytest
import torch

from kdlib.models import build, load


def _ids(params) -> set[int]:
    return {id(p) for p in params}


@pytest.mark.parametrize("train_embeddings", [False, True])
def test_tk_parameter_groups_put_kernels_and_mixer_apart(train_embeddings):
    tk = build("tk", "tiny-random", dropout=0.0, train_embeddings=train_embeddings)
    groups = tk.parameter_groups(1.0, tk_learning_rate=2e-5, tk_kernel_learning_rate=1e-4)
    assert [(g["name"], g["lr"]) for g in groups] == [("tk", 2e-5), ("tk_kernels", 1e-4)]
    assert _ids(groups[1]["params"]) == {id(tk.kernel_weights.weight), id(tk.mixer)}
    rest = {id(p) for name, p in tk.named_parameters()
            if name not in ("kernel_weights.weight", "mixer") and (train_embeddings or name != "embeddings.weight")}
    assert _ids(groups[0]["params"]) == rest


@pytest.mark.parametrize("dropout", [None, 0.0, 0.3])
def test_tk_keeps_its_dropout_through_save_and_load(tmp_path, dropout):
    tk = build("tk", "tiny-random", dropout=dropout)
    tk.save_pretrained(tmp_path / "tk")
    expected = 0.1 if dropout is None else dropout  # TK's default
    for ranker in (tk, load(tmp_path / "tk")):
        rates = {m.p for m in ranker.modules() if isinstance(m, torch.nn.Dropout)}
        assert rates == {expected}


CACHED = ["bert_dot", "colbert", "prett", "tk"]
LONG_QUERY = "how long does the life cycle of a cat flea take from egg to larva to pupa to adult " * 3
PASSAGES = ["Fleas are small wingless insects.", "The life cycle of a flea has four stages.", "Cats."]


@pytest.mark.parametrize("arch", CACHED)
def test_cached_scoring_truncates_the_query_like_direct_scoring(arch):
    torch.manual_seed(0)
    ranker = build(arch, "tiny-random", query_max_len=6, passage_max_len=10, dropout=0.0)
    cache = ranker.encode_passages(PASSAGES)
    direct = ranker.score([LONG_QUERY] * len(PASSAGES), PASSAGES)
    torch.testing.assert_close(ranker.score_cached(LONG_QUERY, cache), direct, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", CACHED)
def test_no_passages_give_an_empty_cache_that_scores_nothing(arch):
    torch.manual_seed(0)
    ranker = build(arch, "tiny-random", query_max_len=6, passage_max_len=10, dropout=0.0)
    cache = ranker.encode_passages([])
    assert len(cache) == 0
    if arch != "bert_dot":  # token-level caches: (0, 1, dim) states and a (0, 1) long mask
        states = cache.states if arch == "prett" else cache.vectors
        assert states.shape == (0, 1, ranker.hidden_size if arch == "prett" else states.shape[-1])
        assert cache.mask.shape == (0, 1) and cache.mask.dtype == torch.long
    else:
        assert cache.shape == (0, ranker.hidden_size)
    scores = ranker.score_cached("a flea", cache)
    assert scores.shape == (0,) and scores.dtype == torch.float32
