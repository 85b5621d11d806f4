"""PreTT: pre-computed transformer term representations (MacAvaney et al., SIGIR 2020).

The first ``split_layer`` layers of the encoder run on the query (``[CLS] q [SEP]``) and
on the passage (``p [SEP]``) separately; the remaining layers run jointly on their
concatenation, and the CLS vector goes through a linear layer as in BERT_CAT:

``h_q = L_1..k([CLS] q [SEP]),  h_p = L_1..k(p [SEP]),  s = w · L_k+1..n([h_q ; h_p])[CLS] + b``

The passage half of the computation does not depend on the query, so it is cached. The
paper's PreTT splits a 6-layer DistilBERT after layer 3 (Hofstätter et al., 2020, Section 3).

Positions and segments. Query tokens get positions 0.. and segment 0; passage tokens get
segment 1 and positions that continue after the query. When ``split_layer > 0`` the passage
is encoded without its query, so its first position cannot be the query's length: it is the
fixed ``query_max_len + 2`` (the slot after the longest possible ``[CLS] q [SEP]``), which
keeps cached passages query-independent and scores independent of padding. (The authors'
code offsets by the padded batch width instead, which makes scores depend on padding.)
With ``split_layer = 0`` nothing runs separately, the passage follows the actual query
length, and PreTT is exactly BERT_CAT.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Sequence

import torch

from kdlib.models.base import RankerConfig, full_precision, pad_cache_rows
from kdlib.models.encoder_ranker import EncoderRanker
from kdlib.models.pieces import PaddedPieces, join_rows
from kdlib.models.registry import register


@dataclass(frozen=True)
class PreTTOptions:
    """Options of PreTT.

    Attributes:
        split_layer: layers run separately on query and passage before they are joined
            (``None``: half of the encoder's layers, rounded down; 0 makes PreTT a BERT_CAT).
    """

    split_layer: int | None = None


@dataclass
class PreTTPassageCache:
    """Passages after the separate layers: hidden states ``(n, length, hidden)`` and mask ``(n, length)``.

    With ``split_layer = 0`` the cache holds token ids instead (``states`` is then int64),
    since the passage's positions depend on the query.
    """

    states: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return self.states.shape[0]


def _layer_stack(encoder) -> torch.nn.ModuleList:
    """The encoder's list of transformer layers (BERT-like: ``encoder.layer``, DistilBERT: ``transformer.layer``)."""
    for owner in ("encoder", "transformer"):
        layers = getattr(getattr(encoder, owner, None), "layer", None)
        if isinstance(layers, torch.nn.ModuleList):
            return layers
    raise ValueError(
        f"prett needs an encoder with a plain list of layers (BERT-like or DistilBERT), got {type(encoder).__name__}"
    )


@register
class PreTT(EncoderRanker):
    """Split-then-join BERT ranker; the passage side of the first ``split_layer`` layers is cacheable."""

    arch = "prett"
    supports_passage_cache = True
    Options = PreTTOptions

    def __init__(self, config: RankerConfig, encoder, tokenizer) -> None:
        super().__init__(config, encoder, tokenizer)
        self.layers = _layer_stack(encoder)
        depth = len(self.layers)
        split = self.options.split_layer
        self.split_layer = depth // 2 if split is None else int(split)
        if not 0 <= self.split_layer <= depth:
            raise ValueError(f"split_layer must be between 0 and {depth} (the encoder's layers), got {split}")
        longest = config.query_max_len + config.passage_max_len + 3
        if longest > encoder.config.max_position_embeddings:
            raise ValueError(
                f"query_max_len + passage_max_len + 3 = {longest} exceeds the encoder's "
                f"{encoder.config.max_position_embeddings} positions"
            )
        self.passage_offset = config.query_max_len + 2
        self._embedding_args = set(inspect.signature(encoder.embeddings.forward).parameters)
        self.classification_layer = torch.nn.Linear(self.hidden_size, 1)

    # -- tokenisation -----------------------------------------------------------------------
    def _passage_sequences(self, passages: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        return self._passage_layout(self.padded_word_pieces(passages, self.config.passage_max_len))

    def _passage_layout(self, pieces: PaddedPieces) -> tuple[torch.Tensor, torch.Tensor]:
        """``p [SEP]``: the passage continues the query's sequence, so it has no [CLS]."""
        return join_rows([pieces, [self.special_id("sep")]], self.special_id("pad"))

    def features_from_pieces(self, queries: PaddedPieces, passages: PaddedPieces) -> dict[str, torch.Tensor]:
        query_ids, query_mask = self.sequences(queries)
        passage_ids, passage_mask = self._passage_layout(passages)
        return {
            "query_input_ids": query_ids,
            "query_attention_mask": query_mask,
            "passage_input_ids": passage_ids,
            "passage_attention_mask": passage_mask,
        }

    # -- the two halves ---------------------------------------------------------------------
    def _embed(self, input_ids: torch.Tensor, positions: torch.Tensor, segment: int) -> torch.Tensor:
        kwargs = {"input_ids": input_ids, "position_ids": positions}
        if "token_type_ids" in self._embedding_args and self.uses_token_types:
            kwargs["token_type_ids"] = torch.full_like(input_ids, segment)
        return self.encoder.embeddings(**kwargs)

    def _run_layers(self, hidden: torch.Tensor, mask: torch.Tensor, layers) -> torch.Tensor:
        from transformers.masking_utils import create_bidirectional_mask

        # The same mask the encoder's own forward builds, for its attention implementation.
        attention_mask = create_bidirectional_mask(config=self.encoder.config, inputs_embeds=hidden, attention_mask=mask)
        for layer in layers:
            output = layer(hidden, attention_mask)
            hidden = output[0] if isinstance(output, tuple) else output
        return hidden

    def _positions(self, length: int, offset: torch.Tensor | int) -> torch.Tensor:
        steps = torch.arange(length, device=self.device).unsqueeze(0)
        return steps + (offset.unsqueeze(1) if isinstance(offset, torch.Tensor) else offset)

    def passage_states(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The passage after the separate layers (requires ``split_layer > 0``): ``(n, length, hidden)``."""
        hidden = self._embed(input_ids, self._positions(input_ids.shape[1], self.passage_offset), 1)
        return self._run_layers(hidden, mask, self.layers[: self.split_layer])

    def _joint_score(self, query_ids, query_mask, passage_hidden, passage_mask) -> torch.Tensor:
        query_hidden = self._embed(query_ids, self._positions(query_ids.shape[1], 0), 0)
        query_hidden = self._run_layers(query_hidden, query_mask, self.layers[: self.split_layer])
        if passage_hidden.dtype == torch.long:  # split_layer 0: passage ids, placed right after each query
            offsets = query_mask.sum(1)
            passage_hidden = self._embed(passage_hidden, self._positions(passage_hidden.shape[1], offsets), 1)
        hidden = torch.cat([query_hidden, passage_hidden.to(query_hidden.dtype)], dim=1)
        mask = torch.cat([query_mask, passage_mask], dim=1)
        hidden = self._run_layers(hidden, mask, self.layers[self.split_layer :])
        with full_precision(hidden.device):
            return self.classification_layer(hidden[:, 0].float()).squeeze(-1)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        passage_ids, passage_mask = features["passage_input_ids"], features["passage_attention_mask"]
        passage = self.passage_states(passage_ids, passage_mask) if self.split_layer else passage_ids
        return self._joint_score(features["query_input_ids"], features["query_attention_mask"], passage, passage_mask)

    # -- re-ranking with a passage cache ----------------------------------------------------
    def encode_passages(self, passages: Sequence[str], *, batch_size: int = 64) -> PreTTPassageCache:
        states, masks = [], []
        with self.inference():
            for start in range(0, len(passages), batch_size):
                ids, mask = self._passage_sequences(passages[start : start + batch_size])
                if self.split_layer:
                    states.append(self.passage_states(ids.to(self.device), mask.to(self.device)).float().cpu())
                else:
                    states.append(ids)
                masks.append(mask)
        if not states:
            return PreTTPassageCache(torch.empty(0, 1, self.hidden_size), torch.empty(0, 1, dtype=torch.long))
        pad = 0.0 if self.split_layer else self.special_id("pad")
        return PreTTPassageCache(pad_cache_rows(states, pad), pad_cache_rows(masks, 0))

    def score_cached(
        self, query: str, cache: PreTTPassageCache, indices: Sequence[int] | None = None, *, batch_size: int = 64
    ) -> torch.Tensor:
        rows = torch.arange(len(cache)) if indices is None else torch.as_tensor(list(indices), dtype=torch.long)
        scores = [torch.empty(0)]
        with self.inference():
            query_ids, query_mask = self.single_sequences([query], self.config.query_max_len)
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                n = len(chunk)
                scores.append(
                    self._joint_score(
                        query_ids.expand(n, -1).to(self.device),
                        query_mask.expand(n, -1).to(self.device),
                        cache.states[chunk].to(self.device),
                        cache.mask[chunk].to(self.device),
                    ).float().cpu()
                )
        return torch.cat(scores)
