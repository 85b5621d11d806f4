"""What the result chapters show: every row's test run, per-query values, teacher rows and
the claim checks, computed from the stages."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from kdlib import artifacts
from kdlib.profiles import Profile
from kdlib.repro import results as results_csv
from kdlib.repro.analyses import dense_per_query, latency_per_query, score_statistics
from kdlib.repro.matrix import DENSE_ARCH, cells
from kdlib.repro.settings import (BM25_ARCH, RANKING_TEACHERS, TEACHER_ARCH, UNTRAINED, Row, bm25_row,
                                  own_teacher_row, setting, teacher_row)
from kdlib.repro.splits import splits
from kdlib.repro.students import StudentRun, student, untrained_run
from kdlib.repro.teachers import own_teacher_run, published_teacher_run

#: The name of the first-stage candidates among :func:`teacher_results`' rows.
BM25 = "BM25"


def matrix(profile: Profile) -> list[StudentRun]:
    """Every cell of the profile's distillation matrix (trained where not cached)."""
    return [student(profile, c.arch, c.teacher, c.loss) for c in cells(profile)]


def teacher_results(profile: Profile) -> dict[str, dict[str, float]]:
    """Test measures of BM25 and of every teacher (T1, T2, our own) re-ranking the same candidates.

    Also recorded in results.csv with ``arch`` = ``bm25`` / ``teacher``.
    """
    from kdlib.evaluate import evaluate

    measures = profile.eval.measures
    qrels = splits(profile).test.qrels
    out = {BM25: evaluate(test_run(profile, *bm25_row()), qrels, measures)}
    rows = {BM25: bm25_row()}
    for name in RANKING_TEACHERS:
        rows[name] = teacher_row(setting(profile, name))
        out[name] = evaluate(test_run(profile, *rows[name]), qrels, measures)
    for name, metrics in out.items():
        results_csv.record_metrics(profile, rows[name], metrics)
    return out


def test_run(profile: Profile, arch: str, teacher: str, loss: str) -> dict[str, dict[str, float]]:
    """The test run behind any row of results.csv: BM25, a teacher, an untrained or trained student."""
    test = splits(profile).test
    if arch == BM25_ARCH:
        return {q: dict(r) for q, r in test.runs[profile.data.candidates].items()}
    if arch == TEACHER_ARCH:
        return own_teacher_run(profile) if setting(profile, teacher).is_own else published_teacher_run(profile, teacher, test)
    if teacher == UNTRAINED:
        return untrained_run(profile, arch)
    from kdlib.data import read_run

    return read_run(student(profile, arch, teacher, loss).run_path)


def column(row: Row) -> str:
    """The column name of a row in :func:`per_query` (``arch/teacher/loss``)."""
    return "/".join(row)


def per_query(profile: Profile, rows: Sequence[Row], measure: str = "nDCG@10") -> pd.DataFrame:
    """Per-query values of ``measure`` for result rows ``(arch, teacher, loss)``.

    Returns:
        A frame indexed by qid with one column per row, named ``arch/teacher/loss``.
    """
    from kdlib.evaluate import evaluate_per_query

    qrels = splits(profile).test.qrels
    columns = {}
    for row in rows:
        values = evaluate_per_query(test_run(profile, *row), qrels, [measure])
        columns[column(row)] = values.set_index("qid")["value"]
    return pd.DataFrame(columns)


def claim_checks(profile: Profile, measure: str = "nDCG@10") -> list:
    """The paper's claims checked on this profile's runs (:mod:`kdlib.claims`); also writes
    ``artifacts/<profile>/claims.csv``."""
    from kdlib import claims

    rows = [c.row for c in cells(profile)] + [own_teacher_row()]
    table = per_query(profile, rows, measure)
    values = {row: table[column(row)].dropna() for row in rows}
    latency_rows = latency_per_query(profile)
    latency_ms = {arch: part.set_index("qid")["ms"] for arch, part in latency_rows.groupby("arch")}
    dense_values = dense_per_query(profile, measure=measure) if DENSE_ARCH in profile.student.architectures else None
    checks = claims.check_claims(values, archs=profile.student.architectures, measure=measure,
                                 loss=profile.student.loss, loss_rivals=profile.student.loss_comparison,
                                 score_stats=score_statistics(profile), latency_ms=latency_ms, dense=dense_values)
    claims.write_claims_csv(checks, artifacts.root() / profile.name / "claims.csv")
    return checks
