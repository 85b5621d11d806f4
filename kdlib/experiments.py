"""The reproduction's stages, cached: what the notebooks call.

Each function computes its stage once and loads it afterwards. Results live under
``artifacts/<profile>/<stage>/<hash>/`` (:mod:`kdlib.artifacts`), where the hash covers exactly
the configuration the stage depends on; a changed parameter re-runs only what depends on it.

Stages and their files:

- ``own_teacher``: our BERT_CAT teacher (RankNet on label triples), a training run directory.
- ``teacher_file``: a teacher's scores of the students' triples, in the published format
  (``pos_score neg_score qid pos_pid neg_pid``). T1 / T2 come from published runs, ``own`` from
  our teacher. Students read them back from the file.
- ``student``: one cell of the distillation matrix: a training run, its re-ranking of the test
  candidates (``test.run``, TREC format) and its measures; every measure is also appended to
  ``artifacts/<profile>/results.csv`` (profile, dataset, arch, teacher, loss, measure, value).
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from kdlib import artifacts, fullscale
from kdlib.profiles import Profile

TEACHERS = ("baseline", "T1", "T2", "own", "T2_scored")
#: The ablation teacher setting: T2 distilled only on pairs every published member scored
#: (``teacher.unscored: drop``) instead of imputing the query's lowest score.
SCORED_ONLY = "T2_scored"
#: Teacher-file lines read into :func:`teacher_scores` (every line of the embedded profiles' files).
TEACHER_SAMPLE_LINES = 1_000_000
RESULT_COLUMNS = ["profile", "dataset", "arch", "teacher", "loss", "measure", "value"]


def _section(profile: Profile, *names: str) -> dict[str, Any]:
    data = profile.to_dict()
    out = {}
    for name in names:
        node: Any = data
        for part in name.split("."):
            node = node[part]
        out[name] = node
    return out


_SPLITS: dict[str, Any] = {}


def splits(profile: Profile):
    """Train / validation / test datasets of the profile (cached per process)."""
    from kdlib.data import training_splits

    key = profile.fingerprint("data")
    if key not in _SPLITS:
        _SPLITS[key] = training_splits(profile.data)
    return _SPLITS[key]


# --------------------------------------------------------------------------- teachers

def _own_teacher_key(profile: Profile) -> dict[str, Any]:
    return _section(profile, "data", "teacher.own_encoder", "teacher.own_train")


def own_teacher(profile: Profile):
    """Train (once) our own BERT_CAT teacher; returns its :class:`kdlib.train.TrainResult`."""
    out = artifacts.stage_dir(profile.name, "teacher-own", _own_teacher_key(profile))
    finished = _finished(out)
    if finished is not None:
        return finished
    from kdlib.train import train_own_teacher

    with artifacts.stage_lock(out):
        return train_own_teacher(profile, out, progress=False)


def teacher_members(profile: Profile, teacher: str) -> list[str]:
    """The published runs (or ``own``) that make up a teacher setting."""
    if teacher == "T1":
        return [profile.teacher.t1]
    if teacher in ("T2", SCORED_ONLY):
        return list(profile.teacher.t2)
    if teacher == "own":
        return ["own"]
    raise ValueError(f"unknown teacher {teacher!r}: expected one of T1, T2, own, {SCORED_ONLY}")


def teacher_profile(profile: Profile, teacher: str) -> Profile:
    """The profile a teacher setting trains under (the ablation switches imputation off)."""
    from kdlib.profiles import override

    return override(profile, {"teacher.unscored": "drop"}) if teacher == SCORED_ONLY else profile


def teacher_file(profile: Profile, teacher: str) -> Path:
    """The teacher's scores of the students' triples, in the published format (cached)."""
    if fullscale.uses_teacher_files(profile) and teacher != "own":
        return fullscale.published_file(profile, teacher)
    members = teacher_members(profile, teacher)
    profile = teacher_profile(profile, teacher)
    key = {**_section(profile, "data", "teacher.normalisation", "teacher.scale", "teacher.unscored"),
           "members": members}
    if "own" in members:
        key["own_teacher"] = _own_teacher_key(profile)
    out_dir = artifacts.stage_dir(profile.name, f"teacher-file-{teacher.replace('_', '-')}", key)
    path = out_dir / "teacher_scores.tsv"
    if path.is_file():
        return path
    with artifacts.stage_lock(out_dir):
        if not path.is_file():
            _write_teacher_file(profile, members, path)
    return path


def _write_teacher_file(profile: Profile, members: Sequence[str], path: Path) -> None:
    from kdlib.data import write_teacher_scores
    from kdlib.teacher import published_teacher_scores, score_triples
    from kdlib.train.pipeline import distillation_triples

    dataset, triples = distillation_triples(profile)
    published = [m for m in members if m != "own"]
    if published and len(published) == len(members):
        records = published_teacher_scores(dataset, triples, published,
                                           normalisation=profile.teacher.normalisation, scale=profile.teacher.scale)
        write_teacher_scores(records, path)
    elif members == ["own"]:
        model_dir = own_teacher(profile).model_dir
        score_triples([model_dir], triples, path, dataset=dataset, batch_size=profile.eval.batch_size,
                      device=profile.device, progress=False)
    else:
        raise ValueError(f"a teacher cannot mix published runs and our own model: {members}")


def teacher_scores(profile: Profile, teacher: str) -> pd.DataFrame:
    """A teacher file read back: columns pos_score, neg_score, qid, pos_pid, neg_pid, margin."""
    from kdlib.data import read_teacher_scores

    # A published file has a line per official triple (40M): the statistics read the prefix
    # the students train on, at most TEACHER_SAMPLE_LINES.
    limit = min(TEACHER_SAMPLE_LINES, fullscale.teacher_file_limit(profile) or TEACHER_SAMPLE_LINES)
    lines = itertools.islice(read_teacher_scores(teacher_file(profile, teacher)), limit)
    frame = pd.DataFrame(lines, columns=["pos_score", "neg_score", "qid", "pos_pid", "neg_pid"])
    frame["margin"] = frame["pos_score"] - frame["neg_score"]
    return frame


def raw_member_scores(profile: Profile) -> pd.DataFrame:
    """Raw (un-normalised) scores of every published member on the students' triples.

    Columns: teacher, kind (positive / negative), score, imputed_pairs, pairs.
    """
    from kdlib.teacher import member_scores
    from kdlib.train.pipeline import distillation_triples, published_members

    if fullscale.uses_teacher_files(profile):
        return pd.DataFrame(columns=["teacher", "kind", "score", "imputed_pairs", "pairs"])
    dataset, triples = distillation_triples(profile)
    rows = []
    for member in published_members(profile):
        scores = member_scores(dataset, triples, member)
        for kind, values in (("positive", scores.pos), ("negative", scores.neg)):
            rows += [{"teacher": member, "kind": kind, "score": float(v),
                      "imputed_pairs": scores.imputed, "pairs": scores.pairs} for v in values]
    return pd.DataFrame(rows)


def teacher_coverage(profile: Profile) -> pd.DataFrame:
    """How much of the distillation triples each published member really scored.

    One row per member: ``pairs`` (two per triple), ``scored`` (pairs in the member's run),
    ``imputed`` (the rest: given the query's lowest score with ``teacher.unscored:
    query_min``), ``share_scored``, and ``triples_fully_scored`` (both passages scored).
    """
    from kdlib.train.pipeline import distillation_triples, published_members

    if fullscale.uses_teacher_files(profile):  # the files score every triple; no member runs
        return pd.DataFrame(columns=["member", "pairs", "scored", "imputed", "share_scored", "triples_fully_scored"])
    dataset, triples = distillation_triples(profile)
    rows = []
    for member in published_members(profile):
        run = dataset.runs[member]
        pos = [t.pos_pid in run.get(t.qid, {}) for t in triples]
        neg = [t.neg_pid in run.get(t.qid, {}) for t in triples]
        scored = sum(pos) + sum(neg)
        rows.append({"member": member, "pairs": 2 * len(triples), "scored": scored,
                     "imputed": 2 * len(triples) - scored, "share_scored": scored / (2 * len(triples)),
                     "triples_fully_scored": sum(p and n for p, n in zip(pos, neg)) / len(triples)})
    return pd.DataFrame(rows)


def published_teacher_run(profile: Profile, teacher: str, dataset=None) -> dict[str, dict[str, float]]:
    """A published teacher (T1 or T2) re-ranking the test candidates.

    The same construction as the teacher files: a candidate absent from a member's run gets
    that member's minimum score for the query; with ``zscore`` each member is standardised
    over all candidate scores of the dataset, and T2 is the members' mean.
    """
    import numpy as np

    from kdlib.rerank import candidate_lists

    dataset = dataset if dataset is not None else splits(profile).test
    lists, _ = candidate_lists(dataset, candidates=profile.data.candidates, depth=profile.data.rerank_depth)
    members = teacher_members(profile, teacher)
    total: dict[tuple[str, str], float] = {}
    for member in members:
        run = dataset.runs[member]
        pairs, values = [], []
        for qid, pids in lists.items():
            ranked = run.get(qid, {})
            floor = min(ranked.values()) if ranked else 0.0
            for pid in pids:
                pairs.append((qid, pid))
                values.append(ranked.get(pid, floor))
        array = np.asarray(values, dtype=float)
        if profile.teacher.normalisation == "zscore" and array.std() > 0:
            array = (array - array.mean()) / array.std() * profile.teacher.scale
        for pair, value in zip(pairs, array):
            total[pair] = total.get(pair, 0.0) + float(value) / len(members)
    out: dict[str, dict[str, float]] = {}
    for (qid, pid), value in total.items():
        out.setdefault(qid, {})[pid] = value
    return out


# --------------------------------------------------------------------------- students

@dataclass(frozen=True)
class StudentRun:
    """One trained cell of the matrix and its test results."""

    arch: str
    teacher: str
    loss: str
    out_dir: Path
    model_dir: Path
    metrics: Mapping[str, float]
    run_path: Path
    train_seconds: float | None

    @property
    def train_log(self) -> pd.DataFrame:
        """Rows of ``train_log.jsonl``: step, loss, lr, triples_per_s, mean_pos_score, mean_neg_score."""
        return pd.read_json(self.out_dir / "train_log.jsonl", lines=True)

    @property
    def validation(self) -> pd.DataFrame:
        path = self.out_dir / "validation.jsonl"
        return pd.read_json(path, lines=True) if path.is_file() and path.stat().st_size else pd.DataFrame()

    def load_model(self):
        from kdlib.models import load

        return load(self.model_dir)


def student_key(profile: Profile, arch: str, teacher: str, loss: str) -> dict[str, Any]:
    key = _section(profile, "data", "student.encoder", "train")
    key.update(arch=arch, teacher=teacher, loss=loss, options=dict(profile.student.options.get(arch, {})))
    if teacher != "baseline":
        key["teacher_config"] = {**_section(teacher_profile(profile, teacher), "teacher.normalisation",
                                            "teacher.scale", "teacher.unscored"),
                                 "members": teacher_members(profile, teacher)}
        if teacher == "own":
            key["own_teacher"] = _own_teacher_key(profile)
        elif fullscale.published_file_key(profile, teacher) is not None:
            key["published_file"] = fullscale.published_file_key(profile, teacher)
    return key


def student(profile: Profile, arch: str, teacher: str, loss: str) -> StudentRun:
    """Train (once) a student and evaluate it on the test set; every measure goes to results.csv.

    Args:
        arch: a student architecture.
        teacher: ``baseline`` (labels only, with ``loss='ranknet'``), ``T1``, ``T2`` or ``own``.
        loss: a :mod:`kdlib.losses` name.
    """
    import time

    from kdlib.data import read_run, write_run
    from kdlib.evaluate import evaluate

    if teacher not in TEACHERS:
        raise ValueError(f"unknown teacher {teacher!r}: expected one of {TEACHERS}")
    out = artifacts.stage_dir(profile.name, "student", student_key(profile, arch, teacher, loss))
    timing = out / "train_seconds.json"
    test = splits(profile).test
    run_path = out / "test.run"
    result = _finished(out)
    if result is None or not run_path.is_file():
        with artifacts.stage_lock(out):
            result = _finished(out)
            if result is None:
                from kdlib.train import train_student

                scores = None if teacher == "baseline" else teacher_file(profile, teacher)
                start = time.perf_counter()
                result = train_student(teacher_profile(profile, teacher), arch, loss, teacher_scores=scores,
                                       out_dir=out, progress=False)
                artifacts.write_text_atomic(timing, json.dumps(time.perf_counter() - start))
            if not run_path.is_file():
                from kdlib.models import load
                from kdlib.rerank import rerank

                ranker = load(result.model_dir)
                run = rerank(ranker, test, candidates=profile.data.candidates, depth=profile.data.rerank_depth,
                             batch_size=profile.eval.batch_size)
                write_run(run, run_path, tag=f"{arch}-{teacher}-{loss}")
    metrics = evaluate(read_run(run_path), test.qrels, profile.eval.measures)
    record_results(profile, [{"dataset": profile.data.test, "arch": arch, "teacher": teacher, "loss": loss,
                              "measure": m, "value": v} for m, v in metrics.items()])
    if profile.data.eval_datasets:
        _evaluate_eval_datasets(profile, arch, teacher, loss, out, result)
    seconds = json.loads(timing.read_text()) if timing.is_file() else None
    return StudentRun(arch, teacher, loss, out, Path(result.model_dir), metrics, run_path, seconds)


def _evaluate_eval_datasets(profile: Profile, arch: str, teacher: str, loss: str, out: Path, result) -> None:
    """Measures of a trained student on ``data.eval_datasets`` (MSMARCO-DEV), into results.csv."""
    from kdlib.models import load

    with artifacts.stage_lock(out):
        metrics = fullscale.eval_dataset_metrics(profile, lambda: load(result.model_dir), out,
                                                 exclude=splits(profile).validation.queries,
                                                 tag=f"{arch}-{teacher}-{loss}")
    record_results(profile, fullscale.eval_result_rows(metrics, arch, teacher, loss))


def _finished(out: Path):
    """The result of a finished training run in ``out`` (without importing torch), else None."""
    from kdlib.train.result import TrainResult

    marker = out / "DONE.json"
    return TrainResult.read(marker) if marker.is_file() else None


# --------------------------------------------------------------------------- results

def results_path(profile: Profile) -> Path:
    return artifacts.root() / profile.name / "results.csv"


def record_results(profile: Profile, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace rows (keyed by dataset, arch, teacher, loss, measure) in results.csv."""
    path = results_path(profile)
    new = pd.DataFrame([{"profile": profile.name, **row} for row in rows], columns=RESULT_COLUMNS)
    # Notebooks of one phase run in parallel (``kdlib book --jobs``): read-modify-write under
    # a lock, or two writers would each drop the other's rows.
    with artifacts.stage_lock(path.parent / ".results"):
        if path.is_file():
            old = pd.read_csv(path, dtype={"value": float})
            frame = pd.concat([old, new]).drop_duplicates(
                subset=["dataset", "arch", "teacher", "loss", "measure"], keep="last")
        else:
            frame = new
        _write_frame(path, frame)


def results(profile: Profile) -> pd.DataFrame:
    """The recorded results of the profile's current rows (empty frame when none).

    Rows of cells no longer in the profile (a removed architecture, teacher or loss) stay in
    the file but are not read back: what the book shows is what the profile defines.
    """
    path = results_path(profile)
    if not path.is_file():
        return pd.DataFrame(columns=RESULT_COLUMNS)
    frame = pd.read_csv(path)
    current = {(c["arch"], c["teacher"], c["loss"]) for c in matrix_cells(profile)}
    current |= {(arch, "untrained", "none") for arch in profile.student.architectures}
    keep = [(r.arch, r.teacher, r.loss) in current or r.arch in ("bm25", "teacher") for r in frame.itertuples()]
    return frame[keep].reset_index(drop=True)


def matrix(profile: Profile) -> list[StudentRun]:
    """Every cell of the profile's distillation matrix (trained where not cached)."""
    return [student(profile, **cell) for cell in matrix_cells(profile)]


def baseline_runs(profile: Profile) -> dict[str, StudentRun]:
    """The baseline (RankNet on labels) student of every architecture."""
    return {arch: student(profile, arch, "baseline", "ranknet") for arch in profile.student.architectures}


def _cached_frame(path: Path, compute) -> pd.DataFrame:
    """Load ``path`` (CSV) if present, else compute the frame and write it atomically."""
    if path.is_file():
        return pd.read_csv(path)
    frame = compute()
    _write_frame(path, frame)
    return frame


def _write_frame(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` as CSV, atomically."""
    artifacts.write_text_atomic(path, frame.to_csv(index=False))


def teacher_results(profile: Profile) -> dict[str, dict[str, float]]:
    """Test measures of BM25 and of every teacher re-ranking the same candidates (T1 and T2
    only where they are runs of the dataset, not published training-score files).

    Also recorded in results.csv with ``arch`` = ``bm25`` / ``teacher``.
    """
    from kdlib.evaluate import evaluate

    test = splits(profile).test
    measures = profile.eval.measures
    out = {"BM25": evaluate(test.runs[profile.data.candidates], test.qrels, measures)}
    # Published teacher files score the training triples only: no test run to measure.
    for teacher in () if fullscale.uses_teacher_files(profile) else ("T1", "T2"):
        out[teacher] = evaluate(published_teacher_run(profile, teacher, test), test.qrels, measures)
    out["own"] = evaluate(own_teacher_run(profile), test.qrels, measures)
    rows = []
    for name, metrics in out.items():
        arch, teacher, loss = ("bm25", "none", "none") if name == "BM25" else (
            "teacher", name, "ranknet" if name == "own" else "none")
        rows += [{"dataset": profile.data.test, "arch": arch, "teacher": teacher, "loss": loss,
                  "measure": m, "value": v} for m, v in metrics.items()]
    record_results(profile, rows)
    return out


def dense_per_query(profile: Profile, index: str = "Flat", measure: str = "nDCG@10") -> dict[str, pd.Series]:
    """Per-query ``measure`` of BERT_DOT dense retrieval, by teacher (``baseline``, ``T1``, ``T2``)."""
    dense(profile)
    _, out_dir = _dense_stage(profile)
    frame = pd.read_csv(out_dir / "per_query.csv", dtype={"qid": str})
    frame = frame[(frame["index"] == index) & (frame["measure"] == measure)]
    return {t: part.set_index("qid")["value"] for t, part in frame.groupby("teacher")}


def claim_checks(profile: Profile, measure: str = "nDCG@10") -> list:
    """The paper's claims checked on this profile's runs (:mod:`kdlib.claims`); also writes
    ``artifacts/<profile>/claims.csv``."""
    from kdlib import claims

    rows = [(cell["arch"], cell["teacher"], cell["loss"]) for cell in matrix_cells(profile)]
    rows.append(claims.OWN_TEACHER)
    table = per_query(profile, rows, measure)
    values = {row: table[f"{row[0]}/{row[1]}/{row[2]}"].dropna() for row in rows}
    latency_rows = latency_per_query(profile)
    latency_ms = {arch: part.set_index("qid")["ms"] for arch, part in latency_rows.groupby("arch")}
    dense_values = dense_per_query(profile, measure=measure) if "bert_dot" in profile.student.architectures else None
    checks = claims.check_claims(values, archs=profile.student.architectures, measure=measure,
                                 loss=profile.student.loss, loss_rivals=profile.student.loss_comparison,
                                 score_stats=score_statistics(profile), latency_ms=latency_ms, dense=dense_values)
    claims.write_claims_csv(checks, artifacts.root() / profile.name / "claims.csv")
    return checks


def matrix_cells(profile: Profile) -> list[dict[str, str]]:
    """The (arch, teacher, loss) cells of the profile's distillation matrix."""
    from kdlib.runner import matrix_runs

    return matrix_runs(profile)


def own_teacher_run(profile: Profile) -> dict[str, dict[str, float]]:
    """Our own BERT_CAT teacher re-ranking the test candidates (cached as a TREC run)."""
    from kdlib.data import read_run, write_run
    from kdlib.models import load
    from kdlib.rerank import rerank

    key = {**_own_teacher_key(profile), "eval": _section(profile, "eval.batch_size")}
    path = artifacts.stage_dir(profile.name, "teacher-own-test", key) / "test.run"
    if not path.is_file():
        test = splits(profile).test
        ranker = load(own_teacher(profile).model_dir)
        run = rerank(ranker, test, candidates=profile.data.candidates, depth=profile.data.rerank_depth,
                     batch_size=profile.eval.batch_size)
        write_run(run, path, tag="own-teacher")
    return read_run(path)


def untrained(profile: Profile, arch: str) -> dict[str, float]:
    """A student's starting point: the freshly built model (pre-trained encoder, new heads
    initialised with the students' seed) re-ranking the test candidates, untrained.

    Recorded in results.csv as teacher ``untrained``, loss ``none``; the run is cached.
    """
    from kdlib.evaluate import evaluate

    test = splits(profile).test
    metrics = evaluate(untrained_run(profile, arch), test.qrels, profile.eval.measures)
    record_results(profile, [{"dataset": profile.data.test, "arch": arch, "teacher": "untrained", "loss": "none",
                              "measure": m, "value": v} for m, v in metrics.items()])
    return metrics


def _untrained_key(profile: Profile, arch: str) -> dict[str, Any]:
    return {**_section(profile, "data", "student.encoder", "train.seed", "train.dropout", "eval.batch_size"),
            "arch": arch, "options": dict(profile.student.options.get(arch, {}))}


def untrained_run(profile: Profile, arch: str) -> dict[str, dict[str, float]]:
    """The untrained student's test run (see :func:`untrained`)."""
    from kdlib.data import read_run, write_run
    from kdlib.rerank import rerank
    from kdlib.train.pipeline import build_student

    path = artifacts.stage_dir(profile.name, "untrained", _untrained_key(profile, arch)) / "test.run"
    if not path.is_file():
        test = splits(profile).test
        ranker = build_student(profile, arch)
        run = rerank(ranker, test, candidates=profile.data.candidates, depth=profile.data.rerank_depth,
                     batch_size=profile.eval.batch_size)
        write_run(run, path, tag=f"{arch}-untrained")
    return read_run(path)


def starting_points(profile: Profile) -> dict[str, dict[str, float]]:
    """Every student architecture's untrained measures (see :func:`untrained`)."""
    return {arch: untrained(profile, arch) for arch in profile.student.architectures}


def test_run(profile: Profile, arch: str, teacher: str, loss: str) -> dict[str, dict[str, float]]:
    """The test run behind any row of results.csv: BM25, a teacher, an untrained or trained student."""
    test = splits(profile).test
    if arch == "bm25":
        return {q: dict(r) for q, r in test.runs[profile.data.candidates].items()}
    if arch == "teacher":
        return own_teacher_run(profile) if teacher == "own" else published_teacher_run(profile, teacher, test)
    if teacher == "untrained":
        return untrained_run(profile, arch)
    from kdlib.data import read_run

    return read_run(student(profile, arch, teacher, loss).run_path)


def per_query(profile: Profile, rows: Sequence[tuple[str, str, str]], measure: str = "nDCG@10") -> pd.DataFrame:
    """Per-query values of ``measure`` for result rows ``(arch, teacher, loss)``.

    Returns:
        A frame indexed by qid with one column per row, named ``arch/teacher/loss``.
    """
    from kdlib.evaluate import evaluate_per_query

    qrels = splits(profile).test.qrels
    columns = {}
    for arch, teacher, loss in rows:
        values = evaluate_per_query(test_run(profile, arch, teacher, loss), qrels, [measure])
        columns[f"{arch}/{teacher}/{loss}"] = values.set_index("qid")["value"]
    return pd.DataFrame(columns)


def test_label_pairs(profile: Profile, *, max_triples: int = 400):
    """Label triples of the test queries (one negative per positive), for score statistics only."""
    from kdlib.data import sample_label_triples

    test = splits(profile).test
    triples = sample_label_triples(test, test.judged_qids(), negatives_per_positive=1,
                                   positive_min_grade=profile.data.positive_min_grade,
                                   candidates=profile.data.candidates, depth=profile.data.rerank_depth,
                                   seed=profile.data.seed)
    return test, triples[:max_triples]


def score_samples_key(profile: Profile) -> dict[str, Any]:
    """One student key per baseline, with its own architecture options: changing an option of
    one architecture retrains that baseline, so the scores sampled from it are recomputed too."""
    return {arch: student_key(profile, arch, "baseline", "ranknet") for arch in profile.student.architectures}


def score_samples(profile: Profile) -> pd.DataFrame:
    """Raw scores of every baseline student on test label triples (arch, kind, triple, score)."""
    path = artifacts.stage_dir(profile.name, "score-samples", score_samples_key(profile)) / "scores.csv"

    def compute() -> pd.DataFrame:
        test, triples = test_label_pairs(profile)
        queries = [test.queries[t.qid] for t in triples]
        rows = []
        for arch, run in baseline_runs(profile).items():
            ranker = run.load_model()
            for kind, pids in (("positive", [t.pos_pid for t in triples]), ("negative", [t.neg_pid for t in triples])):
                scores = ranker.score(queries, [test.passages[p] for p in pids], batch_size=profile.eval.batch_size)
                rows += [{"arch": arch, "kind": kind, "triple": i, "score": float(s)} for i, s in enumerate(scores)]
        return pd.DataFrame(rows)

    return _cached_frame(path, compute)


def score_statistics(profile: Profile) -> pd.DataFrame:
    """Per architecture: mean / std of positive and negative raw scores and the mean margin."""
    samples = score_samples(profile)
    wide = samples.pivot_table(index=["arch", "triple"], columns="kind", values="score").reset_index()
    wide["margin"] = wide["positive"] - wide["negative"]
    stats = wide.groupby("arch", sort=False).agg(
        mean_pos=("positive", "mean"), std_pos=("positive", "std"),
        mean_neg=("negative", "mean"), std_neg=("negative", "std"),
        mean_margin=("margin", "mean"), std_margin=("margin", "std"),
        positive_margin_share=("margin", lambda m: float((m > 0).mean())),
    )
    return stats.reindex([a for a in profile.student.architectures if a in stats.index]).reset_index()


def latency(profile: Profile) -> pd.DataFrame:
    """Query latency of every architecture (baseline weights; latency does not depend on them).

    One row per architecture (median and p95 ms); :func:`latency_per_query` has every timed query.
    """
    return pd.read_csv(_latency_files(profile)[0])


def latency_per_query(profile: Profile) -> pd.DataFrame:
    """Per timed query and architecture: ``arch``, ``qid``, ``ms`` (the median of its repeats)."""
    return pd.read_csv(_latency_files(profile)[1], dtype={"qid": str})


def _latency_files(profile: Profile) -> tuple[Path, Path]:
    from kdlib.latency import latency_table, measure_latency
    from kdlib.rerank import candidate_lists

    key = {**_section(profile, "data", "student.encoder", "eval"), "archs": list(profile.student.architectures),
           "options": {a: dict(profile.student.options.get(a, {})) for a in profile.student.architectures},
           "per_query": True}
    out = artifacts.stage_dir(profile.name, "latency", key)
    table_path, per_query_path = out / "latency.csv", out / "latency_per_query.csv"
    if table_path.is_file() and per_query_path.is_file():
        return table_path, per_query_path
    with artifacts.stage_lock(out):
        if not (table_path.is_file() and per_query_path.is_file()):
            test = splits(profile).test
            lists, _ = candidate_lists(test, candidates=profile.data.candidates, depth=profile.data.rerank_depth)
            qids = list(lists)[: profile.eval.latency_queries] if profile.eval.latency_queries else list(lists)
            results, rows = [], []
            for arch, run in baseline_runs(profile).items():
                result = measure_latency(run.load_model(), test, candidates=profile.data.candidates,
                                         depth=profile.data.rerank_depth, qids=qids,
                                         repeats=profile.eval.latency_repeats)
                results.append(result)
                rows += [{"arch": arch, "qid": q, "ms": float(ms)} for q, ms in zip(result.qids, result.per_query_ms)]
            _write_frame(per_query_path, pd.DataFrame(rows))
            _write_frame(table_path, latency_table(results).reset_index(drop=True))
    return table_path, per_query_path


def _dense_stage(profile: Profile) -> tuple[list[str], Path]:
    """The BERT_DOT students' teachers (baseline, T1, T2) and the dense stage's directory."""
    teachers = [t for t in ("baseline", "T1", "T2") if t in profile.student.teachers]
    key = {"students": [student_key(profile, "bert_dot", t, "ranknet" if t == "baseline" else profile.student.loss)
                        for t in teachers], "eval": _section(profile, "eval")}
    return teachers, artifacts.stage_dir(profile.name, "dense", key)


def dense(profile: Profile) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dense retrieval with the BERT_DOT students (baseline, T1, T2) over the test corpus.

    Returns:
        ``(measures, stats)``: rows (teacher, index, measure, value), and per (teacher, index)
        the index size, build time, query time and corpus size.
    """
    from kdlib.dense import dense_retrieval
    from kdlib.evaluate import evaluate

    teachers, out_dir = _dense_stage(profile)
    measures_path, stats_path = out_dir / "measures.csv", out_dir / "stats.csv"
    per_query_path = out_dir / "per_query.csv"
    if measures_path.is_file() and stats_path.is_file() and per_query_path.is_file():
        return pd.read_csv(measures_path), pd.read_csv(stats_path)
    from kdlib.evaluate import evaluate_per_query

    test = splits(profile).test
    corpus = fullscale.dense_corpus(profile, test)
    measure_rows, stat_rows, query_rows = [], [], []
    for teacher in teachers:
        run = student(profile, "bert_dot", teacher, "ranknet" if teacher == "baseline" else profile.student.loss)
        result = dense_retrieval(run.load_model(), test, corpus, index_kinds=profile.eval.dense_index,
                                 k=min(1000, len(corpus)), batch_size=profile.eval.batch_size)
        for kind, dense_run in result.runs.items():
            for m, v in evaluate(dense_run, test.qrels, profile.eval.measures).items():
                measure_rows.append({"teacher": teacher, "index": kind, "measure": m, "value": v})
            for r in evaluate_per_query(dense_run, test.qrels, profile.eval.measures).itertuples():
                query_rows.append({"teacher": teacher, "index": kind, "qid": r.qid, "measure": r.measure,
                                   "value": r.value})
            stat_rows.append({"teacher": teacher, "index": kind, "passages": result.n_passages, "dim": result.dim,
                              "index_mb": result.index_bytes[kind] / 2**20,
                              "build_s": result.build_seconds[kind],
                              "search_ms_per_query": result.search_ms_per_query[kind],
                              "query_encode_ms": result.query_encode_ms_per_query,
                              "corpus_encode_s": result.encode_seconds})
    measures, stats = pd.DataFrame(measure_rows), pd.DataFrame(stat_rows)
    _write_frame(per_query_path, pd.DataFrame(query_rows))
    _write_frame(measures_path, measures)
    _write_frame(stats_path, stats)
    return measures, stats
