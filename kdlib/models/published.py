"""The authors' published checkpoint layouts (Hofstätter et al., 2020, HF hub).

Two of the paper's checkpoints are not plain transformers encoders; both wrap one in a
``PreTrainedModel`` whose ``config.json`` names the encoder in ``bert_model`` (e.g.
``distilbert-base-uncased``) and whose weights keep it under ``bert_model.``:

- ``BERT_Cat`` (``sebastian-hofstaetter/distilbert-cat-margin_mse-T2-msmarco``): the CLS
  vector through ``_classification_layer`` (``Linear(hidden, 1)``);
- ``ColBERT`` (``sebastian-hofstaetter/colbert-distilbert-margin_mse-T2-msmarco``,
  ``model_type: ColBERT``, ``compression_dim: 768``): every token vector through
  ``compressor`` (``Linear(hidden, compression_dim)`` with bias), queries followed by 8
  ``[MASK]`` tokens, as the authors' usage example does.

The encoder is rebuilt from its config (``bert_model``, depth taken from the stored
weights) and filled with the stored weights; the tokenizer is the checkpoint's own if it
ships one, else the encoder's. The third published model, BERT_DOT, is a plain DistilBERT
and loads as ``bert_dot`` without any of this.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from kdlib.core.errors import FormatError
from kdlib.models.base import RankerConfig
from kdlib.models.bert_cat import BertCat
from kdlib.models.colbert import ColBert
from kdlib.models.encoders import quiet_transformers, resolve_encoder

ENCODER_PREFIX = "bert_model."
BERT_CAT_HEAD_PREFIX = "_classification_layer."
COLBERT_HEAD_PREFIX = "compressor."
#: ``[MASK]`` tokens the authors append to every ColBERT query ("8 ... regardless of batch-size").
PUBLISHED_COLBERT_QUERY_AUGMENTATION = 8


def is_colbert_layout(hf_config: dict) -> bool:
    """Whether a ``config.json`` is the authors' ColBERT (``model_type: ColBERT`` or a ``compression_dim``)."""
    return hf_config.get("model_type") == "ColBERT" or ("bert_model" in hf_config and "compression_dim" in hf_config)


def is_bert_cat_layout(hf_config: dict) -> bool:
    """Whether a ``config.json`` is the authors' BERT_Cat (``bert_model`` entry or ``model_type: BERT_Cat``)."""
    return not is_colbert_layout(hf_config) and ("bert_model" in hf_config or hf_config.get("model_type") == "BERT_Cat")


def read_weights(directory: Path) -> dict[str, torch.Tensor]:
    """The state dict of ``model.safetensors`` or, failing that, ``pytorch_model.bin``."""
    safetensors_file = directory / "model.safetensors"
    if safetensors_file.is_file():
        from safetensors.torch import load_file

        return load_file(str(safetensors_file))
    bin_file = directory / "pytorch_model.bin"
    if bin_file.is_file():
        return torch.load(bin_file, map_location="cpu", weights_only=True)
    raise FormatError(directory, 0, "model.safetensors or pytorch_model.bin with the checkpoint's weights")


def stored_depth(encoder_state: dict[str, torch.Tensor]) -> int:
    """Number of transformer layers in an encoder state dict (``encoder.layer.N.`` / ``transformer.layer.N.``)."""
    indices = [int(parts[2]) for parts in (k.split(".") for k in encoder_state)
               if len(parts) > 2 and parts[1] == "layer" and parts[2].isdigit()]
    return max(indices) + 1 if indices else 0


def _split(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _encoder(directory: Path, hf_config: dict, encoder_state: dict[str, torch.Tensor],
             attn_implementation: str | None) -> tuple[Any, Any, str]:
    """The wrapped encoder, rebuilt and filled, its tokenizer, and its name."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    encoder_name = hf_config.get("bert_model")
    if not isinstance(encoder_name, str):
        raise FormatError(directory / "config.json", 0, "a 'bert_model' entry naming the encoder", json.dumps(hf_config)[:80])
    encoder_path = resolve_encoder(encoder_name)
    encoder_config = AutoConfig.from_pretrained(encoder_path)
    depth = stored_depth(encoder_state)
    if depth:
        encoder_config.num_hidden_layers = depth
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    with quiet_transformers():
        encoder = AutoModel.from_config(encoder_config, **kwargs)
        has_tokenizer = (directory / "tokenizer.json").is_file() or (directory / "vocab.txt").is_file()
        tokenizer = AutoTokenizer.from_pretrained(directory if has_tokenizer else encoder_path)
    missing, unexpected = encoder.load_state_dict(encoder_state, strict=False)
    # Old checkpoints carry buffers (position_ids) that are no longer saved, and the unused
    # pooler may be absent; every other weight must match.
    unexpected = [k for k in unexpected if not k.endswith("position_ids")]
    missing = [k for k in missing if not k.startswith("pooler.")]
    if missing or unexpected:
        raise FormatError(directory, 0, f"encoder weights matching {encoder_name}", f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None  # unused by every architecture (see encoders.load_encoder)
    return encoder, tokenizer, encoder_name


def load_bert_cat_layout(directory: Path, hf_config: dict, attn_implementation: str | None = None) -> BertCat:
    """Read the authors' ``BERT_Cat`` layout (``bert_model.*`` + ``_classification_layer.*``)."""
    state = read_weights(directory)
    encoder_state, head_state = _split(state, ENCODER_PREFIX), _split(state, BERT_CAT_HEAD_PREFIX)
    if not encoder_state or set(head_state) != {"weight", "bias"}:
        raise FormatError(directory, 0, "weights named bert_model.* and _classification_layer.weight/bias",
                          ", ".join(sorted(state)[:4]))
    encoder, tokenizer, encoder_name = _encoder(directory, hf_config, encoder_state, attn_implementation)
    config = RankerConfig(arch="bert_cat", encoder=encoder_name, num_layers=int(encoder.config.num_hidden_layers), options={})
    ranker = BertCat(config, encoder, tokenizer)
    with torch.no_grad():
        ranker.classification_layer.weight.copy_(head_state["weight"].reshape(1, -1))
        ranker.classification_layer.bias.copy_(head_state["bias"].reshape(1))
    return ranker.eval()


def load_colbert_layout(directory: Path, hf_config: dict, attn_implementation: str | None = None) -> ColBert:
    """Read the authors' ``ColBERT`` layout (``bert_model.*`` + ``compressor.weight``/``bias``)."""
    state = read_weights(directory)
    encoder_state, head_state = _split(state, ENCODER_PREFIX), _split(state, COLBERT_HEAD_PREFIX)
    if not encoder_state or "weight" not in head_state or set(head_state) - {"weight", "bias"}:
        raise FormatError(directory, 0, "weights named bert_model.* and compressor.weight (+ bias)",
                          ", ".join(sorted(state)[:4]))
    encoder, tokenizer, encoder_name = _encoder(directory, hf_config, encoder_state, attn_implementation)
    weight = head_state["weight"]
    if weight.shape[1] != encoder.config.hidden_size:
        raise FormatError(directory, 0, f"a compressor of input size {encoder.config.hidden_size}",
                          f"compressor.weight of shape {tuple(weight.shape)}")
    options = ColBert.check_options({
        "compression_dim": int(weight.shape[0]),
        "compressor_bias": "bias" in head_state,
        "query_augmentation": PUBLISHED_COLBERT_QUERY_AUGMENTATION,
    })
    config = RankerConfig(arch="colbert", encoder=encoder_name, num_layers=int(encoder.config.num_hidden_layers),
                          options=options)
    ranker = ColBert(config, encoder, tokenizer)
    with torch.no_grad():
        ranker.compressor.weight.copy_(weight)
        if "bias" in head_state:
            ranker.compressor.bias.copy_(head_state["bias"])
    return ranker.eval()
