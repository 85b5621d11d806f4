"""The experiment matrix: which cells, teacher files and stages a profile implies.

The main matrix is every architecture x every teacher setting of ``student.teachers`` with
the setting's loss (the profile's distillation loss; the baseline's own RankNet). The loss
comparison adds the other losses for a few architectures with one teacher, a few students
are also distilled from our own BERT_CAT teacher (``own``), and the imputation ablation
(``T2_scored``: T2 on fully scored pairs only) runs for ``student.ablation_architectures``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from kdlib.core.profiles import Profile
from kdlib.repro.settings import (BASELINE, OWN, PAPER_SETTINGS, Row, TeacherSetting, ablation_setting, setting,
                                  untrained_row)
from kdlib.repro.stage import Call

#: The architecture whose students run dense retrieval (chapter 7).
DENSE_ARCH = "bert_dot"


@dataclass(frozen=True)
class Cell:
    """One student of the matrix: papermill parameters of chapter 4, and a results.csv row."""

    arch: str
    teacher: str
    loss: str

    @property
    def row(self) -> Row:
        return (self.arch, self.teacher, self.loss)


def cells(profile: Profile) -> list[Cell]:
    """Every (student, teacher, loss) cell of the distillation matrix, in execution order."""
    student = profile.student
    out = [Cell(arch, name, setting(profile, name).loss(profile))
           for arch in student.architectures for name in student.teachers]
    out += [Cell(arch, student.loss_comparison_teacher, loss)
            for arch in student.loss_comparison_architectures for loss in student.loss_comparison]
    out += [Cell(arch, OWN, student.loss) for arch in student.own_teacher_architectures]
    out += [Cell(arch, ablation_setting(profile).name, student.loss) for arch in student.ablation_architectures]
    return out


def matrix_runs(profile: Profile) -> list[dict[str, str]]:
    """:func:`cells` as dicts (``arch``, ``teacher``, ``loss``), e.g. papermill parameters."""
    return [asdict(cell) for cell in cells(profile)]


def student_rows(profile: Profile) -> list[Row]:
    """The results.csv rows of the profile's students: every cell and every untrained start."""
    return [c.row for c in cells(profile)] + [untrained_row(a) for a in profile.student.architectures]


def distilling_settings(profile: Profile) -> list[TeacherSetting]:
    """The teacher settings some cell distils from (each has a teacher file), in matrix order."""
    names = dict.fromkeys(c.teacher for c in cells(profile))
    return [s for s in (setting(profile, n) for n in names) if s.distils]


def baseline_cells(profile: Profile) -> list[Cell]:
    """The baseline (label-only) student of every architecture."""
    loss = setting(profile, BASELINE).loss(profile)
    return [Cell(arch, BASELINE, loss) for arch in profile.student.architectures]


def main_cells(profile: Profile, arch: str) -> list[Cell]:
    """``arch``'s students of the settings the paper reports (baseline, T1, T2) present in the
    matrix, each with its main loss: the path of one student through the paper's figures."""
    return [Cell(arch, name, setting(profile, name).loss(profile))
            for name in PAPER_SETTINGS if name in profile.student.teachers]


def dense_cells(profile: Profile) -> list[Cell]:
    """The students whose dense retrieval chapter 7 measures (none without BERT_DOT)."""
    return main_cells(profile, DENSE_ARCH) if DENSE_ARCH in profile.student.architectures else []


def student_call(profile: Profile, stage: str, cell: Cell) -> Call:
    return Call.of(stage, arch=cell.arch, teacher=setting(profile, cell.teacher), loss=cell.loss)
