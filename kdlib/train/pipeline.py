"""Profile in, trained model out: what the CLI and the notebooks call.

Which triples each run sees (so that the matrix compares like with like):

- the training queries are those every configured published teacher can score: the single
  teacher's (``teacher.t1``) run ranked them and at least one ``teacher.t2`` member's did (a
  member takes no part in a query it did not rank, :mod:`kdlib.teacher.published`). In the
  embedded pack: TREC DL 2020 and 2021 (judged) and TREC DL 2022 (no judgements), all ranked
  by SPLADE++; RepLLaMA and TAS-B ranked TREC DL 2020 only;
- ``data.train_queries`` keeps a seeded subset of them, judged queries first, so that a size
  up to the number of judged queries trains on judged queries only (the label-only
  baseline's queries at that size);
- the label-only baseline trains on the *label triples* of the judged queries
  (:func:`student_triples`), all of them: it needs no teacher;
- every distilled student, whatever its teacher, trains on the *same* distillation triples
  (:func:`distillation_triples`): those label triples plus ``data.candidate_pairs_per_query``
  pairs of each training query's candidates, judged or not, which only a teacher can label
  (the paper's point: Margin-MSE learns from any two passages a teacher scored). With
  ``teacher.unscored: drop`` they keep only label triples and pairs whose passages every
  published member that ranked the query scored: no pair gets an imputed score;
- our own BERT_CAT teacher trains with RankNet on the label triples of *all* judged training
  queries.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Collection, Sequence

from kdlib.core.errors import ConfigError
from kdlib.core.profiles import Profile
from kdlib.data.datasets import qid_sort_key
from kdlib.data.examples import TrainingExample
from kdlib.data.sources import official_examples, official_triples
from kdlib.teacher.files import teacher_file_limit
from kdlib.teacher.members import OWN_MEMBER, published_members
from kdlib.train.result import TrainResult
from kdlib.train.validation import Validation


def _splits(profile: Profile):
    from kdlib.data import training_splits

    return training_splits(profile.data)


def sampled_label_triples(profile: Profile, dataset: Any, qids: Sequence[str]) -> list:
    """Label triples of ``qids`` sampled from ``dataset``'s judgements and candidates (``data`` settings)."""
    from kdlib.data import sample_label_triples

    return sample_label_triples(
        dataset, qids, negatives_per_positive=profile.data.negatives_per_positive,
        positive_min_grade=profile.data.positive_min_grade, candidates=profile.data.candidates,
        depth=profile.data.rerank_depth, seed=profile.data.seed,
    )


def to_examples(dataset: Any, triples: Sequence[Any]) -> Sequence[TrainingExample]:
    """Label-only examples (no teacher scores) from id triples; held by id when the passages
    come from a docs store (full scale), with their texts otherwise."""
    from kdlib.data.id_examples import IdTripleExamples, holds_texts_lazily
    from kdlib.data.teacher_stream import fetch_texts

    if holds_texts_lazily(dataset.passages):
        return IdTripleExamples.from_triples(triples, dataset.queries, dataset.passages)

    # One batched look-up (a docs store's get_many at full scale), not one per passage.
    texts = fetch_texts(dataset.passages, {pid for t in triples for pid in (t.pos_pid, t.neg_pid)})
    return [TrainingExample(dataset.queries[t.qid], texts[t.pos_pid], texts[t.neg_pid]) for t in triples]


def training_query_subset(qids: Sequence[str], size: int | None, seed: int, *,
                          first: Collection[str] = ()) -> list[str]:
    """The first ``size`` of ``qids`` in one seeded order (``None``: all): a smaller size keeps a
    subset of a larger one's queries, so training-set sizes compare nested query sets.

    ``first`` (e.g. the judged queries) lead the order: a size up to their number keeps only
    them, and a larger one adds the others.
    """
    if size is None or size >= len(qids):
        return list(qids)
    order = sorted(qids, key=qid_sort_key)
    random.Random(seed).shuffle(order)
    leading = set(first)
    order.sort(key=lambda q: q not in leading)  # stable: the seeded order within each part
    kept = set(order[:size])
    return [q for q in qids if q in kept]


def teacher_covered(profile: Profile, dataset: Any, qids: Sequence[str]) -> list[str]:
    """The queries of ``qids`` every published teacher setting can score (module docstring):
    T1's run ranked them, and at least one T2 member's did. Our own teacher scores any query."""
    teachers = [[profile.teacher.t1], list(profile.teacher.t2)]
    published = [[m for m in members if m != OWN_MEMBER] for members in teachers]
    return [q for q in qids
            if all(any(dataset.runs.get(m, {}).get(q) for m in members) for members in published if members)]


def training_query_ids(profile: Profile, dataset: Any | None = None) -> list[str]:
    """The students' training queries (module docstring): judged and unjudged ones a teacher
    scored, reduced to ``data.train_queries`` of them (judged first)."""
    from kdlib.data import training_qids

    if profile.data.trains_on_official_triples:  # the queries of the official triples (full scale)
        return sorted({t.qid for t in student_triples(profile)[1]}, key=qid_sort_key)
    train = dataset if dataset is not None else _splits(profile).train
    qids = teacher_covered(profile, train, training_qids(train))
    if not qids:
        raise ConfigError(f"no training query is covered by the published teachers {published_members(profile)}")
    return training_query_subset(qids, profile.data.train_queries, profile.data.seed, first=train.judged_qids())


def student_triples(profile: Profile) -> tuple[Any, list]:
    """``(train dataset, triples)``: the label triples of the judged training queries, which
    the label-only baseline trains on, unfiltered by ``teacher.unscored`` (module docstring)."""
    splits = _splits(profile)
    train = splits.train
    if profile.data.trains_on_official_triples:
        return train, official_triples(profile.data, train)
    judged = set(train.judged_qids())
    qids = [q for q in training_query_ids(profile, train) if q in judged]
    if not qids:
        raise ConfigError(f"no judged training query is covered by the published teachers {published_members(profile)}")
    triples = sampled_label_triples(profile, train, qids)  # shuffled with data.seed
    if profile.data.max_train_triples is not None:
        triples = triples[: profile.data.max_train_triples]
    return train, triples


def distillation_triples(profile: Profile) -> tuple[Any, list]:
    """``(train dataset, triples)`` every distilled student trains on (module docstring)."""
    from kdlib.data import sample_candidate_pairs

    # Label triples are filtered by teacher.unscored here (the baseline needs no teacher and
    # keeps them all); candidate pairs are drawn from passages every member scored (scored_by).
    dataset, triples = student_triples(profile)
    if profile.data.trains_on_official_triples:
        return dataset, triples
    triples = _drop_unscored(profile, dataset, triples)
    if profile.data.candidate_pairs_per_query > 0:
        triples = triples + sample_candidate_pairs(
            dataset, training_query_ids(profile, dataset), pairs_per_query=profile.data.candidate_pairs_per_query,
            candidates=profile.data.candidates, depth=profile.data.rerank_depth,
            scored_by=_scored_by(profile), seed=profile.data.seed + 1)
        random.Random(profile.data.seed).shuffle(triples)
    if not triples:
        raise ConfigError(f"teacher.unscored=drop leaves no triple every member of {_scored_by(profile)} scored")
    return dataset, triples


def _scored_by(profile: Profile) -> list[str]:
    return published_members(profile) if profile.teacher.unscored == "drop" else []


def _drop_unscored(profile: Profile, dataset: Any, triples: list) -> list:
    members = _scored_by(profile)
    if not members:
        return triples
    runs = [dataset.runs[m] for m in members]
    # A member that did not rank the query takes no part in it (module docstring).
    return [t for t in triples
            if all(t.pos_pid in r[t.qid] and t.neg_pid in r[t.qid] for r in runs if r.get(t.qid))]


def label_examples(profile: Profile, split: str = "train") -> list[TrainingExample]:
    """Label triples of all judged queries of ``split`` (``train`` or ``validation``) as examples."""
    splits = _splits(profile)
    if split not in ("train", "validation"):
        raise ValueError(f"split must be train or validation (never test), got {split!r}")
    dataset = getattr(splits, split)
    if split == "train" and profile.data.trains_on_official_triples:
        return official_examples(profile.data, dataset)
    return to_examples(dataset, sampled_label_triples(profile, dataset, dataset.judged_qids()))


def make_validation(profile: Profile, *, depth: int | None = None) -> Validation:
    """nDCG@10 re-ranking of the held-out validation queries' candidates."""
    validation = _splits(profile).validation
    depth = depth or profile.data.validation_depth or profile.data.rerank_depth
    return Validation(validation, qids=validation.judged_qids(), candidates=profile.data.candidates,
                      depth=depth, batch_size=profile.eval.batch_size)


def _build(arch: str, encoder: Any, profile: Profile, dropout: float, options: dict, seed: int) -> Any:
    import torch

    from kdlib.models import build

    # Seeded so that the randomly initialised heads are the same in every run of the matrix.
    torch.manual_seed(seed)
    return build(arch, encoder.name, num_layers=encoder.num_layers, query_max_len=profile.data.query_max_len,
                 passage_max_len=profile.data.passage_max_len, dropout=dropout, attn_implementation="eager",
                 **options)


def build_student(profile: Profile, arch: str, *, dropout: float | None = None) -> Any:
    """A student as it starts training: the profile's encoder, heads seeded with ``train.seed``."""
    options = dict(profile.student.options.get(arch, {}))
    dropout = profile.train.dropout if dropout is None else dropout
    return _build(arch, profile.student.encoder, profile, dropout, options, profile.train.seed)


def train_student(
    profile: Profile,
    arch: str,
    loss_name: str,
    *,
    teacher_scores: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    validation_depth: int | None = None,
    **train_kwargs: Any,
) -> TrainResult:
    """Train student ``arch`` with ``loss_name`` on the matrix's triples.

    Args:
        profile: the configuration (``student``, ``train``, ``data``).
        arch: one of :data:`kdlib.models.ARCHITECTURES`.
        loss_name: a :mod:`kdlib.losses` name (``ranknet`` for the baseline).
        teacher_scores: a teacher file (published format) for distillation losses; its
            triples (:func:`distillation_triples`) are the training data. ``None``: label
            triples of :func:`student_triples`, without scores.
        out_dir: the run directory.
        validation_depth: candidates per validation query (default ``data.validation_depth``,
            else ``data.rerank_depth``).
        **train_kwargs: passed on to :func:`kdlib.train.train`.
    """
    from kdlib import losses
    from kdlib.train.loop import train

    loss = losses.get(loss_name)
    if teacher_scores is not None:
        from kdlib.data.id_examples import IdTripleExamples, holds_texts_lazily
        from kdlib.teacher import read_examples_from_teacher_file

        train_split = _splits(profile).train
        limit = teacher_file_limit(profile)
        if holds_texts_lazily(train_split.passages):  # full scale: up to 40M lines, held by id
            examples = IdTripleExamples.from_teacher_file(teacher_scores, train_split.queries, train_split.passages,
                                                          limit=limit)
        else:
            examples = read_examples_from_teacher_file(teacher_scores, train_split, limit=limit)
    elif getattr(loss, "requires_teacher", False):
        raise ConfigError(f"loss {loss_name!r} needs teacher scores: pass --teacher-scores FILE")
    elif profile.data.trains_on_official_triples:  # streamed into id arrays, never a list of 16M
        examples = official_examples(profile.data, _splits(profile).train)
    else:
        dataset, triples = student_triples(profile)
        examples = to_examples(dataset, triples)
    ranker = build_student(profile, arch)
    return train(ranker, loss, examples, profile.train, out_dir,
                 validation=make_validation(profile, depth=validation_depth), device=profile.device, **train_kwargs)


def train_own_teacher(
    profile: Profile, out_dir: str | os.PathLike, *, validation_depth: int | None = None, **train_kwargs: Any
) -> TrainResult:
    """Train our own BERT_CAT teacher (RankNet, ``teacher.own_encoder`` / ``teacher.own_train``)
    on the label triples of all training queries."""
    from kdlib import losses
    from kdlib.train.loop import train

    config = profile.teacher.own_train
    ranker = _build("bert_cat", profile.teacher.own_encoder, profile, config.dropout, {}, config.seed)
    return train(ranker, losses.get("ranknet"), label_examples(profile, "train"), config, Path(out_dir),
                 validation=make_validation(profile, depth=validation_depth), device=profile.device, **train_kwargs)
