"""Teacher scoring: trained teachers, ensembles and published runs, in the published file format.

- :func:`score_triples` — one teacher or the per-pair mean of several (T2), streamed,
  resumable and sharded under ``torchrun``.
- :func:`published_teacher_scores` — teachers from the pack's published runs (z-normalised).
- :func:`read_examples_from_teacher_file` — a teacher file back to training examples.
"""
from __future__ import annotations

from kdlib.teacher.examples import read_examples_from_teacher_file
from kdlib.teacher.published import MemberScores, member_scores, published_teacher_scores
from kdlib.teacher.scoring import merge_shards, score_triples, shard_path, shard_range

__all__ = [
    "MemberScores",
    "member_scores",
    "merge_shards",
    "published_teacher_scores",
    "read_examples_from_teacher_file",
    "score_triples",
    "shard_path",
    "shard_range",
]
