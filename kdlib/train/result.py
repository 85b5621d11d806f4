"""What a training run returns (and stores in its ``DONE.json`` marker)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kdlib.core.errors import ConfigError

#: The files that make a directory a saved model (kdlib's layout, or a transformers one).
_MODEL_FILES = ("kdlib_ranker.json", "config.json")


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


def find_model_dir(path: str | Path) -> Path:
    """The saved model at ``path``: a model directory itself, or the one a training run holds.

    ``kdlib train --out DIR`` writes a run directory (logs, checkpoint, ``best/``,
    ``final/``, ``DONE.json``); commands that read a model accept either.

    - A model directory (``kdlib_ranker.json`` or ``config.json``) is returned as it is.
    - A finished run: the model its ``DONE.json`` names (``best/`` when validation ran,
      else ``final/``), as :attr:`TrainResult.model_dir`.
    - An unfinished run: ``best/`` if validation saved one, else ``final/``.

    Raises:
        ConfigError: ``path`` is neither, or a run without a saved model; the message says
            what to pass instead.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no such directory; pass a saved model or the --out directory of `kdlib train`")
    if any((directory / name).is_file() for name in _MODEL_FILES):
        return directory
    done = directory / "DONE.json"
    if done.is_file():
        model = TrainResult.read(done).model_dir
        if model is not None:
            # DONE.json records the path the run was written to; the run may have moved since.
            local = directory / Path(model).name
            for candidate in (local, Path(model)):
                if any((candidate / name).is_file() for name in _MODEL_FILES):
                    return candidate
    for name in ("best", "final"):
        if any((directory / name / f).is_file() for f in _MODEL_FILES):
            return directory / name
    if (directory / "checkpoint").exists() or (directory / "train_log.jsonl").exists():
        raise ConfigError(
            f"{directory} is a training run that has not saved a model yet (no best/ or final/); "
            f"finish it by running the same `kdlib train` command again"
        )
    raise ConfigError(
        f"{directory} holds no saved model (kdlib_ranker.json or config.json) and is not a training run "
        f"(best/, final/); pass the --out directory of `kdlib train` or a model directory inside it"
    )
