"""The interface every ranking architecture implements: :class:`Ranker`.

A ranker maps aligned (query, passage) pairs to one unnormalised relevance score each.
Scores are *not* normalised: their raw level differs by architecture (the paper's score
distribution figure), and Margin-MSE only looks at differences between them.

The interface splits scoring into steps so that the training loop can tokenise each text
once, ahead of the steps, and run the model on batches assembled from the stored pieces:

- :meth:`Ranker.tokenize` turns text pairs into CPU tensors (dynamic padding, truncation to
  ``query_max_len`` / ``passage_max_len`` word pieces; uses only the tokenizer and config):
  :meth:`Ranker.padded_word_pieces` of the queries and of the passages, then
  :meth:`Ranker.features_from_pieces`, the architecture's input layout;
- :meth:`Ranker.forward` turns those tensors into a ``(batch,)`` score tensor.

Re-ranking uses a passage-side cache where the architecture allows it
(:meth:`Ranker.encode_passages`, :meth:`Ranker.score_cached`), which is where the
efficiency of BERT_DOT, ColBERT, PreTT and TK comes from (Hofstätter et al., 2020, Table 1).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator, Mapping, Sequence

import torch

from kdlib.core.artifacts import staging_dir, swap_dir
from kdlib.core.errors import FormatError
from kdlib.models.pieces import PaddedPieces

RANKER_CONFIG_FILE = "kdlib_ranker.json"
HEAD_WEIGHTS_FILE = "ranker_head.safetensors"
FORMAT_VERSION = 1


#: Distinct (text, max_len) entries :meth:`Ranker.word_pieces` keeps before starting afresh.
WORD_PIECE_MEMO_SIZE = 200_000


@dataclass(frozen=True)
class RankerConfig:
    """Everything needed to rebuild a ranker (saved as ``kdlib_ranker.json``).

    Attributes:
        arch: the architecture name (one of :data:`kdlib.models.ARCHITECTURES`).
        encoder: the encoder it was built from (alias, path or hub name), for the record.
        num_layers: encoder layers kept (``None``: all of them).
        query_max_len: query truncation in word pieces (paper: 30).
        passage_max_len: passage truncation in word pieces (paper: 200).
        dropout: dropout probability set at build time (``None``: the encoder's own).
        options: the architecture's own options (e.g. ColBERT's ``query_augmentation``).
    """

    arch: str
    encoder: str
    num_layers: int | None = None
    query_max_len: int = 30
    passage_max_len: int = 200
    dropout: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["options"] = dict(self.options)
        return {"format": "kdlib-ranker", "version": FORMAT_VERSION, **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RankerConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def full_precision(device: torch.device | str):
    """Context that turns autocast off: score heads and interactions run in float32.

    Under bf16 autocast the encoder is fast, but bf16 keeps only 8 bits of mantissa: a ColBERT
    score of ~150 would be rounded to steps of 1, a BERT_DOT score of ~100 to steps of 0.5,
    which erases the differences ranking depends on. The heads are cheap, so they run in fp32.
    """
    device_type = torch.device(device).type
    return torch.autocast(device_type=device_type, enabled=False)


def pad_sequences(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists to the longest one: ``(ids, mask)``, both ``(batch, longest)`` int64."""
    longest = max([len(s) for s in sequences] + [1])
    ids = torch.full((len(sequences), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), longest), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def pad_cache_rows(chunks: Sequence[torch.Tensor], value: float = 0.0) -> torch.Tensor:
    """Concatenate ``(n_i, len_i, ...)`` chunks along dim 0, right-padding dim 1 to the longest."""
    longest = max(chunk.shape[1] for chunk in chunks)
    padded = []
    for chunk in chunks:
        missing = longest - chunk.shape[1]
        if missing:
            shape = (chunk.shape[0], missing, *chunk.shape[2:])
            chunk = torch.cat([chunk, chunk.new_full(shape, value)], dim=1)
        padded.append(chunk)
    return torch.cat(padded, dim=0)


class Ranker(torch.nn.Module):
    """Base class of the five ranking architectures.

    Subclasses set :attr:`arch`, declare their options in a frozen dataclass :attr:`Options`,
    and implement :meth:`tokenize` and :meth:`forward`; those with a passage-side cache also
    override :meth:`encode_passages` and :meth:`score_cached`.

    Attributes:
        arch: the registry name of the architecture.
        supports_passage_cache: whether passages can be encoded without their query.
        config: the :class:`RankerConfig` it was built with.
        tokenizer: the Hugging Face tokenizer of its encoder.
    """

    arch: ClassVar[str]
    supports_passage_cache: ClassVar[bool] = False
    Options: ClassVar[type]

    def __init__(self, config: RankerConfig, tokenizer) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        self.options = self.Options(**dict(config.options))

    # -- construction helpers ---------------------------------------------------------------
    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """Validate option names against :attr:`Options`; returns them with defaults filled in.

        Raises:
            ValueError: an option the architecture does not have (the message lists valid ones).
        """
        valid = [f.name for f in dataclasses.fields(cls.Options)]
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(unknown)} for architecture {cls.arch!r}; "
                f"valid options: {', '.join(valid) if valid else '(none)'}"
            )
        return dataclasses.asdict(cls.Options(**options))

    # -- tokenisation -----------------------------------------------------------------------
    def encode_word_pieces(self, texts: Sequence[str], max_len: int, *, tokenizer: Any = None) -> list[list[int]]:
        """Word-piece ids of each text, without special tokens, truncated to ``max_len``: one
        tokenizer call, no memo (the training loop's pre-tokenisation, :meth:`word_pieces`).

        Args:
            texts: the texts.
            max_len: truncation in word pieces.
            tokenizer: a copy of :attr:`tokenizer` to call instead, for another thread (a fast
                tokenizer must not be called from two threads at once).
        """
        if not texts:
            return []
        encoded = (tokenizer or self.tokenizer)(list(texts), add_special_tokens=False, truncation=True,
                                                max_length=max_len)
        return encoded["input_ids"]

    def word_pieces(self, texts: Sequence[str], max_len: int) -> list[list[int]]:
        """Word-piece ids of each text, without special tokens, truncated to ``max_len``.

        Memoised per ranker: validation re-scores the same pairs, so each distinct text is
        tokenised once (training tokenises its triples once, ahead of the steps). The memo is
        dropped when it holds :data:`WORD_PIECE_MEMO_SIZE` texts, so a stream of millions of
        triples cannot grow it.
        """
        if not texts:
            return []
        memo: dict[tuple[str, int], tuple[int, ...]] = self.__dict__.setdefault("_word_piece_memo", {})
        missing = list(dict.fromkeys(t for t in texts if (t, max_len) not in memo))
        if missing:
            if len(memo) + len(missing) > WORD_PIECE_MEMO_SIZE:
                memo.clear()
            memo.update(((t, max_len), tuple(ids)) for t, ids in zip(missing, self.encode_word_pieces(missing, max_len)))
        return [list(memo[(t, max_len)]) for t in texts]

    def padded_word_pieces(self, texts: Sequence[str], max_len: int) -> PaddedPieces:
        """:meth:`word_pieces` as one padded matrix, the input of :meth:`features_from_pieces`."""
        return PaddedPieces.from_lists(self.word_pieces(texts, max_len))

    def special_id(self, name: str) -> int:
        """The id of a special token (``cls``, ``sep``, ``pad``, ``mask``, ``unk``) of the tokenizer."""
        value = getattr(self.tokenizer, f"{name}_token_id", None)
        if value is None:
            raise ValueError(f"{self.arch} needs a [{name.upper()}] token, which this tokenizer lacks")
        return int(value)

    @staticmethod
    def _check_pairs(queries: Sequence[str], passages: Sequence[str]) -> None:
        if len(queries) != len(passages):
            raise ValueError(f"expected aligned pairs, got {len(queries)} queries and {len(passages)} passages")

    def tokenize(self, queries: Sequence[str], passages: Sequence[str]) -> dict[str, torch.Tensor]:
        """Aligned (query, passage) pairs -> CPU tensors for :meth:`forward`."""
        self._check_pairs(queries, passages)
        return self.features_from_pieces(self.padded_word_pieces(queries, self.config.query_max_len),
                                         self.padded_word_pieces(passages, self.config.passage_max_len))

    def features_from_pieces(self, queries: PaddedPieces, passages: PaddedPieces) -> dict[str, torch.Tensor]:
        """The architecture's input layout: aligned query and passage word pieces (truncated to
        ``query_max_len`` / ``passage_max_len``, no special tokens) -> CPU tensors for :meth:`forward`."""
        raise NotImplementedError

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover - abstract
        """Tensors from :meth:`tokenize` -> ``(batch,)`` scores."""
        raise NotImplementedError

    # -- scoring ----------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def to_device(self, features: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        device = self.device
        return {k: v.to(device, non_blocking=True) for k, v in features.items()}

    def score(self, queries: Sequence[str], passages: Sequence[str], *, batch_size: int = 64) -> torch.Tensor:
        """Score aligned pairs in eval mode: ``(len(queries),)`` float32 on the CPU, in input order.

        Pairs are batched in order of length (characters, a stable sort) so that a batch pads
        to similar lengths, then the scores are put back in input order: re-ranking 100
        candidates of very different lengths pads far less. Runs under whatever autocast
        context the caller opened (bf16 is fastest on CPU).
        """
        self._check_pairs(queries, passages)
        if not len(queries):
            return torch.empty(0)
        order = sorted(range(len(queries)), key=lambda i: len(queries[i]) + len(passages[i]))
        with self.inference():
            scores = [
                self(self.to_device(self.tokenize([queries[j] for j in chunk], [passages[j] for j in chunk])))
                .float()
                .cpu()
                for chunk in (order[i : i + batch_size] for i in range(0, len(order), batch_size))
            ]
        out = torch.empty(len(order))
        out[torch.tensor(order)] = torch.cat(scores)
        return out

    def encode_passages(self, passages: Sequence[str], *, batch_size: int = 64) -> Any:
        """Pre-encode passages for :meth:`score_cached`.

        Architectures without a passage-side representation (BERT_CAT) keep the texts, so that
        every ranker offers the same re-ranking interface.
        """
        return list(passages)

    def score_cached(
        self, query: str, cache: Any, indices: Sequence[int] | None = None, *, batch_size: int = 64
    ) -> torch.Tensor:
        """Score one query against pre-encoded passages (all, or those at ``indices``).

        Returns:
            ``(n,)`` float32 CPU scores, equal to :meth:`score` on the same pairs (1e-4 in fp32).
        """
        texts = cache if indices is None else [cache[i] for i in indices]
        return self.score([query] * len(texts), texts, batch_size=batch_size)

    @contextmanager
    def inference(self) -> Iterator[None]:
        """Eval mode without autograd, restoring the previous mode afterwards."""
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                yield
        finally:
            self.train(was_training)

    # -- optimisation -----------------------------------------------------------------------
    def parameter_groups(
        self, learning_rate: float, *, tk_learning_rate: float, tk_kernel_learning_rate: float
    ) -> list[dict]:
        """Optimiser parameter groups: one group at ``learning_rate`` for BERT-based rankers."""
        params = [p for p in self.parameters() if p.requires_grad]
        return [{"params": params, "lr": learning_rate, "name": "all"}]

    # -- persistence ------------------------------------------------------------------------
    def head_state_dict(self) -> dict[str, torch.Tensor]:
        """Parameters and buffers outside the transformers encoder (saved as safetensors)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}

    def _save_encoder(self, directory: Path) -> None:
        """Write the encoder in plain transformers format (``AutoModel.from_pretrained`` loads it)."""
        self.encoder.save_pretrained(directory)

    def save_pretrained(self, path: str | os.PathLike) -> None:
        """Save the ranker to directory ``path`` (replaced atomically if it exists).

        Layout: ``kdlib_ranker.json`` (architecture and options), the encoder's
        ``config.json`` + ``model.safetensors``, the tokenizer files, and
        ``ranker_head.safetensors`` (weights outside the encoder).
        """
        from safetensors.torch import save_file

        target = Path(path)
        staging = staging_dir(target)
        try:
            self._save_encoder(staging)
            self.tokenizer.save_pretrained(staging)
            head = {k: v.detach().contiguous().cpu() for k, v in self.head_state_dict().items()}
            save_file(head, str(staging / HEAD_WEIGHTS_FILE), metadata={"arch": self.arch})
            (staging / RANKER_CONFIG_FILE).write_text(json.dumps(self.config.to_dict(), indent=2) + "\n")
            swap_dir(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @classmethod
    def restore(cls, path: Path, config: RankerConfig, *, attn_implementation: str | None = None) -> Ranker:
        """Rebuild a saved ranker of this class from directory ``path``."""
        raise NotImplementedError

    @classmethod
    def from_encoder(cls, config: RankerConfig, encoder: Any, tokenizer: Any, *, dropout: float | None) -> Ranker:
        """A new ranker of this class around a pre-trained ``encoder`` (heads random): what
        :func:`kdlib.models.build` calls once it has loaded the encoder."""
        return cls(config, encoder, tokenizer)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *, attn_implementation: str | None = None) -> Ranker:
        """Load a ranker saved by :meth:`save_pretrained` (a directory or a hub id); it must be
        of this class. :func:`kdlib.models.load` also reads the published checkpoint layouts.

        Raises:
            FormatError: ``path`` holds no kdlib ranker config.
            ValueError: it holds a ranker of another class.
        """
        from kdlib.models.hub import resolve_model_dir
        from kdlib.models.registry import architecture_class

        directory = resolve_model_dir(path)
        config_file = directory / RANKER_CONFIG_FILE
        if not config_file.is_file():
            raise FormatError(directory, 0, f"a kdlib ranker ({RANKER_CONFIG_FILE}); kdlib.models.load reads other layouts")
        try:
            config = RankerConfig.from_dict(json.loads(config_file.read_text()))
        except (json.JSONDecodeError, TypeError) as exc:
            raise FormatError(config_file, 0, "a kdlib ranker config (JSON object with arch, encoder, options)", str(exc)) from exc
        ranker_class = architecture_class(config.arch)
        if cls is not Ranker and not issubclass(ranker_class, cls):
            raise ValueError(f"{path} holds a {config.arch} ranker, not {cls.arch}")
        return ranker_class.restore(directory, config, attn_implementation=attn_implementation)

    def extra_repr(self) -> str:
        return f"arch={self.arch}, encoder={self.config.encoder!r}, options={dict(self.config.options)}"


def load_head(ranker: Ranker, path: Path) -> None:
    """Load ``ranker_head.safetensors`` from ``path`` into ``ranker`` (strict for head keys)."""
    from safetensors.torch import load_file

    state = load_file(str(path / HEAD_WEIGHTS_FILE))
    expected = set(ranker.head_state_dict())
    if set(state) != expected:
        raise ValueError(
            f"{path / HEAD_WEIGHTS_FILE}: expected head weights {sorted(expected)}, got {sorted(state)}"
        )
    # Non-strict only because the encoder's weights are not in this file; the key check above is exact.
    ranker.load_state_dict(state, strict=False)
