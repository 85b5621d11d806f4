"""Mixed precision: bf16 where the hardware runs it natively, else fp16 with a gradient scaler
on CUDA, else fp32.

On a CPU with AMX / AVX512-BF16 a bf16 matmul is several times faster than fp32 (see
``benchmarks/bench_train.py``); on a CPU without them bf16 is emulated and slower, so the
check is made at run time rather than assumed. GPUs before Ampere (V100, T4, GTX 10xx/20xx)
have no bf16 but fast fp16, which the paper trained with: fp16's narrow exponent range makes
small gradients underflow, so the loss is multiplied by a dynamic scale before the backward
pass and the gradients divided by it before clipping and the optimiser step
(``torch.amp.GradScaler``); a step whose gradients overflowed is skipped and the scale
halved.

:func:`resolve_precision` turns a configured ``precision`` (``auto``, ``bf16``, ``fp16``,
``fp32``) into what runs on a device; :func:`autocast` opens the matching context;
:func:`make_scaler` gives a ``GradScaler`` for fp16 and a :class:`NullScaler` (which changes
nothing: the fp32 and bf16 paths compute exactly what they computed without it) otherwise.
"""
from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any, ContextManager, Literal

import torch

log = logging.getLogger(__name__)

Precision = Literal["bf16", "fp16", "fp32"]
#: The values of ``TrainConfig.precision``.
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@functools.lru_cache(maxsize=None)
def bf16_supported(device_type: str) -> bool:
    """Whether ``device_type`` (``cpu`` / ``cuda``) runs bf16 matmuls natively."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_precision(requested: str, device: torch.device | str, *, bf16_allowed: bool = True) -> Precision:
    """What ``requested`` precision means on ``device``.

    - ``auto``: bf16 where supported natively, else fp16 on CUDA, else fp32 (a CPU without
      native bf16 trains in fp32, as before).
    - ``bf16``: bf16, or fp32 where the device has no native bf16 (emulation is slower than fp32).
    - ``fp16``: fp16 with a gradient scaler (on a CPU too, through torch's CPU autocast;
      slow, meant for tests).
    - ``fp32``: no autocast.

    Args:
        requested: one of :data:`PRECISIONS`.
        device: the training device.
        bf16_allowed: ``TrainConfig.bf16``; ``False`` makes ``auto`` mean fp32 (older configs).

    Raises:
        ValueError: an unknown precision.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {requested!r}")
    device_type = torch.device(device).type
    if requested == "auto":
        if not bf16_allowed:
            return "fp32"
        if bf16_supported(device_type):
            return "bf16"
        return "fp16" if device_type == "cuda" else "fp32"
    if requested == "bf16" and not bf16_supported(device_type):
        log.warning("bf16 is not supported natively on %s: training in fp32", device_type)
        return "fp32"
    return requested  # type: ignore[return-value]


def autocast(device: torch.device | str, enabled: bool = True, *, precision: str | None = None) -> ContextManager:
    """The autocast context of a precision on ``device``.

    Args:
        device: where the model runs.
        enabled: without ``precision``: bf16 autocast if ``True`` and supported, else none.
        precision: ``bf16``, ``fp16`` or ``fp32`` (from :func:`resolve_precision`); overrides
            ``enabled``.
    """
    device_type = torch.device(device).type
    if precision is not None:
        dtype = _DTYPES.get(precision)
        return torch.autocast(device_type=device_type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    if enabled and bf16_supported(device_type):
        return torch.autocast(device_type=device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class NullScaler:
    """The gradient-scaler interface doing nothing: for bf16 and fp32, whose range needs no scaling.

    ``scale`` returns the loss itself and ``step`` calls ``optimizer.step()``, so the
    training step is exactly the unscaled one.
    """

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        return loss

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        pass

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        optimizer.step()

    def update(self) -> None:
        pass

    def is_enabled(self) -> bool:
        return False

    def get_scale(self) -> float:
        return 1.0

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def make_scaler(precision: str, device: torch.device | str) -> Any:
    """A ``torch.amp.GradScaler`` for fp16 on ``device``, a :class:`NullScaler` otherwise."""
    if precision == "fp16":
        return torch.amp.GradScaler(torch.device(device).type)
    return NullScaler()
