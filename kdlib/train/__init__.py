"""Training: the one loop for teachers and students, and the pipeline entry points.

- :func:`train` — the loop (bf16, length bucketing, resume, validation, DDP).
- :class:`TrainingExample`, :class:`TrainResult`, :class:`Validation`.
- :func:`label_examples`, :func:`train_student`, :func:`train_own_teacher` — what the CLI
  and the notebooks call (profile in, trained model directory out).
"""
from __future__ import annotations

from kdlib.train.errors import ExamplesError, NonFiniteLossError
from kdlib.train.examples import TrainingExample
from kdlib.train.loop import train
from kdlib.train.result import TrainResult
from kdlib.train.validation import Validation

__all__ = [
    "ExamplesError",
    "NonFiniteLossError",
    "TrainResult",
    "TrainingExample",
    "Validation",
    "label_examples",
    "train",
    "train_own_teacher",
    "train_student",
]


def __getattr__(name: str):
    # The pipeline imports kdlib.data / kdlib.models; load it only when asked for.
    if name in ("label_examples", "train_student", "train_own_teacher", "student_examples"):
        from kdlib.train import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'kdlib.train' has no attribute {name!r}")
