"""BERT_CAT: the concatenated (cross-encoder) ranker, teacher and DistilBERT_CAT student.

``s(q, p) = w · BERT([CLS] q [SEP] p [SEP])[CLS] + b``

Query and passage attend to each other in every layer, which makes BERT_CAT the most
effective and the slowest architecture: nothing can be pre-computed per passage
(Hofstätter et al., 2020, Section 3; Nogueira & Cho, 2019, "Passage Re-ranking with BERT").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from kdlib.models.base import RankerConfig, full_precision, pad_sequences
from kdlib.models.encoder_ranker import EncoderRanker
from kdlib.models.registry import register


@dataclass(frozen=True)
class BertCatOptions:
    """BERT_CAT has no options besides the shared ones (encoder, layers, lengths)."""


@register
class BertCat(EncoderRanker):
    """``[CLS] q [SEP] p [SEP]`` -> CLS vector -> linear -> score.

    The head is named ``classification_layer`` after the authors' ``BERT_Cat`` class
    (``_classification_layer`` there), whose checkpoints :func:`kdlib.models.load` reads.
    """

    arch = "bert_cat"
    supports_passage_cache = False
    Options = BertCatOptions

    def __init__(self, config: RankerConfig, encoder, tokenizer) -> None:
        super().__init__(config, encoder, tokenizer)
        self.classification_layer = torch.nn.Linear(self.hidden_size, 1)

    def tokenize(self, queries: Sequence[str], passages: Sequence[str]) -> dict[str, torch.Tensor]:
        self._check_pairs(queries, passages)
        cls, sep, pad = self.special_id("cls"), self.special_id("sep"), self.special_id("pad")
        query_pieces = self.word_pieces(queries, self.config.query_max_len)
        passage_pieces = self.word_pieces(passages, self.config.passage_max_len)
        sequences = [[cls, *q, sep, *p, sep] for q, p in zip(query_pieces, passage_pieces)]
        # Segment 0 for "[CLS] q [SEP]", segment 1 for "p [SEP]", as in BERT's sentence pairs.
        segments = [[0] * (len(q) + 2) + [1] * (len(p) + 1) for q, p in zip(query_pieces, passage_pieces)]
        input_ids, attention_mask = pad_sequences(sequences, pad)
        token_type_ids, _ = pad_sequences(segments, 0)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.encode(features["input_ids"], features["attention_mask"], features.get("token_type_ids"))
        with full_precision(hidden.device):
            return self.classification_layer(hidden[:, 0].float()).squeeze(-1)
