"""Shared plumbing of the BERT-based rankers (BERT_CAT, BERT_DOT, ColBERT, PreTT).

They all own a Hugging Face encoder (``self.encoder``), save it in plain transformers
format and restore it with ``AutoModel.from_pretrained``; only their heads differ.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Sequence

import torch

from kdlib.models.base import Ranker, RankerConfig, load_head
from kdlib.models.encoders import quiet_transformers
from kdlib.models.pieces import PaddedPieces, join_rows


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

    def sequences(self, pieces: PaddedPieces, suffix: Sequence[int] = ()) -> tuple[torch.Tensor, torch.Tensor]:
        """``[CLS] pieces [SEP] suffix`` for each text, padded: ``(ids, mask)``."""
        return join_rows([[self.special_id("cls")], pieces, [self.special_id("sep"), *suffix]], self.special_id("pad"))

    def single_sequences(self, texts: Sequence[str], max_len: int, suffix: Sequence[int] = ()) -> tuple[torch.Tensor, torch.Tensor]:
        """``[CLS] text [SEP] suffix`` for each text, padded: ``(ids, mask)``."""
        return self.sequences(self.padded_word_pieces(texts, max_len), suffix)

    def query_suffix(self) -> list[int]:
        """Tokens after a query's ``[SEP]`` when it is encoded on its own (ColBERT's [MASK] augmentation)."""
        return []

    def query_sequences(self, queries: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Queries encoded on their own (bi-encoders), :meth:`query_suffix` appended."""
        return self.single_sequences(queries, self.config.query_max_len, self.query_suffix())

    def features_from_pieces(self, queries: PaddedPieces, passages: PaddedPieces) -> dict[str, torch.Tensor]:
        """Query and passage encoded separately (BERT_DOT, ColBERT); joint layouts override this."""
        query_ids, query_mask = self.sequences(queries, self.query_suffix())
        passage_ids, passage_mask = self.sequences(passages)
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
