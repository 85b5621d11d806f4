"""Listwise KL divergence between teacher and student score distributions."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from kdlib.losses.base import TemperatureLoss


class KLDivLoss(TemperatureLoss):
    r"""KL divergence from the teacher's to the student's softmax over each query's passages.

    .. math::

        p^t_{b} = \operatorname{softmax}(t_{b} / T), \quad p^s_{b} = \operatorname{softmax}(s_{b} / T), \qquad
        \mathcal{L} = \frac{1}{B} \sum_b \sum_{k=0}^{n} p^t_{b,k} \log \frac{p^t_{b,k}}{p^s_{b,k}}

    (no :math:`T^2` factor). Softmax is shift invariant, so like Margin-MSE it ignores the
    score level; unlike Margin-MSE it also ignores pairs whose teacher probability is tiny.

    Args:
        temperature: ``T``, dividing both teacher and student scores.

    Inputs:

    ================================ ================================ ==================
    student_scores                   teacher_scores                   requires_teacher
    ================================ ================================ ==================
    (batch, 1 + n) float, col. 0 pos (batch, 1 + n), same dtype       yes
    ================================ ================================ ==================

    References:
        Hinton, Vinyals, Dean. *Distilling the Knowledge in a Neural Network*. 2015; compared in
        Hofstätter et al., 2020 (the authors' code) as listwise distillation.

    Relations:
        With one negative and a hard teacher (``t_0 - t_1 → ∞``) it becomes :class:`RankNetLoss`.
    """

    name = "kl_div"
    requires_teacher = True

    def compute(self, student_scores: torch.Tensor, teacher_scores: torch.Tensor | None) -> torch.Tensor:
        student_log = F.log_softmax(student_scores / self.temperature, dim=1)
        teacher_log = F.log_softmax(teacher_scores / self.temperature, dim=1)
        return F.kl_div(student_log, teacher_log, reduction="batchmean", log_target=True)
