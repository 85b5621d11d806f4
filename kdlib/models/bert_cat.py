"""BERT_CAT: the concatenated (cross-encoder) ranker, teacher and DistilBERT_CAT student.

``s(q, p) = w · BERT([CLS] q [SEP] p [SEP])[CLS] + b``

Query and passage attend to each other in every layer, which makes BERT_CAT the most
effective and the slowest architecture: nothing can be pre-computed per passage
(Hofstätter et al., 2020, Section 3; Nogueira & Cho, 2019, "Passage Re-ranking with BERT").
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from kdlib.models.base import RankerConfig, full_precision
from kdlib.models.encoder_ranker import EncoderRanker
from kdlib.models.pieces import PaddedPieces, join_rows
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

    def features_from_pieces(self, queries: PaddedPieces, passages: PaddedPieces) -> dict[str, torch.Tensor]:
        cls, sep, pad = self.special_id("cls"), self.special_id("sep"), self.special_id("pad")
        # Segment 0 for "[CLS] q [SEP]", segment 1 for "p [SEP]", as in BERT's sentence pairs.
        input_ids, attention_mask, token_type_ids = join_rows(
            [[cls], queries, [sep], passages, [sep]], pad, segments=[0, 0, 0, 1, 1])
        return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.encode(features["input_ids"], features["attention_mask"], features.get("token_type_ids"))
        with full_precision(hidden.device):
            return self.classification_layer(hidden[:, 0].float()).squeeze(-1)
