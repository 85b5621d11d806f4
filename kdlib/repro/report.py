"""What the result chapters show: every row's test run, per-query values, teacher rows and
the claim checks, computed from the stages."""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from kdlib import artifacts
from kdlib.profiles import Profile
from kdlib.repro import results as results_csv
from kdlib.repro.analyses import dense_per_query, latency_per_query, score_statistics
from kdlib.repro.matrix import DENSE_ARCH, cells, main_cells
from kdlib.repro.settings import (BASELINE, BM25_ARCH, RANKING_TEACHERS, T2, TEACHER_ARCH, UNTRAINED, Row, bm25_row,
                                  own_teacher_row, setting, teacher_row, untrained_row)
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
    from kdlib import fullscale

    for name in RANKING_TEACHERS:
        if fullscale.uses_teacher_files(profile) and not setting(profile, name).is_own:
            continue  # published teacher files score the training triples only: no test run to measure
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
    from kdlib import claims, paper

    rows = [c.row for c in cells(profile)] + [own_teacher_row()]
    table = per_query(profile, rows, measure)
    values = {row: table[column(row)].dropna() for row in rows}
    latency_rows = latency_per_query(profile)
    latency_ms = {arch: part.set_index("qid")["ms"] for arch, part in latency_rows.groupby("arch")}
    dense_values = dense_per_query(profile, measure=measure) if DENSE_ARCH in profile.student.architectures else None
    archs = profile.student.architectures
    # Claim 3 is the paper's for MSMARCO-DEV; on TREC-DL'19 its own PreTT and TK gain nothing from T2.
    claim3_archs = paper.t2_beats_t1_on_dl19(archs) if profile.data.test == "trec-dl-2019" else None
    checks = claims.check_claims(values, archs=archs, measure=measure, claim3_archs=claim3_archs,
                                 loss=profile.student.loss, loss_rivals=profile.student.loss_comparison,
                                 score_stats=score_statistics(profile), latency_ms=latency_ms, dense=dense_values)
    claims.write_claims_csv(checks, artifacts.root() / profile.name / "claims.csv")
    return checks


def comparison_rows(profile: Profile, arch: str, teacher: str, loss: str) -> dict[str, Row]:
    """A student's row and what chapter 4 compares it with, by label: its untrained start,
    the candidates (BM25) and its architecture's baseline (unless it is the baseline)."""
    baseline = setting(profile, BASELINE)
    rows = {f"{arch} <- {teacher} ({loss})": (arch, teacher, loss),
            f"{arch} untrained": untrained_row(arch),
            "BM25 (the candidates)": bm25_row()}
    reference = (arch, baseline.name, baseline.loss(profile))
    if reference != (arch, teacher, loss):
        rows[f"{arch} baseline ({reference[2]})"] = reference
    return rows


def result_rows(profile: Profile) -> list[Row]:
    """Chapter 5's rows: BM25, every untrained start, then every cell of the matrix."""
    return [bm25_row(), *(untrained_row(a) for a in profile.student.architectures), *(c.row for c in cells(profile))]


def result_table(profile: Profile, per_query_values: pd.DataFrame) -> pd.DataFrame:
    """Chapter 5's table: per row its mean nDCG@10 and, for trained students, the difference
    to (and paired p-value against) its untrained start, its baseline and BM25, with the
    paper's quoted figure and the command that reproduces the row.

    Args:
        per_query_values: :func:`per_query` of :func:`result_rows`.
    """
    from kdlib import claims, paper, reproduce

    baseline = setting(profile, BASELINE)
    table = []
    for row in result_rows(profile):
        arch, teacher, loss = row
        values = per_query_values[column(row)]
        entry = {"arch": arch, "teacher": teacher, "loss": loss, "nDCG@10": values.mean()}
        if arch in profile.student.architectures and teacher != UNTRAINED:
            references = {UNTRAINED: untrained_row(arch), BASELINE: (arch, baseline.name, baseline.loss(profile)),
                          BM25: bm25_row()}
            for name, reference in references.items():
                if reference != row:
                    comparison = claims.paired(name, values, per_query_values[column(reference)])
                    entry[f"Δ vs {name}"], entry[f"p vs {name}"] = comparison.difference, comparison.p_value
        entry["paper nDCG@10 (quoted)"] = paper.rerank_ndcg10_dl19(arch, teacher, loss)
        entry["reproduce"] = reproduce.command(profile.name, arch, teacher, loss)
        table.append(entry)
    return pd.DataFrame(table).set_index(["arch", "teacher", "loss"])


def main_results(profile: Profile, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of results.csv on one student's path through the paper's figures: every
    architecture untrained, with labels only, then with T1 and T2 (their main losses)."""
    rows = {c.row for arch in profile.student.architectures for c in main_cells(profile, arch)}
    rows |= {untrained_row(arch) for arch in profile.student.architectures}
    keep = [(r.arch, r.teacher, r.loss) in rows for r in frame.itertuples()]
    return frame[keep]


def ensemble_beats(profile: Profile, per_query_values: pd.DataFrame) -> tuple[dict[str, int], int]:
    """How many T2 students (main loss) beat, in mean nDCG@10, their untrained start, their
    baseline and BM25; and how many T2 students there are."""
    baseline = setting(profile, BASELINE)
    mean = {name: float(values.mean()) for name, values in per_query_values.items()}
    ensemble = {a: mean[column((a, T2, profile.student.loss))] for a in profile.student.architectures}
    references = {UNTRAINED: lambda a: untrained_row(a),
                  BASELINE: lambda a: (a, baseline.name, baseline.loss(profile)),
                  BM25: lambda a: bm25_row()}
    beats = {name: sum(ensemble[a] > mean[column(ref(a))] for a in ensemble) for name, ref in references.items()}
    return beats, len(ensemble)
