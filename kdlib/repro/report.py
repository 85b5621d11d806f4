"""What the result chapters show: every row's test run, per-query values, teacher rows and
the claim checks, computed from the stages."""
from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import pandas as pd

from kdlib.core import artifacts
from kdlib.core.profiles import Profile
from kdlib.repro import results as results_csv
from kdlib.repro.matrix import DENSE_ARCH, cells, main_cells
from kdlib.repro.settings import (
    BASELINE,
    BM25_ARCH,
    RANKING_TEACHERS,
    T1,
    T2,
    TEACHER_ARCH,
    UNTRAINED,
    Row,
    bm25_row,
    ranking_teachers,
    setting,
    teacher_row,
    untrained_row,
)
from kdlib.repro.splits import splits, test_set, test_sets
from kdlib.repro.stages.analyses import (dense_per_query, latency, latency_per_query, paper_size_latency,
                                         paper_size_latency_cost, paper_size_latency_per_query, score_statistics)
from kdlib.repro.stages.students import StudentRun, run_dir, student, untrained, untrained_run
from kdlib.repro.stages.teachers import own_teacher_run, published_teacher_run

#: The name of the first-stage candidates among :func:`teacher_results`' rows.
BM25 = "BM25"


def matrix(profile: Profile) -> list[StudentRun]:
    """Every cell of the profile's distillation matrix (trained where not cached)."""
    return [student(profile, c.arch, c.teacher, c.loss) for c in cells(profile)]


def teacher_results(profile: Profile) -> dict[str, dict[str, float]]:
    """Test measures of BM25 and of every teacher (T1, T2, our own) re-ranking the same candidates.

    Also recorded in results.csv with ``arch`` = ``bm25`` / ``teacher``, and BM25 on every
    further test set (``data.eval_datasets``; the published teachers have no runs there).
    """
    from kdlib.data.irds import measures_for
    from kdlib.eval.measures import evaluate

    measures = profile.eval.measures
    qrels = splits(profile).test.qrels
    out = {BM25: evaluate(test_run(profile, *bm25_row()), qrels, measures)}
    rows = {BM25: bm25_row()}
    for name in ranking_teachers(profile):
        rows[name] = teacher_row(setting(profile, name))
        out[name] = evaluate(test_run(profile, *rows[name]), qrels, measures)
    for name, metrics in out.items():
        results_csv.record_metrics(profile, rows[name], metrics)
    for dataset in profile.data.eval_datasets:
        values = evaluate(test_run(profile, *bm25_row(), dataset=dataset), test_set(profile, dataset).qrels,
                          measures_for(dataset))
        results_csv.record_metrics(profile, bm25_row(), values, dataset=dataset)
    return out


class TeacherPremise(NamedTuple):
    """Whether T2 ranks the test candidates better than T1 (claim 3's premise), as a finding."""

    verdict: Any
    title: str
    lines: list[str]
    evidence: str


def teacher_premise(profile: Profile, measure: str = "nDCG@10") -> TeacherPremise | None:
    """T2 against T1, each re-ranking the test candidates itself (held-out queries: neither
    teacher's scores of them reach training), with a paired test over the test queries.
    Verdict: *reproduced* (T2 above T1, p < .05), *consistent* (above, not significant), *not
    reproduced* (not above: claim 3's premise fails). ``None`` where a teacher has no test run
    (published teacher files at full scale)."""
    from kdlib.eval.measures import compare_runs
    from kdlib.repro.claims import Verdict, format_p

    if not {T1, T2} <= set(ranking_teachers(profile)):
        return None
    qrels = splits(profile).test.qrels
    t1, t2 = (test_run(profile, *teacher_row(setting(profile, name))) for name in (T1, T2))
    c = compare_runs(t1, t2, qrels, measure, test=profile.eval.significance)
    if c.difference > 0 and c.p_value < 0.05:
        verdict, word = Verdict.REPRODUCED, "ranks better than"
    elif c.difference > 0:
        verdict, word = Verdict.CONSISTENT, "ranks better than, but not significantly,"
    else:
        verdict, word = Verdict.NOT_REPRODUCED, "does not rank better than"
    members = ", ".join(profile.teacher.t2)
    lines = [f"T2 (mean of {members}) {word} T1 ({profile.teacher.t1}) on {profile.data.test}: {measure} "
             f"{c.mean_b:.3f} against {c.mean_a:.3f}, difference {c.difference:+.3f} (95% CI {c.ci_low:+.3f} to "
             f"{c.ci_high:+.3f}), p = {format_p(c.p_value)} over {c.n} queries."]
    if verdict is Verdict.NOT_REPRODUCED:
        lines.append("Claim 3's premise fails here: students of T2 have no better teacher to learn from than "
                     "students of T1.")
    evidence = (f"Both teachers re-rank the same candidates ({profile.data.candidates} top-{profile.data.rerank_depth}); "
                f"a candidate outside a member's published run gets that member's lowest score for the query. "
                f"{c.test} over the test queries, which no teacher scored for training.")
    return TeacherPremise(verdict, f"T2 is the stronger teacher ({measure}): {verdict.value}", lines, evidence)


def test_run(profile: Profile, arch: str, teacher: str, loss: str, *,
             dataset: str | None = None) -> dict[str, dict[str, float]]:
    """The run behind any row of results.csv on test set ``dataset`` (default ``data.test``):
    BM25, a teacher, an untrained or trained student.

    Raises:
        KeyError: the row has no run on ``dataset`` (a published teacher on a further test set).
    """
    from kdlib.data import read_run

    if dataset is not None and dataset != profile.data.test:
        return _eval_dataset_run(profile, (arch, teacher, loss), dataset)
    test = splits(profile).test
    if arch == BM25_ARCH:
        return {q: dict(r) for q, r in test.runs[profile.data.candidates].items()}
    if arch == TEACHER_ARCH:
        return own_teacher_run(profile) if setting(profile, teacher).is_own else published_teacher_run(profile, teacher, test)
    if teacher == UNTRAINED:
        return untrained_run(profile, arch)
    return read_run(student(profile, arch, teacher, loss).run_path)


def _eval_dataset_run(profile: Profile, row: Row, dataset: str) -> dict[str, dict[str, float]]:
    from kdlib.data import read_run
    from kdlib.data.sources import source_for
    from kdlib.eval.rerank import run_file_name

    arch, teacher, loss = row
    qids = test_set(profile, dataset).judged_qids()
    if arch == BM25_ARCH:
        candidates = source_for(profile.data).iter_candidates(dataset, run=profile.data.candidates,
                                                              depth=profile.data.rerank_depth, qids=qids)
        return {c.qid: dict(zip(c.pids, c.scores)) for c in candidates}
    if arch == TEACHER_ARCH:
        raise KeyError(f"teacher {teacher} has no run on {dataset}")
    if teacher == UNTRAINED:
        untrained(profile, arch)
    else:
        student(profile, arch, teacher, loss)
    return read_run(run_dir(profile, row) / run_file_name(dataset))


def column(row: Row) -> str:
    """The column name of a row in :func:`per_query` (``arch/teacher/loss``)."""
    return "/".join(row)


def per_query(profile: Profile, rows: Sequence[Row], measure: str = "nDCG@10", *,
              dataset: str | None = None) -> pd.DataFrame:
    """Per-query values of ``measure`` for result rows ``(arch, teacher, loss)`` on test set
    ``dataset`` (default ``data.test``); rows without a run there are left out.

    Returns:
        A frame indexed by qid with one column per row, named ``arch/teacher/loss``.
    """
    from kdlib.eval.measures import evaluate_per_query

    qrels = test_set(profile, dataset).qrels
    columns = {}
    for row in rows:
        try:
            run = test_run(profile, *row, dataset=dataset)
        except KeyError:
            continue
        values = evaluate_per_query(run, qrels, [measure])
        columns[column(row)] = values.set_index("qid")["value"]
    return pd.DataFrame(columns)


def claim_checks(profile: Profile) -> list:
    """The paper's claims checked on this profile's runs on every test set
    (:func:`kdlib.repro.splits.test_sets`: ``data.test`` with nDCG@10, each
    ``data.eval_datasets`` dataset with its own measure, RR@10 for the MS MARCO dev samples), each
    comparison beside the paper's effect on that measure (:mod:`kdlib.repro.claims`); also
    writes ``artifacts/<profile>/claims.csv``, one row per claim and test set.

    Claim 3 is the paper's for MSMARCO-DEV; on TREC-DL'19 (nDCG@10, the measure the paper
    reports it on) only the students the paper reports a T2 gain for are checked
    (:func:`kdlib.repro.paper.t2_beats_t1_on_dl19`). Score statistics (claim 1) and latency
    (claim 5) are measured on ``data.test`` only, and teachers re-rank ``data.test`` only
    (claim 4): on further test sets those claims are *not tested*. Dense retrieval (claim 7)
    searches every test set.
    Claim 2 compares each baseline with a T1 student trained on the same (judged) queries
    (:func:`judged_query_profile`) where the matrix's T1 students also see unjudged ones.
    """
    from kdlib.repro import claims, paper

    rows = [c.row for c in cells(profile)] + [teacher_row(setting(profile, name)) for name in ranking_teachers(profile)]
    archs = profile.student.architectures
    common = {"archs": archs, "loss": profile.student.loss, "loss_rivals": profile.student.loss_comparison,
              "test": profile.eval.significance, "primary_test_set": profile.data.test}
    same = judged_query_profile(profile)
    checks = []
    for dataset, measure in test_sets(profile).items():
        table = per_query(profile, rows, measure, dataset=dataset)
        values = {row: table[column(row)].dropna() for row in rows if column(row) in table}
        # Dense retrieval searches every test set (its own corpus); score statistics and latency
        # are measured on data.test only.
        primary = {"dense": (dense_per_query(profile, measure=measure, dataset=dataset)
                             if DENSE_ARCH in profile.student.architectures else None)}
        if dataset == profile.data.test:
            primary.update({"score_stats": score_statistics(profile), **latency_evidence(profile)})
        # On TREC-DL'19 the paper's own PreTT and TK gain nothing from T2 (claim 3 is for MSMARCO-DEV).
        claim3_archs = paper.t2_beats_t1_on_dl19(archs) if measure == "nDCG@10" else None
        if same is not None:
            t1_rows = {arch: (arch, T1, setting(profile, T1).loss(profile)) for arch in archs}
            same_table = per_query(same, list(t1_rows.values()), measure, dataset=dataset)
            primary["same_query_t1"] = {arch: same_table[column(row)].dropna() for arch, row in t1_rows.items()
                                        if column(row) in same_table}
            primary["same_query_count"] = same.data.train_queries
        checks += claims.check_claims(values, measure=measure, claim3_archs=claim3_archs, test_set=dataset,
                                      **common, **primary)
    claims.write_claims_csv(checks, artifacts.root() / profile.name / "claims.csv")
    return checks


def latency_evidence(profile: Profile) -> dict[str, Any]:
    """Claim 5's evidence (:class:`kdlib.repro.claims.Evidence` fields): the students' per-query
    latencies (``latency_ms``, by architecture) and, where the profile times every architecture
    at the paper's model size too (``eval.latency_paper_encoder``), those
    (``paper_size_latency_ms``) and their encoder, on which the claim is then decided."""
    def by_arch(frame: pd.DataFrame) -> dict[str, pd.Series]:
        return {arch: part.set_index("qid")["ms"] for arch, part in frame.groupby("arch")}

    evidence: dict[str, Any] = {"latency_ms": by_arch(latency_per_query(profile))}
    paper_size = paper_size_latency_per_query(profile)
    if paper_size is not None:
        evidence.update(paper_size_latency_ms=by_arch(paper_size),
                        paper_size_encoder=profile.eval.latency_paper_encoder)
    return evidence


def latency_comparison(profile: Profile) -> pd.DataFrame:
    """Chapter 6's latency table: per architecture (in the paper's order) the median query
    latency of the students at their own size, at the paper's model size where the profile
    measures it (``eval.latency_paper_encoder``), and the paper's quoted GPU figure (re-ranking
    the BM25 top-1000), all in ms. Every column is filled: one the profile does not measure is
    left out rather than shown empty.
    """
    from kdlib.repro import paper

    quoted = {arch: row["latency_ms"] for arch, row in paper.figures()["rerank"].items()}
    students = latency(profile).set_index("arch")
    columns = {f"students ({profile.student.encoder.name}) ms": students["median_ms"]}
    paper_size = paper_size_latency(profile)
    if paper_size is not None:
        columns[f"paper size ({profile.eval.latency_paper_encoder}) ms"] = paper_size.set_index("arch")["median_ms"]
    archs = [a for a in paper.figures()["latency_order"] if all(a in c.index for c in columns.values())]
    columns["paper (GPU, top-1000, quoted) ms"] = pd.Series({a: float(quoted[a]) for a in archs if a in quoted})
    table = pd.DataFrame({name: column.reindex(archs) for name, column in columns.items()})
    table.index.name = "arch"
    return table


#: DistilBERT-base's shape as a random encoder (6 layers, 768 wide, 12 heads).
DISTILBERT_SHAPE = (6, 768)


def paper_size_setup(profile: Profile) -> str:
    """Chapter 6's account (markdown) of the paper-size latency measurement: what was timed,
    on how many queries and candidates, and what the measurement cost on how loaded a machine
    (a load above the core count inflates every latency). A profile without a paper-size
    encoder gets a sentence saying so."""
    from kdlib.models.encoders import random_shape

    encoder = profile.eval.latency_paper_encoder
    if encoder is None:
        return (f"This profile sets no `eval.latency_paper_encoder`: its students (`{profile.student.encoder.name}`) "
                f"are timed at their own size only, and claim 5 is decided there (the msmarco profile's students "
                f"are DistilBERTs, the paper's size).")
    shape = random_shape(encoder)
    what = "" if shape is None else (
        f" (a BERT of {shape.layers} layers, {shape.width} wide, {shape.heads} head{'s' * (shape.heads != 1)}, with "
        f"random weights"
        + ("; DistilBERT's shape)" if (shape.layers, shape.width) == DISTILBERT_SHAPE else ")"))
    table, cost = paper_size_latency(profile), paper_size_latency_cost(profile)
    count = profile.eval.latency_threads
    threads = "" if count is None or set(table["device"]) != {"cpu"} else f" ({count} thread{'s' * (count != 1)})"
    busy = (" (busier than its cores: other jobs shared the CPU, and every latency is inflated)"
            if max(cost["load_1m_start"], cost["load_1m_end"]) > cost["cores"] else "")
    return (f"**At the paper's size:** every architecture built untrained from `{encoder}`{what}, timed on "
            f"{', '.join(sorted(set(table['device'])))}{threads} re-ranking {int(table['n_queries'].max())} test queries x "
            f"{int(table['depth'].max())} {profile.data.candidates} candidates, each query's latency "
            + ("its one timed run" if profile.eval.latency_repeats == 1 else
               f"the median of {profile.eval.latency_repeats} timed runs")
            + f" after one warm-up. The whole measurement (building the "
            f"models, encoding the passages, timing) took {cost['wall_s']:.0f} s ({cost['cpu_s']:.0f} CPU s) on "
            f"{cost['cores']} cores, at a 1-minute load average of {cost['load_1m_start']:.1f} to "
            f"{cost['load_1m_end']:.1f}{busy}.")


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


def result_table(profile: Profile, per_query_values: pd.DataFrame, *, measure: str = "nDCG@10") -> pd.DataFrame:
    """Chapter 5's table on one test set: per row its mean ``measure`` and, for trained
    students, the difference to (and paired p-value against) its untrained start, its
    baseline and BM25, with the paper's quoted figure (:func:`reproduce_commands` lists the
    command that regenerates each row).

    Args:
        per_query_values: :func:`per_query` of :func:`result_rows` on that test set, in ``measure``.
        measure: ``nDCG@10`` (TREC-DL'19) or ``RR@10`` (beside the paper's MSMARCO-DEV figures).
    """
    from kdlib.repro import claims, paper

    baseline = setting(profile, BASELINE)
    quoted = f"paper {measure} ({paper.RERANK_TEST_SETS.get(measure, 'not reported')}, quoted)"
    table = []
    for row in result_rows(profile):
        arch, teacher, loss = row
        if column(row) not in per_query_values:
            continue
        values = per_query_values[column(row)]
        entry = {"arch": arch, "teacher": teacher, "loss": loss, measure: values.mean()}
        if arch in profile.student.architectures and teacher != UNTRAINED:
            references = {UNTRAINED: untrained_row(arch), BASELINE: (arch, baseline.name, baseline.loss(profile)),
                          BM25: bm25_row()}
            for name, reference in references.items():
                if reference != row:
                    comparison = claims.paired(name, values, per_query_values[column(reference)],
                                               test=profile.eval.significance)
                    entry[f"Δ vs {name}"], entry[f"p vs {name}"] = comparison.difference, comparison.p_value
        entry[quoted] = paper.rerank_figure(arch, teacher, loss, measure)
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


def comparison_table(profile: Profile, arch: str, teacher: str, loss: str) -> pd.DataFrame:
    """Chapter 4's table: the student and every row :func:`comparison_rows` names, with their
    first three measures, and for each other row the student's nDCG@10 difference to it and the
    paired test's p-value (``eval.significance``) over the test queries."""
    from kdlib.eval.measures import compare_runs, evaluate

    qrels = splits(profile).test.qrels
    runs = {label: test_run(profile, *row) for label, row in comparison_rows(profile, arch, teacher, loss).items()}
    student_label, *others = runs
    table = pd.DataFrame({name: evaluate(run, qrels, profile.eval.measures[:3]) for name, run in runs.items()}).T
    for name in others:
        comparison = compare_runs(runs[name], runs[student_label], qrels, "nDCG@10", test=profile.eval.significance)
        table.loc[name, "Δ nDCG@10 of this run"] = comparison.difference
        table.loc[name, "p"] = comparison.p_value
    return table


def teacher_strength(teachers: dict[str, dict[str, float]], best_student: float, *, margin: float = 0.02) -> dict[str, str]:
    """How each teacher compares with the best baseline student in nDCG@10: ``stronger than``,
    ``about as strong as`` (within ``margin``) or ``weaker than``."""
    out = {}
    for name in [n for n in RANKING_TEACHERS if n in teachers]:
        gap = teachers[name]["nDCG@10"] - best_student
        out[name] = "stronger than" if gap > margin else ("about as strong as" if gap > -margin else "weaker than")
    return out


def scale(profile: Profile, dataset: str | None = None):
    """The sizes this profile trains at and test set ``dataset`` (default ``data.test``) tests
    at (:class:`kdlib.repro.claims.Scale`), for the notes that explain a claim our runs do not
    reproduce."""
    from kdlib.repro.claims import Scale
    from kdlib.teacher.members import OWN_MEMBER
    from kdlib.train.pipeline import training_query_ids

    train = splits(profile).train
    official = profile.data.trains_on_official_triples
    qids = None if official else training_query_ids(profile)
    others = [m for m in profile.teacher.t2 if m not in (profile.teacher.t1, OWN_MEMBER)]
    distinct = None if official else sum(any(train.runs.get(m, {}).get(q) for m in others) for q in qids)
    judged = [] if official else judged_training_queries(profile)
    return Scale(train_queries=None if qids is None else len(qids),
                 test_queries=len(test_set(profile, dataset).judged_qids()), student_steps=profile.train.max_steps,
                 own_teacher_queries=len(train.judged_qids()), own_teacher_steps=profile.teacher.own_train.max_steps,
                 own_teacher=profile.teacher.train_own, t1=profile.teacher.t1, t2=tuple(profile.teacher.t2),
                 t2_distinct_queries=distinct, unscored=profile.teacher.unscored,
                 judged_queries=None if official else len(judged),
                 judgements_per_query=None if official or not judged else
                 sum(len(train.qrels[q]) for q in judged) / len(judged),
                 latency_depth=profile.data.rerank_depth,
                 latency_paper_encoder=profile.eval.latency_paper_encoder,
                 latency_paper_queries=profile.eval.latency_paper_queries,
                 latency_paper_depth=profile.eval.latency_paper_depth)


def claim_notes(profile: Profile, checks: Sequence) -> dict[tuple[int, str], str]:
    """For every claim and test set our runs do not reproduce (verdict *consistent* or *not
    reproduced*): what differs from the paper's setting, with this profile's sizes and that
    test set's queries (:func:`kdlib.repro.claims.notes_for`), by ``(number, test_set)``."""
    from kdlib.repro.claims import NOTED, notes_for

    noted = {c.test_set for c in checks if c.verdict in NOTED}
    return notes_for(checks, {name: scale(profile, name) for name in noted})


def data_overview(profile: Profile) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Chapter 1's two tables: counts per dataset (queries, judged queries, passages,
    judgements, grades) and the measures of every run each dataset comes with.

    The embedded pack is read whole; an ``ir_datasets`` source is counted and its BM25
    candidates measured one query at a time (:func:`kdlib.repro.irds_overview.irds_overview`).
    """
    from kdlib import data
    from kdlib.eval.measures import evaluate

    if profile.data.source == "ir_datasets":
        from kdlib.repro.irds_overview import irds_overview

        return irds_overview(profile.data)
    from kdlib.data.irds import measures_for

    datasets = {name: data.load_dataset(name, max_queries=profile.data.max_queries) for name in data.PACK_DATASETS}
    stats = pd.DataFrame([data.dataset_stats(ds) for ds in datasets.values()]).set_index("name")
    grades = stats.pop("grades").apply(pd.Series).fillna(0).astype(int).add_prefix("grade ")
    counts = pd.concat([stats[["queries", "judged_queries", "passages", "judgements"]], grades], axis=1)
    # Each dataset with its own measures: TREC DL's count grade >= 2 as relevant, the MS MARCO
    # dev sample's grade 1 (MRR@10 and recall over its 20 hits).
    rows = [{"dataset": name, "run": run_name, **evaluate(run, ds.qrels, measures_for(name, profile.eval.measures))}
            for name, ds in datasets.items() if ds.qrels for run_name, run in ds.runs.items()]
    return counts, pd.DataFrame(rows).set_index(["dataset", "run"])


def label_triples(profile: Profile) -> list:
    """The label triples of every judged training query (chapter 1): the dataset's official
    triples, or triples sampled from the judgements and candidates as the students' are."""
    from kdlib.data.sources import official_triples
    from kdlib.train.pipeline import sampled_label_triples

    train = splits(profile).train
    if profile.data.trains_on_official_triples:
        return official_triples(profile.data, train)
    return sampled_label_triples(profile, train, train.judged_qids())


#: Markers of :func:`paper_table`: a row significantly above / below BM25, or its baseline.
MARKERS = {("BM25", True): "▲", ("BM25", False): "▼", ("baseline", True): "†", ("baseline", False): "‡"}


def paper_table(profile: Profile, per_query_values: pd.DataFrame, *, measure: str = "nDCG@10") -> pd.DataFrame:
    """The paper's Figure 1 as a table, on one test set: students as rows, ours untrained /
    baseline / T1 / T2 beside the paper's baseline / T1 / T2 (quoted), as text.

    Ours carry markers (:data:`MARKERS`): ▲ / ▼ significantly above / below BM25, † / ‡
    significantly above / below the student's baseline (paired test ``eval.significance``,
    p < .05, over the test set's queries). A cell without a run or a quoted figure shows "–".

    Args:
        per_query_values: :func:`per_query` of :func:`result_rows` on that test set, in ``measure``.
    """
    from kdlib.repro import claims, paper
    from kdlib.repro.settings import PAPER_SETTINGS

    bm25 = per_query_values.get(column(bm25_row()))
    baseline = setting(profile, BASELINE)
    rows = []
    for arch in profile.student.architectures:
        entry: dict[str, str] = {"student": arch}
        base = per_query_values.get(column((arch, baseline.name, baseline.loss(profile))))
        for name in (UNTRAINED, *PAPER_SETTINGS):
            row = untrained_row(arch) if name == UNTRAINED else (arch, name, setting(profile, name).loss(profile))
            values = per_query_values.get(column(row))
            if values is None:
                entry[f"ours {name}"] = "–"
                continue
            marks = ""
            for reference, label in ((bm25, "BM25"), (None if name == BASELINE else base, "baseline")):
                if reference is not None and name != UNTRAINED:
                    comparison = claims.paired(label, values, reference, test=profile.eval.significance)
                    if comparison.p_value < claims.ALPHA and comparison.difference != 0:
                        marks += MARKERS[(label, comparison.difference > 0)]
            entry[f"ours {name}"] = f"{values.mean():.3f}{marks}"
        for name in PAPER_SETTINGS:
            quoted = paper.rerank_figure(arch, name, setting(profile, name).loss(profile), measure)
            entry[f"paper {name}"] = "–" if quoted is None else f"{quoted:.3f}"
        rows.append(entry)
    if bm25 is not None:
        quoted = paper.bm25_figure(measure)
        rows.append({"student": "BM25 (the candidates)", "ours untrained": f"{bm25.mean():.3f}",
                     "paper baseline": "–" if quoted is None else f"{quoted:.3f}"})
    return pd.DataFrame(rows).set_index("student").fillna("–")


def reproduce_commands(profile: Profile) -> list[str]:
    """The command that regenerates each trained row of chapter 5 (``kdlib check`` compares)."""
    from kdlib.repro import check as reproduce

    return [reproduce.command(profile.name, arch, teacher, loss) for arch, teacher, loss in result_rows(profile)
            if arch in profile.student.architectures and teacher != UNTRAINED]


def sized_profile(profile: Profile, queries: int) -> Profile:
    """``profile`` with its students trained on ``queries`` of their training queries
    (``data.train_queries``), under its own name (``<profile>-<n>q``): its stages and
    results.csv live apart from the book's, so they never mix with the main matrix."""
    import dataclasses

    from kdlib.core.profiles import override

    return dataclasses.replace(override(profile, {"data.train_queries": queries}), name=f"{profile.name}-{queries}q")


def judged_query_profile(profile: Profile) -> Profile | None:
    """The sized profile (:func:`sized_profile`) whose students train on exactly the judged
    training queries, the label-only baseline's, where the profile's own students also train on
    unjudged ones (TREC DL 2022); ``None`` where they train on judged queries only."""
    if profile.data.trains_on_official_triples:
        return None
    count = len(judged_training_queries(profile))
    return None if count == training_queries(profile) else sized_profile(profile, count)


def judged_training_queries(profile: Profile) -> list[str]:
    """The students' training queries that have judgements: the label-only baseline's."""
    from kdlib.train.pipeline import training_query_ids

    judged = set(splits(profile).train.judged_qids())
    return [q for q in training_query_ids(profile) if q in judged]


def training_queries(profile: Profile) -> int:
    """How many training queries the students' triples come from."""
    from kdlib.train.pipeline import training_query_ids

    return len(training_query_ids(profile))


def training_sizes(profile: Profile, archs: Sequence[str] | None = None) -> pd.DataFrame:
    """Every architecture's T1 student trained on ``student.training_sizes`` training queries and
    on all of them, with its untrained start at 0, measured on every test set (its headline
    measure); for all architectures also written to ``artifacts/<profile>/training_sizes.csv``.

    Chapter 4's T1 pages train their architecture's smaller students (``archs``), in the
    book's parallel distillation phase; chapter 5 then finds them all cached.

    Returns:
        Columns ``arch``, ``queries``, ``dataset``, ``measure``, ``value``.
    """
    from kdlib.repro.settings import T1

    loss = setting(profile, T1).loss(profile)
    full = training_queries(profile)
    sizes = sorted({n for n in profile.student.training_sizes if n < full})
    measured = {0: (profile, None), full: (profile, (T1, loss))}
    measured.update({n: (sized_profile(profile, n), (T1, loss)) for n in sizes})
    rows = []
    for arch in profile.student.architectures if archs is None else archs:
        for queries, (scope, cell) in sorted(measured.items()):
            if cell is None:
                untrained(scope, arch)
                row = untrained_row(arch)
            else:
                student(scope, arch, *cell)
                row = (arch, *cell)
            recorded = results_csv.results(scope)
            for dataset, measure in test_sets(profile).items():
                value = recorded[(recorded["dataset"] == dataset) & (recorded["arch"] == row[0])
                                 & (recorded["teacher"] == row[1]) & (recorded["loss"] == row[2])
                                 & (recorded["measure"] == measure)]["value"]
                rows.append({"arch": arch, "queries": queries, "dataset": dataset, "measure": measure,
                             "value": float(value.iloc[-1])})
    frame = pd.DataFrame(rows)
    if archs is None:
        artifacts.write_csv(artifacts.root() / profile.name / "training_sizes.csv", frame)
    return frame


def training_size_slopes(sizes: pd.DataFrame) -> pd.DataFrame:
    """Per architecture and test set: the score gained per doubling of the training queries (a
    least-squares line through the trained sizes against log2 of their query counts), and the
    score at the largest size."""
    import numpy as np

    rows = []
    for (arch, dataset), part in sizes[sizes["queries"] > 0].groupby(["arch", "dataset"], sort=False):
        part = part.sort_values("queries")
        slope = (float(np.polyfit(np.log2(part["queries"]), part["value"], 1)[0]) if part["queries"].nunique() > 1
                 else float("nan"))
        rows.append({"arch": arch, "dataset": dataset, "measure": part["measure"].iloc[0],
                     "gain per doubling": slope, "at all queries": float(part["value"].iloc[-1])})
    return pd.DataFrame(rows)
