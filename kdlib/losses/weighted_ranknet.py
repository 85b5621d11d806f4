"""Weighted RankNet: RankNet whose pairs the teacher weights."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from kdlib.losses.base import TemperatureLoss, margins


class WeightedRankNetLoss(TemperatureLoss):
    r"""RankNet on the label order, each pair weighted by the teacher's confidence in it.

    .. math::

        w_{b,k} = \sigma\big((t_{b,0} - t_{b,k}) / T\big), \qquad
        \mathcal{L} = \frac{1}{B\,n} \sum_{b,k} w_{b,k} \, \operatorname{softplus}(s_{b,k} - s_{b,0})

    The weight is the teacher margin squashed into (0, 1) by a sigmoid: a pair the teacher
    separates clearly counts fully (``w → 1``), a pair it finds close counts half, and a pair
    it orders the other way round (a likely false negative) counts little (``w → 0``).

    Args:
        temperature: ``T``, the teacher-margin scale (larger: flatter weights).

    Inputs:

    ================================ ================================ ==================
    student_scores                   teacher_scores                   requires_teacher
    ================================ ================================ ==================
    (batch, 1 + n) float, col. 0 pos (batch, 1 + n), same dtype       yes
    ================================ ================================ ==================

    References:
        Compared as "weighted RankNet" in Hofstätter et al., 2020, Section 5.2; the weighting
        follows the teacher-confidence idea of Hinton et al., 2015.

    Relations:
        With all weights 1 it is :class:`RankNetLoss`; unlike :class:`MarginMSELoss` the student's
        margin is never pulled towards a target size, only pushed to be positive.
    """

    name = "weighted_ranknet"
    requires_teacher = True

    def compute(self, student_scores: torch.Tensor, teacher_scores: torch.Tensor | None) -> torch.Tensor:
        weights = torch.sigmoid(margins(teacher_scores) / self.temperature)
        return (weights * F.softplus(-margins(student_scores))).mean()
