"""``kdlib.models.load`` by Hugging Face hub id, offline, from a local hub cache.

The cache (tests/fixtures/hf_hub.py) holds tiny random models in the layouts of the paper's
three published checkpoints; each must load as its architecture and score exactly as the
authors' usage examples compute (re-implemented here from the published code's semantics).
"""
from __future__ import annotations

import pytest
import torch
from fixtures import hf_hub

from kdlib.core.errors import DataMissingError
from kdlib.models import ColBert, load
from kdlib.models.hub import is_hub_id, resolve_model_dir

QUERY = "what is the transformers library"
PASSAGES = [
    "We are very happy to show you the Transformers library for pre-trained language models.",
    "Hmm I don't like this new movie about transformers that i got from my local library.",
]


@pytest.fixture(scope="module")
def tiny_hub(tmp_path_factory):
    return hf_hub.build(tmp_path_factory.mktemp("hf_home") / "hub")


@pytest.fixture
def hub(tiny_hub, monkeypatch):
    """Point huggingface_hub at the tiny cache, offline (its constants are read at import)."""
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HOME", str(tiny_hub.cache.parent))
    monkeypatch.setenv("HF_HUB_CACHE", str(tiny_hub.cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tiny_hub.cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return tiny_hub


def _encode(tokenizer, encoder, text, suffix=()):
    ids = tokenizer(text)["input_ids"] + list(suffix)
    ids = torch.tensor([ids])
    with torch.no_grad():
        return encoder(input_ids=ids, attention_mask=torch.ones_like(ids))[0]


def test_hub_ids_resolve_to_cached_snapshots(hub):
    snapshot = resolve_model_dir(hf_hub.COLBERT)
    assert snapshot.parent.name == "snapshots" and (snapshot / "config.json").is_file()
    assert snapshot.parent.parent == hub.cache / "models--sebastian-hofstaetter--colbert-distilbert-margin_mse-T2-msmarco"
    assert is_hub_id(hf_hub.DOT) and is_hub_id("bert-base-uncased") and not is_hub_id("runs/x/best")
    with pytest.raises(DataMissingError, match="not in the Hugging Face cache.*HF_HUB_OFFLINE=0"):
        load("sebastian-hofstaetter/no-such-model")
    with pytest.raises(DataMissingError, match="no such model directory"):
        load("runs/nothing/here")


def test_bert_dot_by_hub_id(hub):
    ranker = load(hf_hub.DOT)
    assert ranker.arch == "bert_dot" and ranker.options.pooling == "cls"
    query = _encode(hub.tokenizer, hub.dot, QUERY)[0, 0]
    expected = torch.stack([query @ _encode(hub.tokenizer, hub.dot, p)[0, 0] for p in PASSAGES])
    torch.testing.assert_close(ranker.score([QUERY] * 2, PASSAGES), expected, atol=1e-5, rtol=1e-5)


def test_bert_cat_by_hub_id(hub):
    ranker = load(hf_hub.CAT)
    assert ranker.arch == "bert_cat" and ranker.config.encoder == hf_hub.BASE
    expected = []
    for passage in PASSAGES:
        inputs = hub.tokenizer(QUERY, passage, return_tensors="pt")
        with torch.no_grad():
            cls = hub.cat_encoder(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])[0][:, 0]
            expected.append(hub.cat_head(cls)[0, 0])
    torch.testing.assert_close(ranker.score([QUERY] * 2, PASSAGES), torch.stack(expected), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="loads as bert_cat"):
        load(hf_hub.CAT, arch="colbert")


def test_colbert_by_hub_id_goes_to_the_colbert_loader(hub):
    ranker = load(hf_hub.COLBERT)
    assert isinstance(ranker, ColBert) and ranker.config.encoder == hf_hub.BASE
    assert ranker.options.compression_dim == hf_hub.COMPRESSION and ranker.options.compressor_bias
    assert ranker.options.query_augmentation == 8
    mask = hub.tokenizer.mask_token_id
    with torch.no_grad():
        query = hub.compressor(_encode(hub.tokenizer, hub.colbert_encoder, QUERY, [mask] * 8))[0]
        expected = torch.stack([
            (query @ hub.compressor(_encode(hub.tokenizer, hub.colbert_encoder, p))[0].T).max(-1).values.sum()
            for p in PASSAGES
        ])
    torch.testing.assert_close(ranker.score([QUERY] * 2, PASSAGES), expected, atol=1e-4, rtol=1e-5)
    cache = ranker.encode_passages(PASSAGES)
    torch.testing.assert_close(ranker.score_cached(QUERY, cache), expected, atol=1e-4, rtol=1e-5)
    with pytest.raises(ValueError, match="loads as colbert"):
        load(hf_hub.COLBERT, arch="bert_cat")


def test_loaded_checkpoints_save_and_reload_as_kdlib_rankers(hub, tmp_path):
    for repo in (hf_hub.COLBERT, hf_hub.CAT):
        ranker = load(repo)
        ranker.save_pretrained(tmp_path / "m")
        again = load(tmp_path / "m")
        assert again.config.options == ranker.config.options
        torch.testing.assert_close(again.score([QUERY] * 2, PASSAGES), ranker.score([QUERY] * 2, PASSAGES))
