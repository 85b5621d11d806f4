"""Word pieces held as padded arrays, and the vectorised assembly of model inputs from them.

Every architecture's input rows are word pieces of a query and/or a passage framed by special
tokens, e.g. BERT_CAT's ``[CLS] q [SEP] p [SEP]``. Built with a Python loop over rows, that
assembly costs about 1 ms for 32 pairs and 15 ms for 512, every training step. Here a text's
pieces are one row of a right-padded id matrix (:class:`PaddedPieces`), and :func:`join_rows`
places each part of every row with a few array operations, whatever the batch size.

The results are exactly those of the row loop (``pad_sequences`` over concatenated lists): the
same ids, the same padding, the same width (the longest row, at least 1).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
import torch


@dataclass(frozen=True)
class PaddedPieces:
    """The word-piece ids of ``n`` texts as one right-padded matrix.

    Attributes:
        ids: ``(n, width)`` integers (int64, or int32 to halve a large table); row ``i`` holds
            text ``i``'s pieces in its first ``lengths[i]`` columns (the rest is 0, never read).
        lengths: ``(n,)`` int64, the number of pieces of each text.
    """

    ids: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def from_lists(cls, pieces: Sequence[Sequence[int]], dtype: type = np.int64) -> PaddedPieces:
        """Pieces given as one id list per text, stored as ``dtype``."""
        lengths = np.fromiter((len(p) for p in pieces), dtype=np.int64, count=len(pieces))
        width = int(lengths.max()) if len(pieces) else 0
        ids = np.zeros((len(pieces), width), dtype=dtype)
        flat = np.fromiter(itertools.chain.from_iterable(pieces), dtype=dtype, count=int(lengths.sum()))
        ids[_filled(lengths, width)] = flat  # row-major order of the True cells = concatenation order
        return cls(ids, lengths)

    def take(self, rows: np.ndarray) -> PaddedPieces:
        """The texts at ``rows`` (repeats allowed), narrowed to the longest of them."""
        lengths = self.lengths[rows]
        width = int(lengths.max()) if len(rows) else 0
        return PaddedPieces(self.ids[rows, :width], lengths)

    def at_least_one(self, filler_id: int) -> PaddedPieces:
        """Empty texts replaced by the single piece ``filler_id`` (e.g. ``[UNK]``)."""
        empty = self.lengths == 0
        if not empty.any():
            return self
        ids = self.ids if self.ids.shape[1] else np.zeros((len(self), 1), dtype=self.ids.dtype)
        ids = ids.copy()
        ids[empty, 0] = filler_id
        return PaddedPieces(ids, np.where(empty, 1, self.lengths))


#: One part of a row: the pieces of a text (one per row) or special tokens (the same in every row).
Part = Union[PaddedPieces, Sequence[int]]


def join_rows(parts: Sequence[Part], pad_id: int, *, segments: Sequence[int] | None = None
              ) -> tuple[torch.Tensor, ...]:
    """Row ``i`` = the concatenation of every part's row ``i``, right-padded with ``pad_id``.

    Args:
        parts: :class:`PaddedPieces` (all of the same length ``n``) and lists of token ids.
        pad_id: the padding id.
        segments: optional segment id of each part (BERT's token types; padding gets 0).

    Returns:
        ``(ids, mask)``, or ``(ids, mask, token_type_ids)`` with ``segments``: ``(n, longest)``
        int64 tensors (``longest`` at least 1), as ``pad_sequences`` of the joined lists.
    """
    texts = [p for p in parts if isinstance(p, PaddedPieces)]
    if not texts:
        raise ValueError("join_rows needs at least one PaddedPieces part (it sets the number of rows)")
    n = len(texts[0])
    part_lengths = [p.lengths if isinstance(p, PaddedPieces) else np.full(n, len(p), dtype=np.int64) for p in parts]
    total = np.sum(part_lengths, axis=0) if n else np.zeros(0, dtype=np.int64)
    width = max(int(total.max()) if n else 0, 1)
    ids = np.full((n, width), pad_id, dtype=np.int64)
    types = np.zeros((n, width), dtype=np.int64) if segments is not None else None
    rows = np.arange(n)
    start = np.zeros(n, dtype=np.int64)
    for index, (part, length) in enumerate(zip(parts, part_lengths)):
        if isinstance(part, PaddedPieces):
            row, col = np.nonzero(_filled(part.lengths, part.ids.shape[1]))
            ids[row, start[row] + col] = part.ids[row, col]
        else:
            for k, token in enumerate(part):
                ids[rows, start + k] = token
        if types is not None and segments[index]:
            columns = np.arange(width)
            types[(columns >= start[:, None]) & (columns < (start + length)[:, None])] = segments[index]
        start = start + length
    mask = _filled(total, width).astype(np.int64)
    out = (torch.from_numpy(ids), torch.from_numpy(mask))
    return out if types is None else (*out, torch.from_numpy(types))


def _filled(lengths: np.ndarray, width: int) -> np.ndarray:
    """``(n, width)`` bool: cell ``(i, j)`` is True when ``j < lengths[i]``."""
    return np.arange(width)[None, :] < lengths[:, None]
