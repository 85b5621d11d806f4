"""Resumable checkpoints, written atomically, and the files of a finished run.

A checkpoint is a directory ``out_dir/checkpoint/`` with

- ``model.pt``: the ranker's ``state_dict``;
- ``optimizer.pt`` / ``scheduler.pt``: their ``state_dict``;
- ``rng.pt``: Python, NumPy and torch random states (CPU, and CUDA when present);
- ``state.json``: step, validation history, best score, early-stopping counter and the
  running log window (the data position is the step: batch order depends on it alone).

It is written to a temporary sibling and swapped in (:func:`kdlib.core.artifacts.swap_dir`), so a kill at any point
(even ``kill -9``) leaves either the old or the new checkpoint complete.
"""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kdlib.core.artifacts import staging_dir, swap_dir

CHECKPOINT = "checkpoint"
DONE_MARKER = "DONE.json"


def rng_state() -> dict[str, Any]:
    """Every random generator's state (to restore with :func:`set_rng_state`)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore generators saved by :func:`rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    out_dir: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
) -> Path:
    """Write ``out_dir/checkpoint`` atomically; returns its path."""
    final = out_dir / CHECKPOINT
    tmp = staging_dir(final)
    torch.save(model.state_dict(), tmp / "model.pt")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(rng_state(), tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps(state, indent=1))
    return swap_dir(tmp, final)


def find_checkpoint(out_dir: Path) -> Path | None:
    """The complete checkpoint of ``out_dir``, if any (the ``.old`` one after a kill mid-swap)."""
    for name in (CHECKPOINT, CHECKPOINT + ".old"):
        path = out_dir / name
        if (path / "state.json").is_file():
            return path
    return None


def load_checkpoint(
    path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> dict[str, Any]:
    """Restore model, optimiser, scheduler and RNG states from ``path``; returns ``state.json``."""
    model.load_state_dict(torch.load(path / "model.pt", map_location="cpu", weights_only=True))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=False))
    set_rng_state(torch.load(path / "rng.pt", weights_only=False))
    return json.loads((path / "state.json").read_text())
