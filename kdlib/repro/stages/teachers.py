"""Teacher stages: our own BERT_CAT teacher, the teacher files students distil from, and
the teachers re-ranking the test candidates.

- ``own_teacher``: our BERT_CAT teacher (RankNet on label triples), a training run directory.
- ``own_teacher_run``: it re-ranking the test candidates (``test.run``).
- ``teacher_file``: a setting's scores of the students' triples, in the published format
  (``pos_score neg_score qid pos_pid neg_pid``); published members, or our own teacher.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from kdlib.core.profiles import Profile
from kdlib.repro.settings import OWN_MEMBER, TeacherSetting, setting
from kdlib.repro.splits import rerank_test, splits
from kdlib.repro.stage import Call, stage

TEACHER_FILE = "teacher_scores.tsv"
TEST_RUN = "test.run"
#: Sections that choose the students' training triples: the data, and the published members
#: whose scored queries and pairs they are restricted to (:mod:`kdlib.train.pipeline`).
#: At full scale the published teacher files (URL, md5) are what students distil from.
TRIPLE_SECTIONS = ("data", "teacher.t1", "teacher.t2", "teacher.unscored", "teacher.published_files")
#: Teacher-file lines read into :func:`teacher_scores` (every line of the embedded profiles' files).
TEACHER_SAMPLE_LINES = 1_000_000


@stage("own_teacher", sections=("data", "teacher.own_encoder", "teacher.own_train"))
def _train_own_teacher(profile: Profile, out: Path) -> None:
    from kdlib.train import train_own_teacher

    train_own_teacher(profile, out, progress=False)


def own_teacher(profile: Profile):
    """Train (once) our own BERT_CAT teacher; returns its :class:`kdlib.train.TrainResult`."""
    from kdlib.train.result import TrainResult

    return TrainResult.read(_train_own_teacher.run(profile) / "DONE.json")


@stage("own_teacher_run", sections=("data", "eval.batch_size"), depends_on=("own_teacher",),
       upstream=lambda profile: [Call.of("own_teacher")])
def _rerank_own_teacher(profile: Profile, out: Path) -> None:
    from kdlib.data import write_run
    from kdlib.models import load

    write_run(rerank_test(profile, load(own_teacher(profile).model_dir)), out / TEST_RUN, tag="own-teacher")


def own_teacher_run(profile: Profile) -> dict[str, dict[str, float]]:
    """Our own BERT_CAT teacher re-ranking the test candidates (cached as a TREC run)."""
    from kdlib.data import read_run

    return read_run(_rerank_own_teacher.run(profile) / TEST_RUN)


def _teacher_file_upstream(profile: Profile, teacher: TeacherSetting) -> list[Call]:
    return [Call.of("own_teacher")] if OWN_MEMBER in teacher.members else []


@stage("teacher_file", sections=(*TRIPLE_SECTIONS, "teacher.normalisation", "teacher.scale"),
       depends_on=("own_teacher",), upstream=_teacher_file_upstream)
def _write_teacher_file(profile: Profile, out: Path, teacher: TeacherSetting) -> None:
    from kdlib.data import training_origins, write_teacher_scores
    from kdlib.teacher import published_teacher_scores, score_triples
    from kdlib.train.pipeline import distillation_triples

    dataset, triples = distillation_triples(profile)
    path = out / TEACHER_FILE
    if teacher.is_own:
        score_triples([own_teacher(profile).model_dir], triples, path, dataset=dataset,
                      batch_size=profile.eval.batch_size, device=profile.device, progress=False)
    elif teacher.normalised:
        # Each training dataset standardised on its own: a run's scale differs between years.
        records = published_teacher_scores(dataset, triples, list(teacher.members),
                                           normalisation=profile.teacher.normalisation, scale=profile.teacher.scale,
                                           groups=training_origins(profile.data))
        write_teacher_scores(records, path)
    else:
        raise ValueError(f"teacher {teacher.name} cannot mix published runs and our own model: {teacher.members}")


def teacher_file(profile: Profile, teacher: str | TeacherSetting) -> Path:
    """The teacher's scores of the students' triples, in the published format (cached); at full
    scale, the published file itself (downloaded and checked once)."""
    from kdlib.teacher.files import published_file, uses_teacher_files

    chosen = setting(profile, teacher)
    if uses_teacher_files(profile) and not chosen.is_own:
        return published_file(profile, chosen.name)
    return _write_teacher_file.run(profile, teacher=chosen) / TEACHER_FILE


def teacher_scores(profile: Profile, teacher: str | TeacherSetting) -> pd.DataFrame:
    """A teacher file read back: columns pos_score, neg_score, qid, pos_pid, neg_pid, margin."""
    import itertools

    from kdlib.data import read_teacher_scores
    from kdlib.teacher.files import teacher_file_limit

    # A published file has a line per official triple (40M): the statistics read the prefix
    # the students train on, at most TEACHER_SAMPLE_LINES.
    limit = min(TEACHER_SAMPLE_LINES, teacher_file_limit(profile) or TEACHER_SAMPLE_LINES)
    lines = itertools.islice(read_teacher_scores(teacher_file(profile, teacher)), limit)
    frame = pd.DataFrame(lines, columns=["pos_score", "neg_score", "qid", "pos_pid", "neg_pid"])
    frame["margin"] = frame["pos_score"] - frame["neg_score"]
    return frame


def raw_member_scores(profile: Profile) -> pd.DataFrame:
    """Raw (un-normalised) scores of every published member on the students' triples.

    Columns: teacher, kind (positive / negative), score, imputed_pairs, pairs.
    """
    from kdlib.teacher import member_scores
    from kdlib.teacher.files import uses_teacher_files
    from kdlib.teacher.members import published_members
    from kdlib.train.pipeline import distillation_triples

    if uses_teacher_files(profile):  # the files hold the ensemble's scores, not its members'
        return pd.DataFrame(columns=["teacher", "kind", "score", "imputed_pairs", "pairs"])
    dataset, triples = distillation_triples(profile)
    rows = []
    for member in published_members(profile):
        scores = member_scores(dataset, triples, member)
        # Only the triples of queries the member ranked (elsewhere it takes no part).
        for kind, values in (("positive", scores.pos[scores.covered]), ("negative", scores.neg[scores.covered])):
            rows += [{"teacher": member, "kind": kind, "score": float(v),
                      "imputed_pairs": scores.imputed, "pairs": 2 * int(scores.covered.sum())} for v in values]
    return pd.DataFrame(rows)


def teacher_coverage(profile: Profile) -> pd.DataFrame:
    """How much of the distillation triples each published member really scored.

    One row per member: ``queries`` (training queries its run ranked), ``pairs`` (two per
    triple of those queries), ``scored`` (pairs in the member's run), ``imputed`` (the rest:
    given the query's lowest score with ``teacher.unscored: query_min``), ``share_scored``, and
    ``triples_fully_scored`` (both passages scored). A member takes no part in the queries its
    run did not rank (:mod:`kdlib.teacher.published`).
    """
    from kdlib.teacher.files import uses_teacher_files
    from kdlib.teacher.members import published_members
    from kdlib.train.pipeline import distillation_triples

    if uses_teacher_files(profile):  # the files score every triple; no member runs
        return pd.DataFrame(columns=["member", "queries", "pairs", "scored", "imputed", "share_scored",
                                     "triples_fully_scored"])
    dataset, all_triples = distillation_triples(profile)
    rows = []
    for member in published_members(profile):
        run = dataset.runs[member]
        triples = [t for t in all_triples if run.get(t.qid)]
        if not triples:
            continue
        pos = [t.pos_pid in run.get(t.qid, {}) for t in triples]
        neg = [t.neg_pid in run.get(t.qid, {}) for t in triples]
        scored = sum(pos) + sum(neg)
        rows.append({"member": member, "queries": len({t.qid for t in triples}), "pairs": 2 * len(triples), "scored": scored,
                     "imputed": 2 * len(triples) - scored, "share_scored": scored / (2 * len(triples)),
                     "triples_fully_scored": sum(p and n for p, n in zip(pos, neg)) / len(triples)})
    return pd.DataFrame(rows)


def published_teacher_run(profile: Profile, teacher: str | TeacherSetting, dataset=None,
                          depth: int | None = None) -> dict[str, dict[str, float]]:
    """A published teacher setting (T1 or T2) re-ranking the test candidates (or ``dataset``'s,
    ``depth`` of them, default ``data.rerank_depth``), built as its teacher files are
    (:func:`kdlib.teacher.published.published_teacher_ranking`)."""
    from kdlib.eval.rerank import candidate_lists
    from kdlib.teacher.published import published_teacher_ranking

    dataset = dataset if dataset is not None else splits(profile).test
    lists, _ = candidate_lists(dataset, candidates=profile.data.candidates, depth=depth or profile.data.rerank_depth)
    return published_teacher_ranking(dataset, lists, setting(profile, teacher).members,
                                     normalisation=profile.teacher.normalisation, scale=profile.teacher.scale)


def score_ranges(profile: Profile) -> pd.DataFrame:
    """Every published member's raw scores and every teacher setting's scores as its students
    see them (columns teacher, score, stage: ``raw`` or ``normalised``), for chapter 3."""
    from kdlib.repro.matrix import distilling_settings

    frames = [raw_member_scores(profile)[["teacher", "score"]].assign(stage="raw")]
    for teacher in distilling_settings(profile):
        if teacher.unscored != profile.teacher.unscored:
            continue  # the imputation ablation: its teacher's scores again, on fewer triples
        frame = teacher_scores(profile, teacher)
        frames.append(pd.DataFrame({"teacher": teacher.name, "score": pd.concat([frame.pos_score, frame.neg_score]),
                                    "stage": "normalised" if teacher.normalised else "raw"}))
    return pd.concat(frames, ignore_index=True)
