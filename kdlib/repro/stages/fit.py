"""A student's fit: how well it ranks its own training queries, beside its teacher and BM25.

Test effectiveness alone cannot say *why* a student is weak. Its fit can: nDCG@10 of the
trained student re-ranking the candidates of the very queries it was trained on (those every
member of T2 scored, so that the teachers can be measured on them too), at the validation
depth (the BM25 top-30 in the embedded profile).

- far below its teacher on its own training queries: it has not learned what it was shown
  (capacity, optimisation, too few steps);
- at its teacher's level there but not on new queries: it has memorised its training queries,
  and only more queries, not more steps, can help.

Stages: ``student_fit`` (one cell's run over the fit queries, ``fit.run``). The teachers' and
BM25's fit need no model and are computed on demand.

Only the embedded pack has runs for its training queries; at full scale (official triples,
published teacher files) there are no fit queries and nothing is measured.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from kdlib.core.profiles import Profile
from kdlib.repro.settings import BM25_ARCH, T1, T2, TeacherSetting, setting
from kdlib.repro.splits import splits
from kdlib.repro.stage import stage
from kdlib.repro.stages.students import same_student, student_training

#: The measure a fit is reported in (the book's headline measure).
FIT_MEASURE = "nDCG@10"
FIT_RUN = "fit.run"


def fit_queries(profile: Profile) -> list[str]:
    """Judged training queries that every member of T2 has a run for (none at full scale)."""
    if profile.data.trains_on_official_triples:
        return []
    train = splits(profile).train
    members = setting(profile, T2).members
    return [q for q in train.judged_qids() if all(q in train.runs.get(m, {}) for m in members)]


def fit_dataset(profile: Profile) -> Any:
    """The training split restricted to :func:`fit_queries`."""
    return splits(profile).train.subset(fit_queries(profile))


def fit_depth(profile: Profile) -> int:
    """Candidates re-ranked per fit query: the validation depth (cheap, and as validation is judged)."""
    return profile.data.validation_depth or profile.data.rerank_depth


def first_stage_run(profile: Profile, dataset: Any, depth: int) -> dict[str, dict[str, float]]:
    """The first-stage run (``data.candidates``) of ``dataset``, its top ``depth`` per query, as
    the students re-rank them (:func:`kdlib.eval.rerank.candidate_lists`)."""
    from kdlib.eval.rerank import candidate_lists

    lists, _ = candidate_lists(dataset, candidates=profile.data.candidates, depth=depth)
    run = dataset.runs[profile.data.candidates]
    return {q: {pid: run[q][pid] for pid in pids} for q, pids in lists.items()}


def measure(run: Mapping[str, Mapping[str, float]], dataset: Any, qids: Sequence[str]) -> float:
    """:data:`FIT_MEASURE` of ``run`` over ``qids`` (judged queries of ``dataset``)."""
    from kdlib.eval.measures import evaluate

    return evaluate({q: run[q] for q in qids if q in run}, {q: dataset.qrels[q] for q in qids},
                    [FIT_MEASURE])[FIT_MEASURE]


@stage("student_fit", sections=("data", "teacher.t2", "eval.batch_size"), depends_on=("student",),
       upstream=same_student)
def _rerank_fit(profile: Profile, out: Path, arch: str, teacher: TeacherSetting, loss: str) -> None:
    from kdlib.data import write_run
    from kdlib.eval.rerank import rerank
    from kdlib.models import load
    from kdlib.train.result import TrainResult

    trained = TrainResult.read(student_training.run(profile, arch=arch, teacher=teacher, loss=loss) / "DONE.json")
    run = rerank(load(trained.model_dir), fit_dataset(profile), candidates=profile.data.candidates,
                 depth=fit_depth(profile), batch_size=profile.eval.batch_size)
    write_run(run, out / FIT_RUN, tag=f"{arch}-{teacher.name}-{loss}-fit")


def student_fit(profile: Profile, arch: str, teacher: str | TeacherSetting, loss: str) -> float | None:
    """The trained cell's :data:`FIT_MEASURE` on its training queries (``None``: no fit queries).

    The student is the one the book evaluates (best by validation); training runs once, cached.
    """
    from kdlib.data import read_run

    qids = fit_queries(profile)
    if not qids:
        return None
    chosen = setting(profile, teacher)
    run = read_run(_rerank_fit.run(profile, arch=arch, teacher=chosen, loss=loss) / FIT_RUN)
    return measure(run, fit_dataset(profile), qids)


def reference_fit(profile: Profile) -> dict[str, float]:
    """BM25 and every published teacher setting on the fit queries (empty: no fit queries).

    Keys: ``bm25`` and the teacher names (``T1``, ``T2``), each re-ranking the same
    candidates as the students.
    """
    from kdlib.repro.stages.teachers import published_teacher_run

    qids = fit_queries(profile)
    if not qids:
        return {}
    data = fit_dataset(profile)
    depth = fit_depth(profile)
    out = {BM25_ARCH: measure(first_stage_run(profile, data, depth), data, qids)}
    for name in (T1, T2):
        out[name] = measure(published_teacher_run(profile, name, dataset=data, depth=depth), data, qids)
    return out


def fit_table(profile: Profile) -> "pd.DataFrame":
    """Every trained cell's fit: columns ``arch``, ``teacher``, ``loss``, ``fit`` (empty without fit queries)."""
    import pandas as pd

    from kdlib.repro.matrix import cells

    if not fit_queries(profile):
        return pd.DataFrame(columns=["arch", "teacher", "loss", "fit"])
    return pd.DataFrame([{"arch": c.arch, "teacher": c.teacher, "loss": c.loss,
                          "fit": student_fit(profile, c.arch, c.teacher, c.loss)} for c in cells(profile)])
