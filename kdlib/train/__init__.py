"""Training: the one loop for teachers and students, and the pipeline entry points.

- :func:`train` — the loop (bf16 or fp16 + gradient scaler, length bucketing, resume, validation, DDP).
- :class:`TrainingExample`, :class:`TrainResult`, :class:`Validation`.
- :func:`label_examples`, :func:`train_student`, :func:`train_own_teacher` — what the CLI
  and the notebooks call (profile in, trained model directory out).
"""
from __future__ import annotations

from kdlib.data.examples import TrainingExample
from kdlib.train.errors import ExamplesError, NonFiniteLossError
from kdlib.train.result import TrainResult

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
    # The loop imports torch, the pipeline kdlib.data / kdlib.models: load them only when
    # asked for, so that reading a finished run's results stays cheap.
    if name == "train":
        from kdlib.train.loop import train

        return train
    if name == "Validation":
        from kdlib.train.validation import Validation

        return Validation
    if name in ("label_examples", "train_student", "train_own_teacher", "student_examples"):
        from kdlib.train import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'kdlib.train' has no attribute {name!r}")
