"""The five ranking architectures of the paper, behind one interface (:class:`Ranker`).

========== ========================================================= ====================
name       scoring                                                   passage cache
========== ========================================================= ====================
bert_cat   ``[CLS] q [SEP] p [SEP]`` -> CLS -> linear                 none (texts)
bert_dot   ``CLS(q) · CLS(p)``                                       one vector
colbert    ``Σ_i max_j q_i · p_j``                                    token vectors
prett      separate first layers, joint last layers, CLS -> linear   passage hidden states
tk         shallow transformer, cosine kernels, log-sum pooling      token vectors
========== ========================================================= ====================

Build one with :func:`build`, reload it with :func:`load` (which also reads the authors'
published checkpoint layouts), and switch attention kernels with :func:`set_attention`.

Example::

    ranker = build("colbert", "minilm", num_layers=3, query_augmentation=8)
    scores = ranker.score(["what is a flea"], ["Fleas are small insects."])
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from kdlib.errors import ConfigError, FormatError
from kdlib.models.base import RANKER_CONFIG_FILE, Ranker, RankerConfig
from kdlib.models.bert_cat import BertCat
from kdlib.models.bert_dot import BertDot
from kdlib.models.colbert import ColBert
from kdlib.models.encoders import load_encoder, quiet_transformers, resolve_encoder
from kdlib.models.prett import PreTT
from kdlib.models.tk import TK

ARCHITECTURES: tuple[str, ...] = ("bert_cat", "bert_dot", "colbert", "prett", "tk")
_CLASSES: dict[str, type[Ranker]] = {cls.arch: cls for cls in (BertCat, BertDot, ColBert, PreTT, TK)}
# The authors' BERT_Cat checkpoints: encoder under ``bert_model.``, head ``_classification_layer``.
_BERT_CAT_ENCODER_PREFIX = "bert_model."
_BERT_CAT_HEAD_PREFIX = "_classification_layer."

__all__ = [
    "ARCHITECTURES",
    "BertCat",
    "BertDot",
    "ColBert",
    "PreTT",
    "Ranker",
    "RankerConfig",
    "TK",
    "architecture_class",
    "build",
    "load",
    "load_encoder",
    "resolve_encoder",
    "set_attention",
]


def architecture_class(arch: str) -> type[Ranker]:
    """The :class:`Ranker` subclass registered as ``arch``.

    Raises:
        ConfigError: an unknown name (the message lists the valid ones; a ``ValueError`` too).
    """
    try:
        return _CLASSES[arch]
    except KeyError:
        raise ConfigError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}") from None


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
        encoder: encoder alias (``minilm``, ``splade-tiny``, ``tiny-random``), path or hub name.
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
    if cls is TK:
        weights = model.get_input_embeddings().weight.detach().clone()
        ranker = TK(config, weights, tokenizer, dropout=0.1 if dropout is None else dropout)
    else:
        ranker = cls(config, model, tokenizer)
    return ranker.eval()


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
    """Load a ranker from a directory.

    Three layouts are understood:

    1. kdlib's own (``kdlib_ranker.json``, written by :meth:`Ranker.save_pretrained`);
       the scores are identical to the saved ranker's.
    2. The authors' ``BERT_Cat`` checkpoints: a ``config.json`` naming the encoder in
       ``bert_model`` and weights (``model.safetensors`` or ``pytorch_model.bin``) with the
       encoder under ``bert_model.`` and the head under ``_classification_layer.``.
    3. A plain transformers encoder (e.g. ``sebastian-hofstaetter/distilbert-dot-margin_mse-T2-msmarco``),
       read as a ``bert_dot`` ranker with CLS pooling, or as another architecture that needs no
       weights beyond the encoder (``colbert`` without compression).

    Args:
        path: the directory.
        arch: the expected architecture (checked for layout 1, chooses it for layout 3).
        attn_implementation: attention kernel to load the encoder with.
        dropout: for layout 3, the encoder's dropout.

    Raises:
        FormatError: the directory holds none of these layouts.
        ValueError: ``arch`` does not match, or the layout lacks weights ``arch`` needs.
    """
    directory = Path(path)
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
    if "bert_model" in hf_config or hf_config.get("model_type") == "BERT_Cat":
        if arch not in (None, "bert_cat"):
            raise ValueError(f"{directory} is a BERT_Cat checkpoint; it loads as bert_cat, not {arch}")
        return _load_bert_cat_layout(directory, hf_config, attn_implementation)
    if arch == "tk":
        raise ValueError(f"{directory} is a plain encoder; TK needs its trained weights, use build() to start one")
    ranker = build(arch or "bert_dot", directory, dropout=dropout, attn_implementation=attn_implementation)
    if ranker.head_state_dict():
        raise ValueError(
            f"{directory} is a plain encoder without the head weights {sorted(ranker.head_state_dict())} that "
            f"{ranker.arch} needs; use build() to start one with a random head"
        )
    return ranker


def _read_weights(directory: Path) -> dict[str, torch.Tensor]:
    safetensors_file = directory / "model.safetensors"
    if safetensors_file.is_file():
        from safetensors.torch import load_file

        return load_file(str(safetensors_file))
    bin_file = directory / "pytorch_model.bin"
    if bin_file.is_file():
        return torch.load(bin_file, map_location="cpu", weights_only=True)
    raise FormatError(directory, 0, "model.safetensors or pytorch_model.bin with the checkpoint's weights")


def _stored_depth(encoder_state: dict[str, torch.Tensor]) -> int:
    """Number of transformer layers in an encoder state dict (``encoder.layer.N.`` / ``transformer.layer.N.``)."""
    indices = [int(parts[2]) for parts in (k.split(".") for k in encoder_state) if len(parts) > 2 and parts[1] == "layer" and parts[2].isdigit()]
    return max(indices) + 1 if indices else 0


def _load_bert_cat_layout(directory: Path, hf_config: dict, attn_implementation: str | None) -> BertCat:
    """Read the authors' ``BERT_Cat`` layout (``bert_model`` + ``_classification_layer``)."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    encoder_name = hf_config.get("bert_model")
    if not isinstance(encoder_name, str):
        raise FormatError(directory / "config.json", 0, "a 'bert_model' entry naming the encoder", json.dumps(hf_config)[:80])
    state = _read_weights(directory)
    encoder_state = {k[len(_BERT_CAT_ENCODER_PREFIX):]: v for k, v in state.items() if k.startswith(_BERT_CAT_ENCODER_PREFIX)}
    head_state = {k[len(_BERT_CAT_HEAD_PREFIX):]: v for k, v in state.items() if k.startswith(_BERT_CAT_HEAD_PREFIX)}
    if not encoder_state or set(head_state) != {"weight", "bias"}:
        raise FormatError(
            directory, 0, "weights named bert_model.* and _classification_layer.weight/bias", ", ".join(sorted(state)[:4])
        )
    encoder_path = resolve_encoder(encoder_name)
    encoder_config = AutoConfig.from_pretrained(encoder_path)
    depth = _stored_depth(encoder_state)
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
    config = RankerConfig(
        arch="bert_cat", encoder=encoder_name, num_layers=int(encoder_config.num_hidden_layers), options={}
    )
    ranker = BertCat(config, encoder, tokenizer)
    with torch.no_grad():
        ranker.classification_layer.weight.copy_(head_state["weight"].reshape(1, -1))
        ranker.classification_layer.bias.copy_(head_state["bias"].reshape(1))
    return ranker.eval()
