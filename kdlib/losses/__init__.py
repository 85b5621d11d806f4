"""Ranking losses: Margin-MSE and the baselines / alternatives the paper compares it with.

Every loss is called as ``loss(student_scores, teacher_scores=None)`` with ``(batch, 1 + n)``
score tensors (column 0: the positive passage) and returns a scalar.

================ =============== ===============================================
name             needs a teacher what it matches
================ =============== ===============================================
margin_mse       yes             the teacher's positive-negative margins (paper)
ranknet          no (labels)     positive above every negative (baseline)
pointwise_mse    yes             the teacher's raw scores
weighted_ranknet yes             RankNet pairs weighted by the teacher margin
kl_div           yes             the teacher's softmax distribution per query
================ =============== ===============================================
"""
from __future__ import annotations

from typing import Any

from kdlib.core.errors import ConfigError
from kdlib.losses.base import LOSSES, RankingLoss, margins

# Importing a loss module registers its loss (RankingLoss.__init_subclass__); in this order,
# the paper's loss first, then its baseline and the alternatives it compares against.
from kdlib.losses.margin_mse import MarginMSELoss  # isort: skip
from kdlib.losses.ranknet import RankNetLoss  # isort: skip
from kdlib.losses.pointwise_mse import PointwiseMSELoss  # isort: skip
from kdlib.losses.weighted_ranknet import WeightedRankNetLoss  # isort: skip
from kdlib.losses.kl_div import KLDivLoss  # isort: skip

__all__ = [
    "LOSSES",
    "KLDivLoss",
    "MarginMSELoss",
    "PointwiseMSELoss",
    "RankNetLoss",
    "RankingLoss",
    "WeightedRankNetLoss",
    "get",
    "margins",
]


def get(name: str, **kwargs: Any) -> RankingLoss:
    """Instantiate the loss registered as ``name`` (e.g. ``get("kl_div", temperature=2.0)``).

    Raises:
        ConfigError: an unknown name (the message lists the valid ones; a ``ValueError`` too).
        ValueError: invalid arguments.
    """
    try:
        cls = LOSSES[name]
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"loss {name!r}: {exc}") from exc
