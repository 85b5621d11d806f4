"""AdamW with per-group learning rates, and the warm-up + decay schedule."""
from __future__ import annotations

import math

import torch

from kdlib.core.profiles import TrainConfig


def build_optimizer(ranker: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over the ranker's parameter groups.

    Groups come from ``ranker.parameter_groups`` (TK gives its kernels their own learning
    rate, as the paper does: 1e-5, kernels 1e-4); a module without it gets one group.
    Every group without its own ``weight_decay`` gets ``config.weight_decay``.
    """
    if hasattr(ranker, "parameter_groups"):
        groups = ranker.parameter_groups(
            config.learning_rate,
            tk_learning_rate=config.tk_learning_rate,
            tk_kernel_learning_rate=config.tk_kernel_learning_rate,
        )
    else:
        groups = [{"params": [p for p in ranker.parameters() if p.requires_grad], "lr": config.learning_rate}]
    groups = [dict(g) for g in groups]
    for group in groups:
        group["params"] = [p for p in group["params"] if p.requires_grad]
        group.setdefault("weight_decay", config.weight_decay)
    groups = [g for g in groups if g["params"]]
    # The fused kernel updates all parameters in one pass (on CPU too); torch's default on a
    # CPU is a Python loop over tensors, which costs more than the whole forward pass of a
    # 2-layer student. Same update rule, same results up to float rounding.
    return torch.optim.AdamW(groups, lr=config.learning_rate, fused=True)


def lr_factor(step: int, *, warmup_steps: int, max_steps: int, schedule: str) -> float:
    """Multiplier of the base learning rate after ``step`` optimiser steps.

    Linear warm-up ``step / warmup_steps``, then, with progress
    ``t = (step - warmup) / (max_steps - warmup)``:
    ``linear``: ``1 - t``; ``cosine``: ``(1 + cos(pi t)) / 2``; ``constant``: ``1``.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(1, max_steps - warmup_steps)
    t = min(1.0, max(0.0, (step - warmup_steps) / span))
    if schedule == "linear":
        return 1.0 - t
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    raise ValueError(f"unknown schedule {schedule!r}: expected linear, cosine or constant")


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule of :func:`lr_factor` as a ``LambdaLR`` (its state is checkpointed)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: lr_factor(
            step, warmup_steps=config.warmup_steps, max_steps=config.max_steps, schedule=config.schedule
        ),
    )
