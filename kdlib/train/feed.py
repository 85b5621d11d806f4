"""What the training loop feeds each optimiser step: this rank's micro-batches, ready to copy.

A micro-batch is ``{"features": tensors of 2B aligned (query, passage) pairs, "teacher": (B, 2)
scores or None, "size": B}``, pairs interleaved ``(q0, p0+), (q0, p0-), (q1, p1+), ...`` so that
the ``(2B,)`` scores reshape to ``(B, 2)`` with the positive in column 0.

Two feeds give the same micro-batches, tensor for tensor:

- :class:`PreTokenizedFeed`, for triples held in memory and a kdlib ranker: before the steps of
  a window (:data:`WINDOW_TRIPLES` triples), every query and passage those steps will use is
  tokenised once, in one tokenizer call, into a pre-padded id matrix
  (:class:`~kdlib.models.pieces.PaddedPieces`). A step then gathers its rows and hands them to
  the ranker's layout (``features_from_pieces``): a few array operations, where calling the
  tokenizer and padding row by row each step cost about 5 ms for 16 triples on first sight
  (1 ms from the word-piece memo) and 85 ms for 256 (15 ms). On a GPU the next window is
  tokenised in a background thread (with its own copy of the tokenizer) while this one trains.
- :class:`CollatingFeed`, for triples held by id (their texts are fetched one batch at a time,
  :class:`~kdlib.data.id_examples.IdTripleExamples`) or a ranker without that layout: a
  DataLoader over the batch schedule whose collate calls ``ranker.tokenize``.

On CUDA both put the tensors in pinned memory, so that the loop's copies to the device are
asynchronous (``non_blocking``) and a step's host work overlaps the previous step's kernels.
DataLoader workers are not used: on the 2-core CPU they compete with the model's threads, and
the pre-tokenised feed leaves a worker nothing to do.
"""
from __future__ import annotations

import copy
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from kdlib.data.examples import TrainingExample
from kdlib.models.base import Ranker
from kdlib.models.pieces import PaddedPieces
from kdlib.train.batching import StepSchedule, make_collate

#: Triples tokenised at a time: bounds the pre-padded matrices (int32; about 1.1 KB a triple
#: at the paper's lengths, 30 and 128: 72 MB a window) and the pause before the first step.
WINDOW_TRIPLES = 65_536

MicroBatch = dict[str, Any]


class StepFeed(Protocol):
    """The micro-batches of each optimiser step, asked for in step order."""

    def micro_batches(self, step: int) -> list[MicroBatch]:
        """This rank's micro-batches of 1-based ``step``."""

    def close(self) -> None:
        """Release background work (a feed is not used after this)."""


def make_feed(ranker: Any, examples: Sequence[TrainingExample], schedule: StepSchedule, *,
              device: torch.device) -> StepFeed:
    """The pre-tokenised feed where it applies, else the collating one (see the module docstring)."""
    pin = device.type == "cuda"
    lazy_texts = callable(getattr(examples, "__getitems__", None))  # texts fetched per batch
    if not lazy_texts and lays_out_pieces(ranker):
        return PreTokenizedFeed(ranker, examples, schedule, pin_memory=pin, prefetch=device.type == "cuda")
    return CollatingFeed(ranker.tokenize, examples, schedule, pin_memory=pin)


def lays_out_pieces(ranker: Any) -> bool:
    """Whether ``ranker.tokenize`` is exactly word pieces followed by ``features_from_pieces``
    (:meth:`kdlib.models.base.Ranker.tokenize`), so that batches assembled from pre-tokenised
    pieces are the tensors ``tokenize`` would give. A ranker that brings its own ``tokenize``,
    or lacks a layout of its own, is collated through ``tokenize`` instead: the feed must never
    train on inputs that scoring would not build."""
    cls = type(ranker)
    return (isinstance(ranker, Ranker) and cls.tokenize is Ranker.tokenize
            and cls.features_from_pieces is not Ranker.features_from_pieces)


class CollatingFeed:
    """Each batch collated when its step comes: ``tokenize`` on its texts (one ``__getitems__``
    call per batch for id-held triples)."""

    def __init__(self, tokenize: Callable[[list[str], list[str]], dict[str, torch.Tensor]],
                 examples: Sequence[TrainingExample], schedule: StepSchedule, *, pin_memory: bool) -> None:
        self.schedule = schedule
        loader = DataLoader(examples, batch_sampler=schedule, collate_fn=make_collate(tokenize), num_workers=0,
                            pin_memory=pin_memory)
        self._batches = iter(loader)

    def micro_batches(self, step: int) -> list[MicroBatch]:
        return [next(self._batches) for _ in self.schedule.micro_batches(step)]

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class _Window:
    """The tokenised triples of steps ``first..last``: for the ``k``-th distinct example of the
    window, its query's row in ``queries`` and its passages' rows in ``passages``."""

    first: int
    last: int
    position: dict[int, int]  # example index -> k
    queries: PaddedPieces
    passages: PaddedPieces
    query_row: np.ndarray  # (n,)
    passage_rows: np.ndarray  # (n, 2): positive, negative
    teacher: np.ndarray  # (n, 2) float64, NaN where absent
    has_teacher: np.ndarray  # (n,) bool


class PreTokenizedFeed:
    """Micro-batches assembled from word pieces tokenised once per window of steps.

    Args:
        ranker: a kdlib ranker (``encode_word_pieces``, ``features_from_pieces``, ``config``).
        examples: triples held in memory, indexed by the schedule.
        schedule: the loop's batch schedule (this rank's micro-batches of each step).
        pin_memory: put the tensors in pinned memory (CUDA).
        prefetch: tokenise the next window in a background thread.
        window_triples: triples per window.
    """

    def __init__(self, ranker: Any, examples: Sequence[TrainingExample], schedule: StepSchedule, *,
                 pin_memory: bool = False, prefetch: bool = False, window_triples: int = WINDOW_TRIPLES) -> None:
        self.ranker, self.examples, self.schedule = ranker, examples, schedule
        self.pin_memory = pin_memory
        self.steps_per_window = max(1, window_triples // schedule.batch_size)
        # A fast tokenizer must not be called from two threads at once (validation tokenises
        # on the main thread), so the background thread gets a copy of its own.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kdlib-tokenise") if prefetch else None
        self._tokenizer = copy.deepcopy(ranker.tokenizer) if prefetch else None
        self._window: _Window | None = None
        self._next: Future | None = None  # the window after this one, being tokenised
        # The DataLoader this feed replaces drew one number from torch's global generator when
        # the loop started iterating it. Drawing it here too keeps dropout's random numbers, and
        # so every run with dropout, exactly as they were.
        torch.empty((), dtype=torch.int64).random_()
        self._next_first = 0  # its first step

    def micro_batches(self, step: int) -> list[MicroBatch]:
        window = self._window_of(step)
        return [self._assemble(window, indices) for indices in self.schedule.micro_batches(step)]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    # -- windows --------------------------------------------------------------------------
    def _window_of(self, step: int) -> _Window:
        if self._window is not None and self._window.first <= step <= self._window.last:
            return self._window
        first = step
        if self._next is not None and self._next_first == first:
            self._window = self._next.result()
        else:  # the first window, or a jump (not made by the loop): tokenise here
            self._window = self._tokenise(first, tokenizer=None)
        self._next = None
        following = self._window.last + 1
        if self._executor is not None and following <= self.schedule.max_steps:
            self._next_first = following
            self._next = self._executor.submit(self._tokenise, following, tokenizer=self._tokenizer)
        return self._window

    def _tokenise(self, first: int, *, tokenizer: Any) -> _Window:
        last = min(first + self.steps_per_window - 1, self.schedule.max_steps)
        order = [i for step in range(first, last + 1) for part in self.schedule.micro_batches(step) for i in part]
        position = dict.fromkeys(order)
        for k, index in enumerate(position):
            position[index] = k
        triples = [self.examples[i] for i in position]
        query_texts = list(dict.fromkeys(ex.query for ex in triples))
        passage_texts = list(dict.fromkeys(p for ex in triples for p in (ex.pos_text, ex.neg_text)))
        config = self.ranker.config
        queries = PaddedPieces.from_lists(
            self.ranker.encode_word_pieces(query_texts, config.query_max_len, tokenizer=tokenizer), np.int32)
        passages = PaddedPieces.from_lists(
            self.ranker.encode_word_pieces(passage_texts, config.passage_max_len, tokenizer=tokenizer), np.int32)
        query_index = {text: row for row, text in enumerate(query_texts)}
        passage_index = {text: row for row, text in enumerate(passage_texts)}
        return _Window(
            first=first, last=last, position=position, queries=queries, passages=passages,
            query_row=np.array([query_index[ex.query] for ex in triples], dtype=np.int64),
            passage_rows=np.array([[passage_index[ex.pos_text], passage_index[ex.neg_text]] for ex in triples],
                                  dtype=np.int64).reshape(-1, 2),
            teacher=np.array([[_or_nan(ex.pos_score), _or_nan(ex.neg_score)] for ex in triples],
                             dtype=np.float64).reshape(-1, 2),
            has_teacher=np.array([ex.has_teacher for ex in triples], dtype=bool),
        )

    # -- one micro-batch ------------------------------------------------------------------
    def _assemble(self, window: _Window, indices: list[int]) -> MicroBatch:
        k = np.array([window.position[i] for i in indices], dtype=np.int64)
        queries = window.queries.take(np.repeat(window.query_row[k], 2))  # q0, q0, q1, q1, ...
        passages = window.passages.take(window.passage_rows[k].reshape(-1))  # p0+, p0-, p1+, ...
        features = self.ranker.features_from_pieces(queries, passages)
        teacher = None
        if window.has_teacher[k].all():
            teacher = torch.tensor(window.teacher[k], dtype=torch.float32)
        if self.pin_memory:
            features = {name: tensor.pin_memory() for name, tensor in features.items()}
            teacher = teacher.pin_memory() if teacher is not None else None
        return {"features": features, "teacher": teacher, "size": len(indices)}


def _or_nan(score: float | None) -> float:
    return float("nan") if score is None else score
