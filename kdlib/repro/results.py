"""``artifacts/<profile>/results.csv``: every test measure of every row, kept under a lock.

Columns: profile, dataset, arch, teacher, loss, measure, value. Notebooks of one phase run
in parallel (``kdlib book --jobs``), so rows are inserted under a lock and none is lost.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from kdlib.core import artifacts
from kdlib.core.profiles import Profile
from kdlib.repro.settings import BM25_ARCH, TEACHER_ARCH, Row

RESULT_COLUMNS = ["profile", "dataset", "arch", "teacher", "loss", "measure", "value"]
KEY = ["dataset", "arch", "teacher", "loss", "measure"]


def results_path(profile: Profile) -> Path:
    return artifacts.root() / profile.name / "results.csv"


def record_results(profile: Profile, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace rows (keyed by dataset, arch, teacher, loss, measure) in results.csv."""
    path = results_path(profile)
    new = pd.DataFrame([{"profile": profile.name, **row} for row in rows], columns=RESULT_COLUMNS)
    # Read-modify-write under a lock, or two parallel writers would each drop the other's rows.
    with artifacts.stage_lock(path.parent / ".results"):
        if path.is_file():
            old = pd.read_csv(path, dtype={"value": float})
            frame = pd.concat([old, new]).drop_duplicates(subset=KEY, keep="last")
        else:
            frame = new
        artifacts.write_csv(path, frame)


def record_metrics(profile: Profile, row: Row, metrics: Mapping[str, float], *, dataset: str | None = None) -> None:
    """Record one row's measures on test set ``dataset`` (default: the profile's ``data.test``)."""
    arch, teacher, loss = row
    record_results(profile, [{"dataset": dataset or profile.data.test, "arch": arch, "teacher": teacher, "loss": loss,
                              "measure": m, "value": v} for m, v in metrics.items()])


def results(profile: Profile) -> pd.DataFrame:
    """The recorded results of the profile's current rows (empty frame when none).

    Rows of cells no longer in the profile (a removed architecture, teacher or loss) stay in
    the file but are not read back: what the book shows is what the profile defines.
    """
    from kdlib.repro.matrix import student_rows

    path = results_path(profile)
    if not path.is_file():
        return pd.DataFrame(columns=RESULT_COLUMNS)
    frame = pd.read_csv(path)
    current = set(student_rows(profile))
    keep = [(r.arch, r.teacher, r.loss) in current or r.arch in (BM25_ARCH, TEACHER_ARCH) for r in frame.itertuples()]
    return frame[keep].reset_index(drop=True)
