"""Errors raised by the training loop."""
from __future__ import annotations

from kdlib.core.errors import KdlibError


class NonFiniteLossError(KdlibError, FloatingPointError):
    """The loss became NaN or infinite; training stopped.

    The loop reads its step statistics from the device only when a log row, a validation, a
    checkpoint or the end of the session needs them (reading them every step would make the
    host wait for the device), so it finds the step a few steps later, but before anything is
    saved: the last checkpoint written before this step is left untouched, so the run can be
    inspected (or resumed with a lower learning rate) from there.

    Args:
        step: the 1-based optimiser step whose loss was not finite.
        value: the offending loss value.
    """

    def __init__(self, step: int, value: float) -> None:
        self.step = step
        self.value = value
        super().__init__(
            f"non-finite loss {value} at step {step}; training stopped, the last good "
            "checkpoint is kept (try a lower learning rate or disable bf16)"
        )


class ExamplesError(KdlibError, ValueError):
    """Training examples that do not fit the loss (e.g. a distillation loss without teacher scores)."""
