"""The vectorised input layouts (kdlib.models.pieces) give exactly the tensors of the row loop
they replaced: the same ids, masks, token types and widths, for every architecture."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kdlib.models import build
from kdlib.models.base import pad_sequences
from kdlib.models.pieces import PaddedPieces, join_rows

QUERIES = ["", "what is a flea", "how long does the life cycle of a cat flea take from egg to adult " * 3, "cats"]
PASSAGES = ["Fleas are small wingless insects. " * 20, "", "The life cycle of a flea has four stages.", "Cats."]


def row_loop_features(ranker, queries, passages) -> dict[str, torch.Tensor]:
    """The layouts as the models built them before kdlib.models.pieces: one list per row, then
    ``pad_sequences``."""
    ids = {name: ranker.special_id(name) for name in ("cls", "sep", "pad", "unk", "mask")}
    q = ranker.word_pieces(queries, ranker.config.query_max_len)
    p = ranker.word_pieces(passages, ranker.config.passage_max_len)
    cls, sep, pad = ids["cls"], ids["sep"], ids["pad"]

    def separate(query_rows, passage_rows):
        query_ids, query_mask = pad_sequences(query_rows, pad)
        passage_ids, passage_mask = pad_sequences(passage_rows, pad)
        return {"query_input_ids": query_ids, "query_attention_mask": query_mask,
                "passage_input_ids": passage_ids, "passage_attention_mask": passage_mask}

    if ranker.arch == "bert_cat":
        input_ids, mask = pad_sequences([[cls, *a, sep, *b, sep] for a, b in zip(q, p)], pad)
        types, _ = pad_sequences([[0] * (len(a) + 2) + [1] * (len(b) + 1) for a, b in zip(q, p)], 0)
        return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": types}
    if ranker.arch == "tk":
        return separate([a or [ids["unk"]] for a in q], [b or [ids["unk"]] for b in p])
    suffix = [ids["mask"]] * ranker.options.query_augmentation if ranker.arch == "colbert" else []
    passage_rows = [[*b, sep] for b in p] if ranker.arch == "prett" else [[cls, *b, sep] for b in p]
    return separate([[cls, *a, sep, *suffix] for a in q], passage_rows)


@pytest.mark.parametrize("arch", ["bert_cat", "bert_dot", "colbert", "prett", "tk"])
@pytest.mark.parametrize("order", [slice(None), slice(None, None, -1), slice(1, 3), slice(2, 3)])
def test_layouts_equal_the_row_loop(arch, order):
    ranker = build(arch, "tiny-random", query_max_len=7, passage_max_len=11)
    queries, passages = QUERIES[order], PASSAGES[order]
    ours, reference = ranker.tokenize(queries, passages), row_loop_features(ranker, queries, passages)
    assert ours.keys() == reference.keys()
    for key in reference:
        assert ours[key].dtype == reference[key].dtype == torch.long, key
        assert torch.equal(ours[key], reference[key]), key


def test_padded_pieces_take_and_edges():
    pieces = PaddedPieces.from_lists([[5, 6, 7], [], [8]])
    assert pieces.ids.tolist() == [[5, 6, 7], [0, 0, 0], [8, 0, 0]] and pieces.lengths.tolist() == [3, 0, 1]
    taken = pieces.take(np.array([2, 1, 2]))
    assert taken.ids.shape == (3, 1) and taken.lengths.tolist() == [1, 0, 1]
    filled = pieces.at_least_one(99)
    assert filled.ids[1, 0] == 99 and filled.lengths.tolist() == [3, 1, 1] and pieces.lengths[1] == 0
    assert PaddedPieces.from_lists([[], []]).at_least_one(4).ids.tolist() == [[4], [4]]
    ids, mask = join_rows([PaddedPieces.from_lists([]), [1, 2]], pad_id=9)
    assert ids.shape == mask.shape == (0, 1)  # as pad_sequences([])
    with pytest.raises(ValueError, match="at least one PaddedPieces"):
        join_rows([[1, 2]], pad_id=0)


def test_int32_pieces_give_the_same_int64_layout():
    """The training feed stores its windows as int32 (half the memory); the layouts it builds
    from them are the int64 tensors of int64 pieces."""
    rows = [[5, 6, 7], [], [30_521]]
    wide, narrow = PaddedPieces.from_lists(rows), PaddedPieces.from_lists(rows, np.int32)
    assert narrow.ids.dtype == np.int32 and narrow.at_least_one(100).ids.dtype == np.int32
    for ours, reference in zip(join_rows([[101], narrow.at_least_one(100), [102]], 0, segments=[0, 1, 1]),
                               join_rows([[101], wide.at_least_one(100), [102]], 0, segments=[0, 1, 1])):
        assert ours.dtype == torch.long and torch.equal(ours, reference)
