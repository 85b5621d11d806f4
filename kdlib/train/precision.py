"""bf16 autocast where the hardware runs it natively, fp32 elsewhere.

On a CPU with AMX / AVX512-BF16 a bf16 matmul is several times faster than fp32 (see
``benchmarks/bench_train.py``); on a CPU without them bf16 is emulated and slower, so the
check is made at run time rather than assumed.
"""
from __future__ import annotations

import contextlib
import functools
from typing import ContextManager

import torch


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


def autocast(device: torch.device | str, enabled: bool = True) -> ContextManager:
    """bf16 autocast on ``device`` if ``enabled`` and supported, otherwise a no-op context."""
    device_type = torch.device(device).type
    if enabled and bf16_supported(device_type):
        return torch.autocast(device_type=device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
