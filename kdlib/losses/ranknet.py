"""RankNet: the pairwise baseline loss trained on labels only."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from kdlib.losses.base import RankingLoss, margins


class RankNetLoss(RankingLoss):
    r"""Pairwise cross-entropy with the positive always preferred (Burges et al., 2005).

    .. math::

        \mathcal{L} = \frac{1}{B\,n} \sum_{b,k} -\log \sigma(s_{b,0} - s_{b,k})
                    = \frac{1}{B\,n} \sum_{b,k} \operatorname{softplus}(s_{b,k} - s_{b,0})

    Inputs:

    ================================ ================ ==================
    student_scores                   teacher_scores   requires_teacher
    ================================ ================ ==================
    (batch, 1 + n) float, col. 0 pos ignored          no
    ================================ ================ ==================

    References:
        Burges et al. *Learning to Rank using Gradient Descent*. ICML 2005. The paper's baseline
        and the training loss of its BERT_CAT teachers (Hofstätter et al., 2020, Section 4).

    Relations:
        :class:`WeightedRankNetLoss` weights each pair by the teacher; with one negative RankNet
        equals a two-way softmax cross-entropy.
    """

    name = "ranknet"
    requires_teacher = False

    def compute(self, student_scores: torch.Tensor, teacher_scores: torch.Tensor | None) -> torch.Tensor:
        return F.softplus(-margins(student_scores)).mean()
