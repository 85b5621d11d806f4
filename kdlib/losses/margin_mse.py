"""Margin-MSE: the paper's distillation loss."""
from __future__ import annotations

import torch

from kdlib.losses.base import RankingLoss, margins


class MarginMSELoss(RankingLoss):
    r"""Mean squared error between the student's and the teacher's score margins.

    .. math::

        \mathcal{L} = \frac{1}{B\,n} \sum_{b=1}^{B} \sum_{k=1}^{n}
        \big( (s_{b,0} - s_{b,k}) - (t_{b,0} - t_{b,k}) \big)^2

    Only differences of scores are matched, so the student keeps its own score range (which
    differs by architecture, e.g. ColBERT ~140 vs BERT_CAT ~0) while learning the teacher's
    preferences between passages.

    Inputs:

    ================================ ================================ ==================
    student_scores                   teacher_scores                   requires_teacher
    ================================ ================================ ==================
    (batch, 1 + n) float, col. 0 pos (batch, 1 + n), same dtype       yes
    ================================ ================================ ==================

    References:
        Hofstätter, Althammer, Schröder, Sertkan, Hanbury. *Improving Efficient Neural Ranking
        Models with Cross-Architecture Knowledge Distillation*. arXiv:2010.02666, 2020, Eq. 1.

    Relations:
        With one negative it is exactly the paper's triple loss. :class:`PointwiseMSELoss`
        matches raw scores instead of margins; :class:`WeightedRankNetLoss` and
        :class:`KLDivLoss` use the teacher only through its preferences / distribution.

    Example::

        loss = MarginMSELoss()(student_scores, teacher_scores)
    """

    name = "margin_mse"
    requires_teacher = True

    def compute(self, student_scores: torch.Tensor, teacher_scores: torch.Tensor | None) -> torch.Tensor:
        return torch.mean((margins(student_scores) - margins(teacher_scores)) ** 2)
