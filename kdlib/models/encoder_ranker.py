"""Shared plumbing of the BERT-based rankers (BERT_CAT, BERT_DOT, ColBERT, PreTT).

They all own a Hugging Face encoder (``self.encoder``), save it in plain transformers
format and restore it with ``AutoModel.from_pretrained``; only their heads differ.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Sequence

import torch

from kdlib.models.base import Ranker, RankerConfig, load_head, pad_sequences
from kdlib.models.encoders import quiet_transformers


class EncoderRanker(Ranker):
    """A :class:`Ranker` built around one transformers encoder.

    Args:
        config: the ranker's configuration.
        encoder: a ``transformers.PreTrainedModel`` without task head (BERT, DistilBERT, ...).
        tokenizer: the encoder's tokenizer.
    """

    def __init__(self, config: RankerConfig, encoder, tokenizer) -> None:
        super().__init__(config, tokenizer)
        self.encoder = encoder
        self.hidden_size = int(encoder.config.hidden_size)
        # DistilBERT has no segment embeddings and its forward takes no token_type_ids.
        accepts_types = "token_type_ids" in inspect.signature(encoder.forward).parameters
        self.uses_token_types = accepts_types and getattr(encoder.config, "type_vocab_size", 0) > 1

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None):
        """Last hidden states ``(batch, length, hidden)`` of the encoder."""
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and self.uses_token_types:
            kwargs["token_type_ids"] = token_type_ids
        return self.encoder(**kwargs).last_hidden_state

    def single_sequences(self, texts: Sequence[str], max_len: int, suffix: Sequence[int] = ()) -> tuple[torch.Tensor, torch.Tensor]:
        """``[CLS] text [SEP] suffix`` for each text, padded: ``(ids, mask)``."""
        cls, sep = self.special_id("cls"), self.special_id("sep")
        pieces = self.word_pieces(texts, max_len)
        return pad_sequences([[cls, *p, sep, *suffix] for p in pieces], self.special_id("pad"))

    def query_sequences(self, queries: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries encoded on their own (bi-encoders); ColBERT appends its [MASK] augmentation."""
        return self.single_sequences(queries, self.config.query_max_len)

    def separate_features(self, queries: Sequence[str], passages: Sequence[str]) -> dict[str, torch.Tensor]:
        """Features of aligned pairs whose query and passage are encoded separately."""
        self._check_pairs(queries, passages)
        query_ids, query_mask = self.query_sequences(queries)
        passage_ids, passage_mask = self.single_sequences(passages, self.config.passage_max_len)
        return {
            "query_input_ids": query_ids,
            "query_attention_mask": query_mask,
            "passage_input_ids": passage_ids,
            "passage_attention_mask": passage_mask,
        }

    @classmethod
    def restore(cls, path: Path, config: RankerConfig, *, attn_implementation: str | None = None) -> Ranker:
        from transformers import AutoModel, AutoTokenizer

        kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
        with quiet_transformers():
            encoder = AutoModel.from_pretrained(path, **kwargs)
            tokenizer = AutoTokenizer.from_pretrained(path)
        ranker = cls(config, encoder, tokenizer)
        load_head(ranker, path)
        return ranker.eval()
