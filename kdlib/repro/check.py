"""The reproduction matrix: one command per result row, and a check against expected values.

Every row of ``artifacts/<profile>/results.csv`` comes from one notebook execution;
:func:`command` prints the papermill call that regenerates it (stages are cached, so the
call re-runs only what is missing). :func:`check` compares a profile's ``results.csv`` with
the committed expected values (``kdlib/repro/expected/<profile>.csv``) and names every row that
differs by more than its measure's tolerance, is missing, or is new.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd

from kdlib.repro.settings import BM25_ARCH, TEACHER_ARCH, UNTRAINED

EXPECTED_DIR = Path(__file__).with_name("expected")
KEY = ["dataset", "arch", "teacher", "loss", "measure"]
#: Absolute tolerance per measure (the default for any other). Summation order alone (another
#: processor's bf16 kernels, or one training thread instead of two) moved the embedded book's
#: values by up to .011 nDCG@10 and .056 RR(rel=2)@10 (book/method.md, "How much a rerun moves
#: a number"); a real change of method moves them by more.
TOLERANCES: Mapping[str, float] = {"nDCG@10": 0.02, "RR(rel=2)@10": 0.06}
DEFAULT_TOLERANCE = 0.01


def command(profile: str, arch: str, teacher: str, loss: str) -> str:
    """The one command that regenerates a result row (run from the repository root)."""
    if arch in (BM25_ARCH, TEACHER_ARCH):
        return f"papermill notebooks/02_teachers.ipynb out.ipynb -p profile {profile}"
    if teacher == UNTRAINED:
        return f"papermill notebooks/06_efficiency.ipynb out.ipynb -p profile {profile}"
    return (f"papermill notebooks/04_distillation.ipynb out.ipynb -p profile {profile} "
            f"-p arch {arch} -p teacher {teacher} -p loss {loss}")


@dataclass(frozen=True)
class Difference:
    """One row of the check that is not as expected."""

    row: str
    expected: float | None
    got: float | None
    tolerance: float

    def describe(self) -> str:
        if self.got is None:
            return f"{self.row}: missing (expected {self.expected:.4f})"
        if self.expected is None:
            return f"{self.row}: not in the expected values (got {self.got:.4f})"
        return f"{self.row}: expected {self.expected:.4f}, got {self.got:.4f} (tolerance {self.tolerance:g})"


def expected_path(profile: str) -> Path:
    return EXPECTED_DIR / f"{profile}.csv"


def check(results: pd.DataFrame, expected: pd.DataFrame) -> list[Difference]:
    """Every row of ``results`` that differs from ``expected`` (both in results.csv's columns)."""
    def indexed(frame: pd.DataFrame) -> dict[str, float]:
        return {" / ".join(str(r[k]) for k in KEY): float(r["value"]) for _, r in frame.iterrows()}

    ours, theirs = indexed(results), indexed(expected)
    differences = []
    for row in sorted(set(ours) | set(theirs)):
        measure = row.rsplit(" / ", 1)[1]
        tolerance = TOLERANCES.get(measure, DEFAULT_TOLERANCE)
        got, want = ours.get(row), theirs.get(row)
        if got is None or want is None or abs(got - want) > tolerance:
            differences.append(Difference(row, want, got, tolerance))
    return differences


def write_expected(results: pd.DataFrame, profile: str) -> Path:
    """Record ``results`` as the expected values of ``profile`` (a maintainer's step)."""
    from kdlib.core.artifacts import write_csv

    path = expected_path(profile)
    frame = results[KEY + ["value"]].sort_values(KEY).reset_index(drop=True)
    write_csv(path, frame, float_format="%.6f")
    return path
