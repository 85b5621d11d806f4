"""TK (Transformer-Kernel): a shallow, kernel-pooling ranker (Hofstätter et al., ECAI 2020).

1. Word-piece embeddings ``e`` taken from the encoder's embedding matrix (frozen by default).
2. Contextualisation by a shallow 2-layer transformer, mixed with the raw embeddings by a
   learned scalar: ``ĉ = α e + (1 - α) Transformer(e + pos)``. ``pos`` are fixed sinusoids;
   query and passage get different ones (passage positions start at 500, as in the authors'
   TK), so a query token never looks like the passage token at the same position.
3. Cosine match matrix ``M_ij = cos(ĉ_q[i], ĉ_p[j])``.
4. 11 RBF kernels with ``μ_k ∈ {1.0, 0.9, ..., -0.9}`` and ``σ = 0.1`` (the same σ for all, as in
   this reproduction's brief): ``K_k(i) = Σ_j exp(-(M_ij - μ_k)² / (2σ²))`` over real passage tokens.
5. Log-sum pooling over query tokens: ``φ_k = Σ_i log(max(K_k(i), 1e-10))`` over real query tokens.
6. ``s = w · φ`` (a linear layer over the 11 kernel features).

Scale of the embeddings. TK was designed for GloVe vectors (norms around 5-8), comparable to
the sinusoids (norm ``sqrt(dim / 2)``). A BERT word-piece matrix is far smaller (SPLADE-tiny's
rows have norm ~0.7), so the position features would swamp the words and an exact match would
no longer look like one after contextualisation. ``embedding_scale=c`` rescales the copied
matrix by one factor so that its mean row norm is ``c * sqrt(dim)``; directions, and so every
cosine between raw embeddings, are unchanged. With the default ``c = 3`` an untrained TK puts
exact matches in the ``μ = 1`` kernel (cosine > 0.95 on real TREC DL pairs) and every other
pair far below them (< 0.75), as the kernel design intends.

Passages are cached as their contextualised, unit-length token vectors. TK is the
fastest architecture of the paper (Hofstätter et al., 2020, Figure 1 and Table 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from kdlib.models.base import (
    HEAD_WEIGHTS_FILE,
    Ranker,
    RankerConfig,
    full_precision,
    load_head,
    pad_cache_rows,
)
from kdlib.models.pieces import PaddedPieces, join_rows
from kdlib.models.registry import register

KERNEL_MUS = (1.0, 0.9, 0.7, 0.5, 0.3, 0.1, -0.1, -0.3, -0.5, -0.7, -0.9)
_MAX_POSITIONS = 512
#: Passage positions start here (the authors' TK), query positions at 0.
PASSAGE_POSITION_OFFSET = 500


@dataclass(frozen=True)
class TKOptions:
    """Options of TK.

    Attributes:
        contextual_layers: layers of the shallow transformer (paper: 2).
        num_heads: attention heads (``None``: the largest of 10, 8, 6, 4, 2, 1 that divides the
            embedding size into heads of at least 16 dimensions).
        ff_dim: feed-forward size of the shallow transformer (``None``: the embedding size).
        train_embeddings: fine-tune the word-piece embeddings (``False``: frozen).
        kernel_sigma: width of every RBF kernel.
        embedding_scale: rescale the word-piece matrix to mean row norm
            ``embedding_scale * sqrt(dim)`` (module docstring); ``None`` keeps the encoder's scale.
    """

    contextual_layers: int = 2
    num_heads: int | None = None
    ff_dim: int | None = None
    train_embeddings: bool = False
    kernel_sigma: float = 0.1
    embedding_scale: float | None = 3.0

    def __post_init__(self) -> None:
        if self.embedding_scale is not None and not self.embedding_scale > 0:
            raise ValueError(f"embedding_scale must be positive or None, got {self.embedding_scale!r}")


def scaled_embeddings(weights: torch.Tensor, scale: float | None) -> torch.Tensor:
    """``weights`` times one factor so that the mean row norm is ``scale * sqrt(dim)``.

    ``scale=None`` and an all-zero matrix (a placeholder before saved weights are loaded) are
    returned unchanged.
    """
    mean_norm = weights.float().norm(dim=1).mean()
    if scale is None or not mean_norm > 0:
        return weights
    return weights * (scale * math.sqrt(weights.shape[1]) / mean_norm).to(weights.dtype)


def _default_heads(dim: int) -> int:
    return next(h for h in (10, 8, 6, 4, 2, 1) if dim % h == 0 and (dim // h >= 16 or h == 1))


def _sinusoids(length: int, dim: int) -> torch.Tensor:
    """Fixed sinusoidal position features (Vaswani et al., 2017), ``(length, dim)``."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : dim // 2]
    return table


@dataclass
class TKPassageCache:
    """Contextualised unit-length passage token vectors ``(n, length, dim)`` and their mask ``(n, length)``."""

    vectors: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return self.vectors.shape[0]


@register
class TK(Ranker):
    """Transformer-Kernel ranker over the encoder's word-piece embeddings.

    Args:
        config: the ranker's configuration.
        word_embeddings: ``(vocab, dim)`` embedding matrix (copied).
        tokenizer: the tokenizer that indexes it.
        dropout: dropout of the shallow transformer.
    """

    arch = "tk"
    supports_passage_cache = True
    Options = TKOptions

    @classmethod
    def from_encoder(cls, config: RankerConfig, encoder, tokenizer, *, dropout: float | None) -> TK:
        """TK keeps only the encoder's word embeddings (a copy); its own shallow transformer
        starts random, with dropout 0.1 unless ``dropout`` says otherwise."""
        weights = encoder.get_input_embeddings().weight.detach().clone()
        return cls(config, weights, tokenizer, dropout=0.1 if dropout is None else dropout)

    def __init__(self, config: RankerConfig, word_embeddings: torch.Tensor, tokenizer, dropout: float = 0.1) -> None:
        super().__init__(config, tokenizer)
        opts = self.options
        vocab, dim = word_embeddings.shape
        self.embeddings = torch.nn.Embedding(vocab, dim, padding_idx=tokenizer.pad_token_id)
        with torch.no_grad():
            self.embeddings.weight.copy_(scaled_embeddings(word_embeddings, opts.embedding_scale))
        self.embeddings.weight.requires_grad_(opts.train_embeddings)
        heads = opts.num_heads or _default_heads(dim)
        layer = torch.nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=opts.ff_dim or dim, dropout=dropout, batch_first=True
        )
        # No nested-tensor fast path: it would change numerics with the amount of padding.
        self.contextualizer = torch.nn.TransformerEncoder(layer, opts.contextual_layers, enable_nested_tensor=False)
        self.mixer = torch.nn.Parameter(torch.tensor(0.5))
        self.kernel_weights = torch.nn.Linear(len(KERNEL_MUS), 1, bias=False)
        torch.nn.init.uniform_(self.kernel_weights.weight, -0.014, 0.014)  # TK's initialisation
        self.register_buffer("positions", _sinusoids(PASSAGE_POSITION_OFFSET + _MAX_POSITIONS, dim), persistent=False)
        self.register_buffer("mus", torch.tensor(KERNEL_MUS).view(1, 1, 1, -1), persistent=False)

    # -- tokenisation -----------------------------------------------------------------------
    def _sequences(self, texts: Sequence[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self._layout(self.padded_word_pieces(texts, max_len))

    def _layout(self, pieces: PaddedPieces) -> tuple[torch.Tensor, torch.Tensor]:
        # An empty text becomes one [UNK] piece, so that no sequence is all padding (NaN attention).
        return join_rows([pieces.at_least_one(self.special_id("unk"))], self.special_id("pad"))

    def features_from_pieces(self, queries: PaddedPieces, passages: PaddedPieces) -> dict[str, torch.Tensor]:
        query_ids, query_mask = self._layout(queries)
        passage_ids, passage_mask = self._layout(passages)
        return {
            "query_input_ids": query_ids,
            "query_attention_mask": query_mask,
            "passage_input_ids": passage_ids,
            "passage_attention_mask": passage_mask,
        }

    # -- model ------------------------------------------------------------------------------
    def contextualize(self, input_ids: torch.Tensor, mask: torch.Tensor, *, passage: bool) -> torch.Tensor:
        """Unit-length contextualised token vectors ``(batch, length, dim)``; padding rows are 0.

        ``passage`` selects the passage position features (offset :data:`PASSAGE_POSITION_OFFSET`).
        """
        raw = self.embeddings(input_ids)
        start = PASSAGE_POSITION_OFFSET if passage else 0
        positions = self.positions[start : start + input_ids.shape[1]]
        context = self.contextualizer(raw + positions, src_key_padding_mask=~mask.bool())
        with full_precision(raw.device):
            mixed = self.mixer * raw.float() + (1 - self.mixer) * context.float()
            return F.normalize(mixed, dim=-1, eps=1e-6) * mask.unsqueeze(-1).to(mixed.dtype)

    def kernel_score(self, query, query_mask, passage, passage_mask) -> torch.Tensor:
        """Kernel pooling of the cosine match matrix and the final linear layer: ``(batch,)`` (float32)."""
        with full_precision(query.device):
            return self._kernel_score(query.float(), query_mask, passage.float(), passage_mask)

    def _kernel_score(self, query, query_mask, passage, passage_mask) -> torch.Tensor:
        cosine = torch.bmm(query, passage.transpose(1, 2)).unsqueeze(-1)  # (B, Lq, Lp, 1)
        kernels = torch.exp(-((cosine - self.mus) ** 2) / (2 * self.options.kernel_sigma**2))
        kernels = kernels * passage_mask.to(kernels.dtype)[:, None, :, None]
        per_query_token = torch.log(torch.clamp(kernels.sum(2), min=1e-10))  # (B, Lq, K)
        features = (per_query_token * query_mask.to(per_query_token.dtype).unsqueeze(-1)).sum(1)
        return self.kernel_weights(features).squeeze(-1)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        query_mask, passage_mask = features["query_attention_mask"], features["passage_attention_mask"]
        query = self.contextualize(features["query_input_ids"], query_mask, passage=False)
        passage = self.contextualize(features["passage_input_ids"], passage_mask, passage=True)
        return self.kernel_score(query, query_mask, passage, passage_mask)

    def parameter_groups(self, learning_rate: float, *, tk_learning_rate: float, tk_kernel_learning_rate: float) -> list[dict]:
        """Two groups, as in the paper: kernel weights and mixer at ``tk_kernel_learning_rate``
        (1e-4), everything else (shallow transformer, trainable embeddings) at ``tk_learning_rate`` (1e-5)."""
        kernel = [self.kernel_weights.weight, self.mixer]
        kernel_ids = {id(p) for p in kernel}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in kernel_ids]
        return [
            {"params": rest, "lr": tk_learning_rate, "name": "tk"},
            {"params": kernel, "lr": tk_kernel_learning_rate, "name": "tk_kernels"},
        ]

    # -- re-ranking with a passage cache ----------------------------------------------------
    def encode_passages(self, passages: Sequence[str], *, batch_size: int = 64) -> TKPassageCache:
        vectors, masks = [], []
        with self.inference():
            for start in range(0, len(passages), batch_size):
                ids, mask = self._sequences(passages[start : start + batch_size], self.config.passage_max_len)
                vectors.append(self.contextualize(ids.to(self.device), mask.to(self.device), passage=True).float().cpu())
                masks.append(mask)
        if not vectors:
            return TKPassageCache(torch.empty(0, 1, self.embeddings.embedding_dim), torch.empty(0, 1, dtype=torch.long))
        return TKPassageCache(pad_cache_rows(vectors), pad_cache_rows(masks, 0))

    def score_cached(
        self, query: str, cache: TKPassageCache, indices: Sequence[int] | None = None, *, batch_size: int = 64
    ) -> torch.Tensor:
        rows = torch.arange(len(cache)) if indices is None else torch.as_tensor(list(indices), dtype=torch.long)
        scores = [torch.empty(0)]
        with self.inference():
            ids, mask = self._sequences([query], self.config.query_max_len)
            ids, mask = ids.to(self.device), mask.to(self.device)
            query_vectors = self.contextualize(ids, mask, passage=False).float()
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                n = len(chunk)
                scores.append(
                    self.kernel_score(
                        query_vectors.expand(n, -1, -1), mask.expand(n, -1),
                        cache.vectors[chunk].to(self.device), cache.mask[chunk].to(self.device),
                    ).float().cpu()
                )
        return torch.cat(scores)

    # -- persistence ------------------------------------------------------------------------
    def head_state_dict(self) -> dict[str, torch.Tensor]:
        """TK has no transformers encoder: every weight (embeddings included) is a head weight."""
        return dict(self.state_dict())

    def _save_encoder(self, directory: Path) -> None:
        """Nothing to write: TK keeps only the embedding matrix, saved with the head weights."""

    @classmethod
    def restore(cls, path: Path, config: RankerConfig, *, attn_implementation: str | None = None) -> TK:
        from safetensors import safe_open
        from transformers import AutoTokenizer


        with safe_open(str(path / HEAD_WEIGHTS_FILE), framework="pt") as handle:
            shape = handle.get_slice("embeddings.weight").get_shape()
        tokenizer = AutoTokenizer.from_pretrained(path)
        dropout = 0.1 if config.dropout is None else config.dropout
        ranker = cls(config, torch.zeros(shape), tokenizer, dropout=dropout)
        load_head(ranker, path)
        return ranker.eval()
