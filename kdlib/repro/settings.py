"""Teacher settings: who labels a student's training triples, as one typed value.

A *setting* is a column of the distillation matrix: ``baseline`` (labels only, RankNet),
``T1`` (one published run), ``T2`` (the mean ensemble), ``own`` (our BERT_CAT teacher) and the
imputation ablation, T2 under the other ``teacher.unscored`` policy than the profile's:
``T2_scored`` (only pairs every member scored, ``drop``) or ``T2_imputed`` (unscored passages
given the member's lowest score for the query, ``query_min``).
Every module and notebook asks :func:`setting` or :func:`settings` instead of comparing
strings, so that the rule "the baseline trains with RankNet" lives here only.

The other names of ``results.csv`` rows (``untrained`` students, ``bm25`` and teacher rows)
are constants here too.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from kdlib.core.profiles import Profile
from kdlib.teacher.members import OWN_MEMBER

BASELINE = "baseline"
T1 = "T1"
T2 = "T2"
OWN = "own"
T2_SCORED = "T2_scored"
T2_IMPUTED = "T2_imputed"
#: A student's starting point: the freshly built model, never trained (loss :data:`NO_LOSS`).
UNTRAINED = "untrained"
#: The loss of label-only training: the baseline students and our own teacher.
LABEL_LOSS = "ranknet"
#: ``arch`` of the first-stage candidates' row and of the teachers' own rows in results.csv.
BM25_ARCH = "bm25"
TEACHER_ARCH = "teacher"
#: ``teacher`` / ``loss`` of a row that has none (BM25, untrained students).
NONE = "none"
NO_LOSS = NONE
#: Every setting name, in the order the matrix lists them.
SETTING_NAMES: tuple[str, ...] = (BASELINE, T1, T2, OWN, T2_SCORED, T2_IMPUTED)
#: The path one student takes in the paper's figures: its start, labels only, then each teacher.
STUDENT_PATH: tuple[str, ...] = (UNTRAINED, BASELINE, T1, T2)
#: The teachers that re-rank the test candidates themselves (rows with arch ``teacher``).
RANKING_TEACHERS: tuple[str, ...] = (T1, T2, OWN)
#: Settings the paper quotes re-ranking figures for (its Table 2 columns, in order).
PAPER_SETTINGS: tuple[str, ...] = (BASELINE, T1, T2)

Unscored = Literal["query_min", "drop"]
Row = tuple[str, str, str]


@dataclass(frozen=True)
class TeacherSetting:
    """One teacher setting of the matrix.

    Attributes:
        name: the setting's name in results.csv and the book (``T2``, ``baseline``, ...).
        members: the published run names (or :data:`OWN_MEMBER`) whose scores label the
            triples; empty for the label-only baseline.
        baseline_loss: the loss every student of this setting trains with (``ranknet`` for
            the baseline, which has no teacher to distil from); ``None``: the loss of the cell.
        unscored: what happens to a pair a published member did not score (see
            :class:`kdlib.core.profiles.TeacherConfig`).
    """

    name: str
    members: tuple[str, ...]
    baseline_loss: str | None
    unscored: Unscored

    @property
    def distils(self) -> bool:
        """Whether a teacher labels the triples (every setting but the baseline)."""
        return bool(self.members)

    @property
    def is_own(self) -> bool:
        """Whether our own trained BERT_CAT is the (only) teacher."""
        return self.members == (OWN_MEMBER,)

    @property
    def normalised(self) -> bool:
        """Whether its scores are published members' scores put on a common scale (our own
        teacher's logits are used as they are)."""
        return self.distils and OWN_MEMBER not in self.members

    def loss(self, profile: Profile) -> str:
        """The loss of this setting's students in the main matrix."""
        return self.baseline_loss or profile.student.loss

    def apply(self, profile: Profile) -> Profile:
        """The profile this setting's students and teacher file are computed under."""
        if profile.teacher.unscored == self.unscored:
            return profile
        from kdlib.core.profiles import override

        return override(profile, {"teacher.unscored": self.unscored})

    def as_key(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def settings(profile: Profile) -> dict[str, TeacherSetting]:
    """Every teacher setting the profile defines, by name."""
    teacher = profile.teacher
    t2 = tuple(teacher.t2)
    return {
        BASELINE: TeacherSetting(BASELINE, (), LABEL_LOSS, teacher.unscored),
        T1: TeacherSetting(T1, (teacher.t1,), None, teacher.unscored),
        T2: TeacherSetting(T2, t2, None, teacher.unscored),
        OWN: TeacherSetting(OWN, (OWN_MEMBER,), None, teacher.unscored),
        # The imputation ablation, both ways: T2 on fully scored pairs only, or with imputation.
        T2_SCORED: TeacherSetting(T2_SCORED, t2, None, "drop"),
        T2_IMPUTED: TeacherSetting(T2_IMPUTED, t2, None, "query_min"),
    }


def ablation_setting(profile: Profile) -> TeacherSetting:
    """The imputation ablation of the profile: T2 under the other ``teacher.unscored`` policy
    (``T2_imputed`` when the profile drops unscored pairs, ``T2_scored`` when it imputes them)."""
    return setting(profile, T2_IMPUTED if profile.teacher.unscored == "drop" else T2_SCORED)


def ranking_teachers(profile: Profile) -> tuple[str, ...]:
    """The teachers that re-rank the test candidates in this profile (:data:`RANKING_TEACHERS`):
    without our own when the profile does not train it, and without the published ones when they
    are teacher files (full scale), which score the training triples only."""
    from kdlib.teacher.files import uses_teacher_files

    files = uses_teacher_files(profile)
    return tuple(n for n in RANKING_TEACHERS if (profile.teacher.train_own if n == OWN else not files))


def setting(profile: Profile, name: str | TeacherSetting) -> TeacherSetting:
    """The setting called ``name`` (a setting passes through).

    Raises:
        ValueError: no such setting.
    """
    if isinstance(name, TeacherSetting):
        return name
    known = settings(profile)
    if name not in known:
        raise ValueError(f"unknown teacher {name!r}: expected one of {', '.join(known)}")
    return known[name]


def teacher_row(teacher: TeacherSetting) -> Row:
    """The results.csv row of a teacher re-ranking the test candidates itself: our own
    BERT_CAT was trained with RankNet on labels; a published run's training is not ours."""
    return (TEACHER_ARCH, teacher.name, LABEL_LOSS if teacher.is_own else NONE)


def own_teacher_row() -> Row:
    """The results.csv row of our own BERT_CAT teacher."""
    return (TEACHER_ARCH, OWN, LABEL_LOSS)


def bm25_row() -> Row:
    """The results.csv row of the first-stage candidates."""
    return (BM25_ARCH, NONE, NONE)


def untrained_row(arch: str) -> Row:
    """The results.csv row of a student's starting point."""
    return (arch, UNTRAINED, NO_LOSS)
