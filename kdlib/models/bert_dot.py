"""BERT_DOT: the dual-encoder (bi-encoder) ranker.

``s(q, p) = pool(BERT([CLS] q [SEP])) · pool(BERT([CLS] p [SEP]))``

One shared encoder maps query and passage to one vector each, independently; the score is
their dot product. Passage vectors can be computed once, offline, so re-ranking costs one
query encoding plus dot products, and a nearest-neighbour index enables dense retrieval
(Hofstätter et al., 2020, Sections 3 and 5.3; Karpukhin et al., 2020; Xiong et al., 2020).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import torch

from kdlib.models.base import full_precision
from kdlib.models.encoder_ranker import EncoderRanker
from kdlib.models.registry import register


@dataclass(frozen=True)
class BertDotOptions:
    """Options of BERT_DOT.

    Attributes:
        pooling: ``cls`` (the paper: the CLS vector) or ``mean`` (mean of non-padding token vectors).
    """

    pooling: Literal["cls", "mean"] = "cls"

    def __post_init__(self) -> None:
        if self.pooling not in ("cls", "mean"):
            raise ValueError(f"pooling must be 'cls' or 'mean', got {self.pooling!r}")


@register
class BertDot(EncoderRanker):
    """Shared encoder, CLS (or mean) pooling, dot product; passage vectors are cacheable."""

    arch = "bert_dot"
    supports_passage_cache = True
    Options = BertDotOptions

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """One float32 vector per sequence: ``(batch, hidden)``."""
        hidden = self.encode(input_ids, attention_mask).float()
        if self.options.pooling == "cls":
            return hidden[:, 0]
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        query = self.embed(features["query_input_ids"], features["query_attention_mask"])
        passage = self.embed(features["passage_input_ids"], features["passage_attention_mask"])
        with full_precision(query.device):
            return (query * passage).sum(-1)

    def encode_queries(self, queries: Sequence[str], *, batch_size: int = 64) -> torch.Tensor:
        """Query vectors ``(n, hidden)``, float32 on the CPU (for dense retrieval)."""
        return self._encode_texts(queries, self.config.query_max_len, batch_size)

    def encode_passages(self, passages: Sequence[str], *, batch_size: int = 64) -> torch.Tensor:
        """Passage vectors ``(n, hidden)``, float32 on the CPU: the passage cache and the dense index input."""
        return self._encode_texts(passages, self.config.passage_max_len, batch_size)

    def _encode_texts(self, texts: Sequence[str], max_len: int, batch_size: int) -> torch.Tensor:
        vectors = [torch.empty(0, self.hidden_size)]
        with self.inference():
            for start in range(0, len(texts), batch_size):
                ids, mask = self.single_sequences(texts[start : start + batch_size], max_len)
                vectors.append(self.embed(ids.to(self.device), mask.to(self.device)).float().cpu())
        return torch.cat(vectors)

    def score_cached(self, query: str, cache: torch.Tensor, indices: Sequence[int] | None = None, *, batch_size: int = 64) -> torch.Tensor:
        passages = cache if indices is None else cache[torch.as_tensor(list(indices), dtype=torch.long)]
        query_vector = self.encode_queries([query])[0]
        with full_precision(query_vector.device):
            return passages @ query_vector
