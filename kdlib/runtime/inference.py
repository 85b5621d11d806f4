"""The one inference context re-ranking, dense encoding, latency and teacher scoring share.

Every forward pass that is not training runs under ``torch.inference_mode`` and the project's
autocast policy (:func:`kdlib.runtime.precision.autocast`: bf16 on CUDA and on CPUs with
native bf16 matmuls, fp32 elsewhere, or a precision given explicitly), with the ranker in
eval mode for the duration (and put back into training mode after, when it was: validation
runs inside the training loop).
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import torch

from kdlib.runtime.precision import autocast


def ranker_device(ranker: Any) -> torch.device:
    """The device of the ranker's parameters (CPU for a ranker without parameters)."""
    try:
        return next(ranker.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


@contextlib.contextmanager
def no_grad_autocast(device: torch.device | str, *, bf16: bool = True, precision: str | None = None) -> Iterator[None]:
    """``torch.inference_mode`` and autocast on ``device`` (``precision`` overrides ``bf16``)."""
    with torch.inference_mode(), autocast(device, enabled=bf16, precision=precision):
        yield


@contextlib.contextmanager
def inference_context(ranker: Any, *, bf16: bool = True, precision: str | None = None) -> Iterator[None]:
    """Eval mode, ``torch.inference_mode`` and autocast on the ranker's device (module docstring)."""
    was_training = getattr(ranker, "training", False)
    if hasattr(ranker, "eval"):
        ranker.eval()
    try:
        with no_grad_autocast(ranker_device(ranker), bf16=bf16, precision=precision):
            yield
    finally:
        if was_training:
            ranker.train()
