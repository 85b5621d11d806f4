"""The contract every ranking loss follows, and its input checks.

``loss(student_scores, teacher_scores=None) -> scalar``. Both score tensors are
``(batch, 1 + n_negatives)``: column 0 holds the positive passage's score, the other
columns the negatives' scores of the same query. Teacher scores are constants (they are
detached): only the student receives gradients. Losses trained on labels only
(``requires_teacher = False``) ignore teacher scores.
"""
from __future__ import annotations

from typing import Any, ClassVar

import torch


#: Every loss by its name: a subclass of :class:`RankingLoss` that sets ``name`` registers
#: itself here when its module is imported (``kdlib.losses.get`` reads it).
LOSSES: dict[str, type[RankingLoss]] = {}


class RankingLoss(torch.nn.Module):
    """Base class of kdlib's losses; a subclass with a ``name`` registers itself in :data:`LOSSES`.

    Attributes:
        name: the registry name (``kdlib.losses.get(name)``).
        requires_teacher: whether ``teacher_scores`` must be given.
        min_columns: the fewest score columns the loss accepts (2: a positive and a negative).
    """

    name: ClassVar[str]
    requires_teacher: ClassVar[bool] = True
    min_columns: ClassVar[int] = 2

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is not None:
            if name in LOSSES and LOSSES[name] is not cls:
                raise ValueError(f"loss {name!r} is registered twice ({LOSSES[name].__name__}, {cls.__name__})")
            LOSSES[name] = cls

    def check(self, student_scores: torch.Tensor, teacher_scores: torch.Tensor | None) -> torch.Tensor | None:
        """Validate the inputs; returns the detached teacher scores (``None`` for label-only losses).

        Raises:
            ValueError: wrong rank, too few columns, non-float scores, a missing teacher tensor,
                or a teacher tensor whose shape or dtype differs from the student's.
        """
        if not isinstance(student_scores, torch.Tensor) or student_scores.dim() != 2:
            shape = tuple(student_scores.shape) if isinstance(student_scores, torch.Tensor) else type(student_scores).__name__
            raise ValueError(f"{self.name}: expected student scores of shape (batch, 1 + n_negatives), got {shape}")
        if student_scores.shape[1] < self.min_columns:
            raise ValueError(
                f"{self.name}: expected at least {self.min_columns} score columns (positive first, then negatives), "
                f"got shape {tuple(student_scores.shape)}"
            )
        if not student_scores.is_floating_point():
            raise ValueError(f"{self.name}: expected floating-point student scores, got {student_scores.dtype}")
        if not self.requires_teacher:
            return None
        if teacher_scores is None:
            raise ValueError(f"{self.name}: expected teacher scores of shape {tuple(student_scores.shape)}, got None")
        if not isinstance(teacher_scores, torch.Tensor) or teacher_scores.shape != student_scores.shape:
            shape = tuple(teacher_scores.shape) if isinstance(teacher_scores, torch.Tensor) else type(teacher_scores).__name__
            raise ValueError(
                f"{self.name}: expected teacher scores of the student's shape {tuple(student_scores.shape)}, got {shape}"
            )
        if teacher_scores.dtype != student_scores.dtype:
            raise ValueError(
                f"{self.name}: expected teacher scores of the student's dtype {student_scores.dtype}, got "
                f"{teacher_scores.dtype} (cast both, e.g. with .float())"
            )
        return teacher_scores.detach()

    def forward(self, student_scores: torch.Tensor, teacher_scores: torch.Tensor | None = None) -> torch.Tensor:
        teacher = self.check(student_scores, teacher_scores)
        return self.compute(student_scores, teacher)

    def compute(self, student_scores: torch.Tensor, teacher_scores: torch.Tensor | None) -> torch.Tensor:
        """The loss on validated inputs (implemented by each loss)."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"requires_teacher={self.requires_teacher}"


class TemperatureLoss(RankingLoss):
    """A loss with a positive ``temperature`` that scales scores or margins before a squashing
    function (softmax, sigmoid)."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"{self.name}: temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"


def margins(scores: torch.Tensor) -> torch.Tensor:
    """Signed margins of the positive over each negative: ``scores[:, :1] - scores[:, 1:]``, ``(batch, n)``."""
    return scores[:, :1] - scores[:, 1:]
