"""Building a ranker from a pre-trained encoder (:func:`build`) and loading a saved or
published one (:func:`load`): kdlib's own layout, the authors' published checkpoints, or a
plain transformers encoder."""
from __future__ import annotations

import json
import os
from typing import Any

from kdlib.core.errors import FormatError
from kdlib.models import published
from kdlib.models.base import RANKER_CONFIG_FILE, Ranker, RankerConfig
from kdlib.models.encoders import load_encoder
from kdlib.models.hub import resolve_model_dir
from kdlib.models.registry import architecture_class


def build(
    arch: str,
    encoder: str | os.PathLike,
    *,
    num_layers: int | None = None,
    query_max_len: int = 30,
    passage_max_len: int = 200,
    dropout: float | None = None,
    attn_implementation: str | None = None,
    **options: Any,
) -> Ranker:
    """Build a ranker of architecture ``arch`` from a pre-trained encoder (new heads are random).

    Args:
        arch: one of :data:`ARCHITECTURES`.
        encoder: encoder alias (``minilm``, ``splade-tiny``, ``tiny-random``, ``random:LAYERS:WIDTH``),
            path or hub name.
        num_layers: keep the encoder's first ``num_layers`` layers (``None``: all).
        query_max_len: query truncation in word pieces (paper: 30).
        passage_max_len: passage truncation in word pieces (paper: 200).
        dropout: dropout probability of the encoder (and TK's transformer); ``None``: defaults.
        attn_implementation: ``eager`` (fastest for CPU training) or ``sdpa`` (fastest scoring).
        **options: the architecture's own options (see each ``Options`` dataclass).

    Returns:
        The ranker, in eval mode.

    Raises:
        ValueError: unknown architecture, unknown option or invalid value.
    """
    cls = architecture_class(arch)
    resolved_options = cls.check_options(options)
    if query_max_len < 1 or passage_max_len < 1:
        raise ValueError(f"query_max_len and passage_max_len must be positive, got {query_max_len}, {passage_max_len}")
    config = RankerConfig(
        arch=arch,
        encoder=os.fspath(encoder),
        num_layers=num_layers,
        query_max_len=query_max_len,
        passage_max_len=passage_max_len,
        dropout=dropout,
        options=resolved_options,
    )
    model, tokenizer = load_encoder(
        encoder, num_layers=num_layers, dropout=dropout, attn_implementation=attn_implementation
    )
    return cls.from_encoder(config, model, tokenizer, dropout=dropout).eval()


def set_attention(ranker: Ranker, impl: str) -> Ranker:
    """Switch the attention kernel of the ranker's encoder (``eager``, ``sdpa``, ...) in place.

    TK's shallow transformer uses ``torch.nn.MultiheadAttention`` and is left as it is.
    """
    encoder = getattr(ranker, "encoder", None)
    if encoder is not None:
        encoder.set_attn_implementation(impl)
    return ranker


def load(
    path: str | os.PathLike,
    *,
    arch: str | None = None,
    attn_implementation: str | None = None,
    dropout: float | None = None,
) -> Ranker:
    """Load a ranker from a directory or a Hugging Face hub id.

    A hub id (``owner/name``) is resolved to its snapshot in the Hugging Face cache,
    downloading it when online (:func:`kdlib.models.hub.resolve_model_dir`). Four layouts
    are understood:

    1. kdlib's own (``kdlib_ranker.json``, written by :meth:`Ranker.save_pretrained`);
       the scores are identical to the saved ranker's.
    2. The authors' ``BERT_Cat`` checkpoints (``sebastian-hofstaetter/distilbert-cat-margin_mse-T2-msmarco``):
       a ``config.json`` naming the encoder in ``bert_model`` and weights (``model.safetensors`` or
       ``pytorch_model.bin``) with the encoder under ``bert_model.`` and the head under
       ``_classification_layer.``.
    3. The authors' ``ColBERT`` checkpoint (``sebastian-hofstaetter/colbert-distilbert-margin_mse-T2-msmarco``):
       the same wrapper with ``model_type: ColBERT`` and a ``compressor`` linear layer; loads as
       ``colbert`` with its compression and 8 query ``[MASK]`` tokens (:mod:`kdlib.models.published`).
    4. A plain transformers encoder (e.g. ``sebastian-hofstaetter/distilbert-dot-margin_mse-T2-msmarco``),
       read as a ``bert_dot`` ranker with CLS pooling, or as another architecture that needs no
       weights beyond the encoder (``colbert`` without compression).

    Args:
        path: the directory, or a hub id.
        arch: the expected architecture (checked for layouts 1-3, chooses it for layout 4).
        attn_implementation: attention kernel to load the encoder with.
        dropout: for layout 4, the encoder's dropout.

    Raises:
        DataMissingError: ``path`` is neither a directory nor a model the hub (or the cache) has.
        FormatError: the directory holds none of these layouts.
        ValueError: ``arch`` does not match, or the layout lacks weights ``arch`` needs.
    """
    directory = resolve_model_dir(path)
    own_config = directory / RANKER_CONFIG_FILE
    if own_config.is_file():
        try:
            config = RankerConfig.from_dict(json.loads(own_config.read_text()))
        except (json.JSONDecodeError, TypeError) as exc:
            raise FormatError(own_config, 0, "a kdlib ranker config (JSON object with arch, encoder, options)", str(exc)) from exc
        if arch is not None and arch != config.arch:
            raise ValueError(f"{directory} holds a {config.arch} ranker, not {arch}")
        return architecture_class(config.arch).restore(directory, config, attn_implementation=attn_implementation)
    hf_config_path = directory / "config.json"
    if not hf_config_path.is_file():
        raise FormatError(directory, 0, f"a kdlib ranker ({RANKER_CONFIG_FILE}) or a transformers model directory (config.json)")
    try:
        hf_config = json.loads(hf_config_path.read_text())
    except json.JSONDecodeError as exc:
        raise FormatError(hf_config_path, exc.lineno, "a JSON object", exc.doc.splitlines()[exc.lineno - 1] if exc.doc else "") from exc
    if published.is_colbert_layout(hf_config):
        if arch not in (None, "colbert"):
            raise ValueError(f"{directory} is a ColBERT checkpoint; it loads as colbert, not {arch}")
        return published.load_colbert_layout(directory, hf_config, attn_implementation)
    if published.is_bert_cat_layout(hf_config):
        if arch not in (None, "bert_cat"):
            raise ValueError(f"{directory} is a BERT_Cat checkpoint; it loads as bert_cat, not {arch}")
        return published.load_bert_cat_layout(directory, hf_config, attn_implementation)
    if arch == "tk":
        raise ValueError(f"{directory} is a plain encoder; TK needs its trained weights, use build() to start one")
    ranker = build(arch or "bert_dot", directory, dropout=dropout, attn_implementation=attn_implementation)
    if ranker.head_state_dict():
        raise ValueError(
            f"{directory} is a plain encoder without the head weights {sorted(ranker.head_state_dict())} that "
            f"{ranker.arch} needs; use build() to start one with a random head"
        )
    return ranker
