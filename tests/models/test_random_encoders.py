"""The ``random:LAYERS:WIDTH`` encoders: parsed strictly, DistilBERT's shape at ``random:6:768``,
built offline once and deterministically, and every architecture builds from one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from kdlib.models import ARCHITECTURES, build
from kdlib.models.encoders import RandomShape, random_shape, resolve_encoder


def test_random_shape_parses_layers_and_width():
    assert random_shape("minilm") is None and random_shape("tiny-random") is None
    shape = random_shape("random:6:768")
    assert shape == RandomShape(6, 768) and shape.alias == "random:6:768"
    # distilbert-base-uncased: 6 layers, 768 wide, 12 heads, feed-forward 3072.
    assert shape.config() == dict(num_hidden_layers=6, hidden_size=768, num_attention_heads=12,
                                  intermediate_size=3072)
    assert RandomShape(2, 32).heads == 1 and RandomShape(2, 128).heads == 2


@pytest.mark.parametrize("name", ["random:6", "random:6:768:12", "random:six:768", "random:-1:64", "random:0:64",
                                  "random:2:200"])
def test_a_malformed_random_name_is_an_error_not_a_hub_name(name):
    with pytest.raises(ValueError, match="random"):
        resolve_encoder(name)


def test_a_random_encoder_is_built_once_deterministically_and_offline(tmp_path, monkeypatch):
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    monkeypatch.setenv("KDLIB_CACHE", str(tmp_path / "one"))
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    first = Path(resolve_encoder("random:2:64"))
    assert torch.equal(torch.rand(3), expected_next)  # the caller's RNG state is untouched
    assert first == tmp_path / "one" / "encoders" / "random-L2-H64"
    assert resolve_encoder("random:2:64") == str(first)  # cached: built once
    config = json.loads((first / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"],
            config["intermediate_size"]) == (2, 64, 1, 256)
    minilm = AutoTokenizer.from_pretrained(resolve_encoder("minilm"))
    tokenizer = AutoTokenizer.from_pretrained(first)
    assert config["vocab_size"] == len(minilm) and tokenizer.get_vocab() == minilm.get_vocab()
    monkeypatch.setenv("KDLIB_CACHE", str(tmp_path / "two"))
    second = Path(resolve_encoder("random:2:64"))
    a, b = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # same seed, same weights
    assert not list(second.parent.glob(".random-*"))  # no staging folder left behind


def test_every_architecture_builds_from_a_random_encoder(tmp_path, monkeypatch):
    monkeypatch.setenv("KDLIB_CACHE", str(tmp_path))
    queries, passages = ["what is a flea"] * 2, ["Fleas are small insects.", "Coffee grows on trees."]
    for arch in ARCHITECTURES:
        ranker = build(arch, "random:2:64", query_max_len=8, passage_max_len=16, dropout=0.0)
        assert ranker.config.encoder == "random:2:64"
        scores = ranker.score(queries, passages)
        assert scores.shape == (2,) and torch.isfinite(torch.as_tensor(scores)).all()
        if arch == "tk":  # TK takes the encoder's word-piece embeddings, 64 wide here
            assert ranker.contextualizer.layers[0].linear1.in_features == 64
        else:
            assert ranker.encoder.config.num_hidden_layers == 2 and ranker.encoder.config.hidden_size == 64
