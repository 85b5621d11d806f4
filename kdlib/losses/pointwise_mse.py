"""Pointwise MSE: regress the teacher's raw scores."""
from __future__ import annotations

import torch

from kdlib.losses.base import RankingLoss


class PointwiseMSELoss(RankingLoss):
    r"""Mean squared error between student and teacher scores, passage by passage.

    .. math::

        \mathcal{L} = \frac{1}{B\,(1+n)} \sum_{b=1}^{B} \sum_{k=0}^{n} (s_{b,k} - t_{b,k})^2

    The student must reproduce the teacher's absolute score level, which fights its own
    natural range (the paper's argument for Margin-MSE).

    Inputs:

    ================================ ================================ ==================
    student_scores                   teacher_scores                   requires_teacher
    ================================ ================================ ==================
    (batch, k >= 1) float            (batch, k), same dtype           yes
    ================================ ================================ ==================

    References:
        Hinton, Vinyals, Dean. *Distilling the Knowledge in a Neural Network*. 2015 (score
        regression); compared as "MSE" in Hofstätter et al., 2020, Section 5.2.

    Relations:
        :class:`MarginMSELoss` is invariant to a per-query shift of the scores; this loss is not.
    """

    name = "pointwise_mse"
    requires_teacher = True
    min_columns = 1

    def compute(self, student_scores: torch.Tensor, teacher_scores: torch.Tensor | None) -> torch.Tensor:
        return torch.mean((student_scores - teacher_scores) ** 2)
