"""Deterministic batch order with length bucketing, and the collate that tokenizes a batch.

The order of every batch is a pure function of ``(seed, epoch)``, so a resumed run
finds its place from the step number alone (no sampler state to save):

1. shuffle all example indices with ``seed + epoch``;
2. cut the shuffled list into chunks of ``bucket_batches`` batches and sort each chunk
   by length, so that a batch holds similar lengths (less padding, faster on CPU);
3. cut the chunks into batches and shuffle the batches (so the length order is not
   seen by the optimiser).
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from kdlib.data.examples import TrainingExample


def epoch_batches(
    lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int, bucket_batches: int = 16
) -> list[list[int]]:
    """Index batches of one epoch (see the module docstring for the recipe).

    An incomplete last batch is dropped, unless the data hold less than one batch, in
    which case the one batch has all examples.

    Args:
        lengths: a length proxy per example.
        batch_size: examples per batch.
        seed: base seed of the run.
        epoch: 0-based epoch (changes the shuffle).
        bucket_batches: batches per length-sorted chunk.

    Returns:
        A list of batches, each a list of example indices.
    """
    n = len(lengths)
    if n == 0:
        raise ValueError("no training examples")
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    if n < batch_size:
        return [order.tolist()]
    usable = n - n % batch_size
    order = order[:usable]
    chunk = batch_size * bucket_batches
    batches: list[list[int]] = []
    lengths_arr = np.asarray(lengths)
    for start in range(0, usable, chunk):
        part = order[start:start + chunk]
        # A stable sort keeps the shuffled order among equal lengths (deterministic).
        part = part[np.argsort(lengths_arr[part], kind="stable")]
        batches.extend(part[i:i + batch_size].tolist() for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


class StepSchedule:
    """Yields the micro-batches of optimiser steps ``start_step+1 ...`` for this rank.

    Each step's batch of ``batch_size`` triples is sharded over ranks
    (``batch[rank::world_size]``) and the shard cut into ``grad_accum`` micro-batches.

    Args:
        lengths: a length proxy per example.
        batch_size: triples per optimiser step (all ranks together).
        seed: base seed.
        start_step: steps already done (resume position).
        max_steps: last step.
        grad_accum: micro-batches per step.
        rank: this process' rank.
        world_size: number of processes.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        seed: int,
        start_step: int,
        max_steps: int,
        grad_accum: int = 1,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.start_step = start_step
        self.max_steps = max_steps
        self.grad_accum = grad_accum
        self.rank = rank
        self.world_size = world_size
        self.steps_per_epoch = len(epoch_batches(self.lengths, batch_size, seed=seed, epoch=0))
        self._cache: tuple[int, list[list[int]]] | None = None

    def batch_of_step(self, step: int) -> list[int]:
        """The full (all ranks) index batch of 1-based optimiser ``step``."""
        epoch, position = divmod(step - 1, self.steps_per_epoch)
        if self._cache is None or self._cache[0] != epoch:
            self._cache = (epoch, epoch_batches(self.lengths, self.batch_size, seed=self.seed, epoch=epoch))
        return self._cache[1][position]

    def micro_batches(self, step: int) -> list[list[int]]:
        """This rank's micro-batches of ``step`` (empty shards are dropped)."""
        shard = self.batch_of_step(step)[self.rank::self.world_size]
        parts = np.array_split(np.asarray(shard, dtype=np.int64), self.grad_accum)
        return [p.tolist() for p in parts if len(p)]

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step + 1, self.max_steps + 1):
            yield from self.micro_batches(step)

    def __len__(self) -> int:
        return sum(len(self.micro_batches(s)) for s in range(self.start_step + 1, self.max_steps + 1))


def make_collate(tokenize: Callable[[list[str], list[str]], dict[str, torch.Tensor]]) -> Callable:
    """A DataLoader ``collate_fn``: ``B`` triples -> ``2B`` aligned (query, passage) pairs.

    Pairs are interleaved ``(q0, p0+), (q0, p0-), (q1, p1+), ...`` so that the ranker's
    ``(2B,)`` scores reshape to ``(B, 2)`` with the positive in column 0, the layout the
    losses expect.

    Returns:
        A function mapping a list of :class:`TrainingExample` to
        ``{"features": ..., "teacher": (B, 2) tensor or None, "size": B}``.
    """

    def collate(batch: list[TrainingExample]) -> dict[str, Any]:
        queries = [q for ex in batch for q in (ex.query, ex.query)]
        passages = [p for ex in batch for p in (ex.pos_text, ex.neg_text)]
        teacher = None
        if all(ex.has_teacher for ex in batch):
            teacher = torch.tensor([[ex.pos_score, ex.neg_score] for ex in batch], dtype=torch.float32)
        return {"features": tokenize(queries, passages), "teacher": teacher, "size": len(batch)}

    return collate
