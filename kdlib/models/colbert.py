"""ColBERT: late interaction over contextualised token vectors.

``s(q, p) = Σ_i max_j  E_q[i] · E_p[j]``

Query and passage are encoded separately into one vector per token (optionally projected
to ``compression_dim``); every query token is matched with its most similar passage token
and the maxima are summed. Padding is masked on both sides: padded passage tokens can
never be the maximum and padded query tokens add nothing. Query augmentation appends
``[MASK]`` tokens to the query, which the encoder turns into soft expansion terms.
Passage token vectors are cacheable (Khattab & Zaharia, 2020; Hofstätter et al., 2020,
Section 3, which uses no compression).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from kdlib.models.base import RankerConfig, full_precision, pad_cache_rows
from kdlib.models.encoder_ranker import EncoderRanker
from kdlib.models.registry import register


@dataclass(frozen=True)
class ColBertOptions:
    """Options of ColBERT.

    Attributes:
        compression_dim: project token vectors to this size with a linear layer (``None``: no
            projection, as in the paper).
        query_augmentation: number of ``[MASK]`` tokens appended to every query (the published
            checkpoint uses 8).
        compressor_bias: whether the projection has a bias (the published checkpoint's
            768 -> 768 ``compressor`` does).
    """

    compression_dim: int | None = None
    query_augmentation: int = 0
    compressor_bias: bool = False

    def __post_init__(self) -> None:
        if self.compression_dim is not None and self.compression_dim < 1:
            raise ValueError(f"compression_dim must be positive or None, got {self.compression_dim}")
        if self.compressor_bias and self.compression_dim is None:
            raise ValueError("compressor_bias needs a compression_dim (there is no projection without one)")
        if self.query_augmentation < 0:
            raise ValueError(f"query_augmentation must be >= 0, got {self.query_augmentation}")


@dataclass
class ColBertPassageCache:
    """Pre-encoded passages: token vectors ``(n, length, dim)`` float32 and their mask ``(n, length)``."""

    vectors: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return self.vectors.shape[0]


def max_sim(query: torch.Tensor, query_mask: torch.Tensor, passage: torch.Tensor, passage_mask: torch.Tensor) -> torch.Tensor:
    """Σ over query tokens of the max dot product over passage tokens, padding masked: ``(batch,)``.

    Computed in float32 whatever the autocast context (see :func:`kdlib.models.base.full_precision`).
    """
    with full_precision(query.device):
        return _max_sim(query.float(), query_mask, passage.float(), passage_mask)


def _max_sim(query, query_mask, passage, passage_mask) -> torch.Tensor:
    similarity = torch.einsum("bqd,bpd->bqp", query, passage)
    similarity = similarity.masked_fill(~passage_mask.bool().unsqueeze(1), torch.finfo(similarity.dtype).min)
    best = similarity.max(dim=-1).values
    return (best * query_mask.to(best.dtype)).sum(-1)


@register
class ColBert(EncoderRanker):
    """Token vectors, sum over query tokens of the max dot product; passages cacheable."""

    arch = "colbert"
    supports_passage_cache = True
    Options = ColBertOptions

    def __init__(self, config: RankerConfig, encoder, tokenizer) -> None:
        super().__init__(config, encoder, tokenizer)
        dim = self.options.compression_dim
        self.compressor = torch.nn.Linear(self.hidden_size, dim, bias=self.options.compressor_bias) if dim else None

    def query_suffix(self) -> list[int]:
        return [self.special_id("mask")] * self.options.query_augmentation

    def token_vectors(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One vector per token, ``(batch, length, dim)``."""
        hidden = self.encode(input_ids, attention_mask)
        return self.compressor(hidden) if self.compressor is not None else hidden

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        query = self.token_vectors(features["query_input_ids"], features["query_attention_mask"])
        passage = self.token_vectors(features["passage_input_ids"], features["passage_attention_mask"])
        return max_sim(query, features["query_attention_mask"], passage, features["passage_attention_mask"])

    def encode_passages(self, passages: Sequence[str], *, batch_size: int = 64) -> ColBertPassageCache:
        vectors, masks = [], []
        with self.inference():
            for start in range(0, len(passages), batch_size):
                ids, mask = self.single_sequences(passages[start : start + batch_size], self.config.passage_max_len)
                vectors.append(self.token_vectors(ids.to(self.device), mask.to(self.device)).float().cpu())
                masks.append(mask)
        if not vectors:
            return ColBertPassageCache(torch.empty(0, 1, 1), torch.empty(0, 1, dtype=torch.long))
        return ColBertPassageCache(pad_cache_rows(vectors), pad_cache_rows(masks, 0))

    def score_cached(
        self, query: str, cache: ColBertPassageCache, indices: Sequence[int] | None = None, *, batch_size: int = 64
    ) -> torch.Tensor:
        rows = torch.arange(len(cache)) if indices is None else torch.as_tensor(list(indices), dtype=torch.long)
        scores = [torch.empty(0)]
        with self.inference():
            ids, mask = self.query_sequences([query])
            query_vectors = self.token_vectors(ids.to(self.device), mask.to(self.device)).float()
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                passage = cache.vectors[chunk].to(self.device)
                n = len(chunk)
                scores.append(
                    max_sim(query_vectors.expand(n, -1, -1), mask.to(self.device).expand(n, -1), passage, cache.mask[chunk].to(self.device)).float().cpu()
                )
        return torch.cat(scores)
