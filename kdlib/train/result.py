"""What a training run returns (and stores in its ``DONE.json`` marker)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainResult:
    """The outcome of :func:`kdlib.train.train`.

    Attributes:
        out_dir: the run directory.
        steps: optimiser steps done.
        finished: ``False`` when the session stopped early on purpose
            (``max_steps_this_session``); run the same call again to resume.
        final_dir: the model after the last step (``save_pretrained``), if finished.
        best_dir: the best model by validation score, if validation ran.
        best_score: its validation score.
        best_step: the step it was reached at.
        final_loss: mean training loss over the last log window.
        validations: ``{"step", "score", ...}`` rows, in order.
        stopped_early: early stopping ended the run.
        resumed_from: the checkpoint step this session started from (0: fresh).
        triples_per_s: mean training throughput of this session.
    """

    out_dir: Path
    steps: int
    finished: bool
    final_dir: Path | None = None
    best_dir: Path | None = None
    best_score: float | None = None
    best_step: int | None = None
    final_loss: float | None = None
    validations: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    resumed_from: int = 0
    triples_per_s: float | None = None

    @property
    def model_dir(self) -> Path | None:
        """The model to use downstream: the best by validation when validated, else the final one."""
        return self.best_dir if self.best_dir is not None else self.final_dir

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (paths as strings)."""
        data = dataclasses.asdict(self)
        for key in ("out_dir", "final_dir", "best_dir"):
            data[key] = None if data[key] is None else str(data[key])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainResult":
        """Inverse of :meth:`to_json`."""
        data = dict(data)
        for key in ("out_dir", "final_dir", "best_dir"):
            data[key] = None if data.get(key) is None else Path(data[key])
        return cls(**data)

    @classmethod
    def read(cls, path: Path) -> "TrainResult":
        """Load a result from a ``DONE.json`` file."""
        return cls.from_json(json.loads(Path(path).read_text()))
