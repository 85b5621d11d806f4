"""The five architectures on a tiny random encoder: shapes, invariances, caching, persistence."""
from __future__ import annotations

import json

import pytest
import torch

from kdlib.core.errors import FormatError
from kdlib.models import ARCHITECTURES, build, load, resolve_encoder, set_attention
from kdlib.models.base import Ranker

QUERIES = ["how long is the life cycle of a flea", "what is a flea", "flea", "define life cycle"]
PASSAGES = [
    "A flea can live up to a year, but its lifespan depends on the availability of hosts.",
    "Fleas are small wingless insects that feed on the blood of mammals and birds.",
    "The life cycle of a flea has four stages: egg, larva, pupa and adult, and it can take weeks.",
    "Cats.",
]
OPTIONS = {"colbert": {"query_augmentation": 2}}


def make(arch: str, seed: int = 0, **kwargs) -> Ranker:
    torch.manual_seed(seed)
    options = {**OPTIONS.get(arch, {}), **kwargs}
    return build(arch, "tiny-random", query_max_len=12, passage_max_len=24, dropout=0.0, **options)


@pytest.fixture(scope="module", params=ARCHITECTURES)
def ranker(request) -> Ranker:
    return make(request.param)


def pad_features(ranker: Ranker, features: dict[str, torch.Tensor], extra: int) -> dict[str, torch.Tensor]:
    """Append ``extra`` padding columns to every id / mask tensor."""
    padded = {}
    for key, value in features.items():
        fill = ranker.tokenizer.pad_token_id if key.endswith("input_ids") else 0
        padded[key] = torch.cat([value, value.new_full((value.shape[0], extra), fill)], dim=1)
    return padded


def test_shapes_and_types(ranker):
    features = ranker.tokenize(QUERIES, PASSAGES)
    assert all(t.device.type == "cpu" for t in features.values())
    with torch.no_grad():
        raw = ranker(features)
    assert raw.shape == (len(QUERIES),)
    scores = ranker.score(QUERIES, PASSAGES, batch_size=3)
    assert scores.dtype == torch.float32 and scores.shape == (len(QUERIES),)
    assert torch.isfinite(scores).all()
    torch.testing.assert_close(scores, raw.float())
    assert ranker.score([], []).shape == (0,)


def test_truncation_limits(ranker):
    features = ranker.tokenize(["word " * 100], ["word " * 500])
    # ids: at most the text limits plus special and [MASK] tokens
    assert max(t.shape[1] for t in features.values()) <= 12 + 24 + 3 + 2


def test_misaligned_pairs_are_an_error(ranker):
    with pytest.raises(ValueError, match="aligned"):
        ranker.score(QUERIES, PASSAGES[:2])


def test_padding_invariance(ranker):
    features = ranker.tokenize(QUERIES, PASSAGES)
    with torch.no_grad():
        plain = ranker(features)
        padded = ranker(pad_features(ranker, features, 7))
    torch.testing.assert_close(padded, plain, atol=1e-5, rtol=1e-5)
    # a pair scored alone (no padding at all) scores as in a padded batch
    alone = ranker.score(QUERIES[3:], PASSAGES[3:])
    torch.testing.assert_close(alone, plain[3:], atol=1e-5, rtol=1e-5)


def test_batch_order_invariance(ranker):
    forward = ranker.score(QUERIES, PASSAGES)
    backward = ranker.score(QUERIES[::-1], PASSAGES[::-1])
    torch.testing.assert_close(backward.flip(0), forward, atol=1e-5, rtol=1e-5)


def test_cached_path_equals_direct_path(ranker):
    cache = ranker.encode_passages(PASSAGES, batch_size=3)
    query = QUERIES[0]
    direct = ranker.score([query] * len(PASSAGES), PASSAGES)
    torch.testing.assert_close(ranker.score_cached(query, cache), direct, atol=1e-4, rtol=1e-4)
    subset = [3, 1]
    cached = ranker.score_cached(query, cache, subset, batch_size=1)
    torch.testing.assert_close(cached, direct[subset], atol=1e-4, rtol=1e-4)


def test_save_load_round_trip(ranker, tmp_path):
    before = ranker.score(QUERIES, PASSAGES)
    target = tmp_path / "ranker"
    ranker.save_pretrained(target)
    ranker.save_pretrained(target)  # overwriting an existing save works
    config = json.loads((target / "kdlib_ranker.json").read_text())
    assert config["arch"] == ranker.arch and config["options"] == dict(ranker.config.options)
    restored = load(target)
    assert type(restored) is type(ranker)
    torch.testing.assert_close(restored.score(QUERIES, PASSAGES), before, atol=1e-6, rtol=1e-6)
    assert type(ranker).from_pretrained(target).arch == ranker.arch
    if ranker.arch != "tk":  # the encoder is a plain transformers model
        from transformers import AutoModel

        assert AutoModel.from_pretrained(target).config.hidden_size == 32
    with pytest.raises(ValueError, match="not"):
        load(target, arch="bert_cat" if ranker.arch != "bert_cat" else "tk")


def test_training_step_reaches_every_trainable_group(ranker):
    ranker.train()
    try:
        features = ranker.tokenize(QUERIES[:2], PASSAGES[:2])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            scores = ranker(features)
        assert torch.isfinite(scores.float()).all()
        scores.float().sum().backward()
        groups = ranker.parameter_groups(1e-3, tk_learning_rate=2e-3, tk_kernel_learning_rate=3e-3)
        for group in groups:
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in group["params"]), group["name"]
    finally:
        ranker.zero_grad(set_to_none=True)
        ranker.eval()


def test_parameter_groups():
    tk = make("tk")
    groups = tk.parameter_groups(1e-5, tk_learning_rate=2e-5, tk_kernel_learning_rate=1e-4)
    assert [g["lr"] for g in groups] == [2e-5, 1e-4]
    assert any(p is tk.mixer for p in groups[1]["params"])
    assert not tk.embeddings.weight.requires_grad  # frozen by default
    bert = make("bert_dot")
    (group,) = bert.parameter_groups(7e-6, tk_learning_rate=1e-5, tk_kernel_learning_rate=1e-4)
    assert group["lr"] == 7e-6 and len(group["params"]) == len(list(bert.parameters()))


def test_determinism_under_seed():
    first = make("bert_cat", seed=3).score(QUERIES, PASSAGES)
    again = make("bert_cat", seed=3).score(QUERIES, PASSAGES)
    other = make("bert_cat", seed=4).score(QUERIES, PASSAGES)
    torch.testing.assert_close(again, first, atol=0, rtol=0)
    assert not torch.allclose(other, first)


def test_prett_without_split_is_bert_cat():
    cat = make("bert_cat", seed=5)
    prett = make("prett", seed=6, split_layer=0)
    prett.classification_layer.load_state_dict(cat.classification_layer.state_dict())
    torch.testing.assert_close(prett.score(QUERIES, PASSAGES), cat.score(QUERIES, PASSAGES), atol=1e-5, rtol=1e-5)
    split = make("prett", seed=6, split_layer=1)
    split.classification_layer.load_state_dict(cat.classification_layer.state_dict())
    assert not torch.allclose(split.score(QUERIES, PASSAGES), cat.score(QUERIES, PASSAGES))


def test_attention_implementations_agree():
    ranker = make("colbert")
    set_attention(ranker, "eager")
    eager = ranker.score(QUERIES, PASSAGES)
    set_attention(ranker, "sdpa")
    torch.testing.assert_close(ranker.score(QUERIES, PASSAGES), eager, atol=1e-4, rtol=1e-4)


def test_options_and_truncation():
    assert make("bert_dot", pooling="mean").options.pooling == "mean"
    colbert = make("colbert", compression_dim=8)
    features = colbert.tokenize(QUERIES[:1], PASSAGES[:1])
    assert colbert.token_vectors(features["query_input_ids"], features["query_attention_mask"]).shape[-1] == 8
    torch.manual_seed(0)
    one_layer = build("bert_cat", "tiny-random", num_layers=1)
    assert one_layer.encoder.config.num_hidden_layers == 1


def test_unknown_architecture_and_options():
    with pytest.raises(ValueError, match="bert_cat, bert_dot, colbert, prett, tk"):
        build("monobert", "tiny-random")
    with pytest.raises(ValueError, match="compression_dim, query_augmentation"):
        build("colbert", "tiny-random", compresion_dim=8)
    with pytest.raises(ValueError, match="split_layer must be between 0 and 2"):
        build("prett", "tiny-random", split_layer=3)
    with pytest.raises(ValueError, match="num_layers"):
        build("bert_dot", "tiny-random", num_layers=5)
    with pytest.raises(ValueError, match="pooling"):
        build("bert_dot", "tiny-random", pooling="max")


def test_published_plain_encoder_loads_as_bert_dot(tmp_path):
    reference = make("bert_dot")
    reference.encoder.save_pretrained(tmp_path)
    reference.tokenizer.save_pretrained(tmp_path)
    loaded = load(tmp_path)
    assert loaded.arch == "bert_dot" and loaded.options.pooling == "cls"
    torch.testing.assert_close(loaded.score(QUERIES, PASSAGES), reference.score(QUERIES, PASSAGES))
    with pytest.raises(ValueError, match="head weights"):
        load(tmp_path, arch="bert_cat")


@pytest.mark.parametrize("weights_file", ["model.safetensors", "pytorch_model.bin"])
def test_published_bert_cat_layout(tmp_path, weights_file):
    torch.manual_seed(7)
    reference = build("bert_cat", "tiny-random")  # published layouts load with the paper's 30 / 200 lengths
    state = {f"bert_model.{k}": v.clone() for k, v in reference.encoder.state_dict().items()}
    state["_classification_layer.weight"] = reference.classification_layer.weight.detach().clone()
    state["_classification_layer.bias"] = reference.classification_layer.bias.detach().clone()
    if weights_file.endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file(state, str(tmp_path / weights_file))
    else:
        torch.save(state, tmp_path / weights_file)
    config = {"model_type": "BERT_Cat", "bert_model": resolve_encoder("tiny-random"), "trainable": True}
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = load(tmp_path)
    assert loaded.arch == "bert_cat"
    torch.testing.assert_close(loaded.score(QUERIES, PASSAGES), reference.score(QUERIES, PASSAGES))


def test_not_a_model_directory(tmp_path):
    with pytest.raises(FormatError, match="config.json"):
        load(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "BERT_Cat", "bert_model": "x"}')
    with pytest.raises(FormatError, match="model.safetensors"):
        load(tmp_path)


@pytest.fixture(scope="module")
def tiny_distilbert(tmp_path_factory):
    """A random 2-layer DistilBERT (no segment embeddings) with MiniLM's tokenizer."""
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    directory = tmp_path_factory.mktemp("distilbert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder("tiny-random"))
    torch.manual_seed(0)
    config = DistilBertConfig(vocab_size=len(tokenizer), dim=32, n_layers=2, n_heads=2, hidden_dim=64)
    DistilBertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_distilbert_encoders(tiny_distilbert):
    scores = {}
    for arch in ARCHITECTURES:
        torch.manual_seed(1)
        ranker = build(arch, tiny_distilbert, query_max_len=12, passage_max_len=24)
        scores[arch] = ranker.score(QUERIES, PASSAGES)
        assert torch.isfinite(scores[arch]).all()
        if ranker.supports_passage_cache:
            cache = ranker.encode_passages(PASSAGES)
            direct = ranker.score([QUERIES[1]] * len(PASSAGES), PASSAGES)
            torch.testing.assert_close(ranker.score_cached(QUERIES[1], cache), direct, atol=1e-4, rtol=1e-4)
    torch.manual_seed(1)
    prett = build("prett", tiny_distilbert, query_max_len=12, passage_max_len=24, split_layer=0)
    torch.testing.assert_close(prett.score(QUERIES, PASSAGES), scores["bert_cat"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ["bert_cat", "prett", "tk"])
def test_length_sorted_scoring_returns_scores_in_input_order(arch):
    """``Ranker.score`` batches pairs by length but returns them in the caller's order."""
    ranker = build(arch, "tiny-random", query_max_len=12, passage_max_len=24, dropout=0.0)
    queries = ["short", "a much longer query with words", "mid query", "q"]
    passages = ["tiny", "x " * 20, "a passage of middling size here", "one two three four five six"]
    together = ranker.score(queries, passages, batch_size=3)
    alone = torch.cat([ranker.score([q], [p], batch_size=1) for q, p in zip(queries, passages)])
    assert together.shape == (4,)
    assert torch.allclose(together, alone, atol=1e-5)
    assert ranker.score([], [], batch_size=3).shape == (0,)
