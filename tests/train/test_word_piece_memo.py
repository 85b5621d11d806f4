"""The word-piece memo changes speed only: the same ids as a fresh tokenizer call, always."""
from __future__ import annotations

from kdlib.models import base, build

TEXTS = ["what is the boiling point of water", "the boiling point of water is 100 degrees celsius",
         "a completely different passage about ships", "what is the boiling point of water"]


def fresh(ranker, texts, max_len):
    encoded = ranker.tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=max_len)
    return [list(ids) for ids in encoded["input_ids"]]


def test_memoised_word_pieces_equal_a_fresh_tokenisation(monkeypatch):
    ranker = build("bert_dot", "tiny-random", query_max_len=12, passage_max_len=24)
    for max_len in (3, 24, 3):  # the same text truncated differently is a different entry
        assert ranker.word_pieces(TEXTS, max_len) == fresh(ranker, TEXTS, max_len)
        assert ranker.word_pieces(TEXTS[::-1], max_len) == fresh(ranker, TEXTS[::-1], max_len)
    # Returned lists are copies: a caller appending special tokens cannot corrupt the memo.
    pieces = ranker.word_pieces(TEXTS[:1], 24)
    pieces[0].append(-1)
    assert ranker.word_pieces(TEXTS[:1], 24) == fresh(ranker, TEXTS[:1], 24)


def test_word_piece_memo_is_bounded(monkeypatch):
    monkeypatch.setattr(base, "WORD_PIECE_MEMO_SIZE", 3)
    ranker = build("bert_cat", "tiny-random", query_max_len=12, passage_max_len=24)
    for i in range(10):
        texts = [f"passage number {i} {j}" for j in range(2)]
        assert ranker.word_pieces(texts, 8) == fresh(ranker, texts, 8)
        assert len(ranker.__dict__["_word_piece_memo"]) <= 3
