"""Why a claim may fail at a small scale: what differs from the paper's setting, by claim.

The book prints the note of every tested claim our runs do not reproduce (verdict *consistent*
or *not reproduced*, :data:`NOTED`), on each test set. The notes are templates: the sizes in
them (training and test queries, training steps) come from the profile that produced the runs
and from the test set (:class:`Scale`), never from a number written here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from kdlib.repro.claims.verdicts import ClaimCheck, Verdict

#: The verdicts a note explains: every tested claim that is not reproduced.
NOTED: tuple[Verdict, ...] = (Verdict.CONSISTENT, Verdict.NOT_REPRODUCED)


@dataclass(frozen=True)
class Scale:
    """The sizes a profile trains and tests at."""

    #: Queries the students' training triples come from (``None``: the official triples).
    train_queries: int | None
    #: Judged queries of the test set every paired test runs over.
    test_queries: int
    student_steps: int
    #: Queries our own BERT_CAT teacher trains on, and its steps.
    own_teacher_queries: int
    own_teacher_steps: int
    #: Judged training queries (the label-only baseline's; claim 2 compares on them).
    judged_queries: int | None = None
    #: Mean judged passages per judged training query.
    judgements_per_query: float | None = None
    #: ``teacher.unscored``: ``drop`` (no imputed pairs) or ``query_min``.
    unscored: str = "query_min"
    #: Whether the profile trains our own teacher (claim 4's reference; else T1 itself).
    own_teacher: bool = True
    #: T1's member and T2's members (published run names).
    t1: str = "T1"
    t2: tuple[str, ...] = ()
    #: Training queries on which T2 has a member besides T1's (elsewhere T2 is T1 alone);
    #: ``None``: unknown (official triples).
    t2_distinct_queries: int | None = None
    #: Candidates per query the students' latency re-ranks (``data.rerank_depth``).
    latency_depth: int = 0
    #: The encoder of the paper-size latency claim 5 is decided on (``None``: not measured:
    #: the students' latency decides), with its timed queries and candidates per query.
    latency_paper_encoder: str | None = None
    latency_paper_queries: int = 0
    latency_paper_depth: int = 0


_NOTES: Mapping[int, str] = {
    1: "Score ranges drift apart over hundreds of thousands of training steps in the paper; our "
       "baseline students train for {student_steps} steps from the same MS MARCO-trained encoder, so their "
       "ranges and margins are what a short fine-tune leaves, not what long training produces.",
    2: "Our label-only baselines learn from TREC DL's deep, graded judgements ({judged_queries} judged training "
       "queries, {judgements_per_query} judged passages each on average), where the paper's learn from MS MARCO's one relevant passage per "
       "query: labels here already carry much of what a teacher adds. {pairs_note}A per-student test over "
       "{test_queries} test queries detects only large gains.",
    3: "T2 (the mean of {t2}) differs from T1 ({t1}) only where a member besides {t1} ranked the query: "
       "{t2_distinct} of our {train_queries} training queries; elsewhere it is {t1} alone, so their students "
       "can differ only a little. The paper states the claim for MSMARCO-DEV; on TREC-DL'19 its own PreTT and "
       "TK do better with T1, so only the other students are checked there. Another training seed moves a "
       "single cell by about as much as these differences (the method page measures it).",
    4: "",  # _OWN_REFERENCE or _T1_REFERENCE, by profile
    5: "",  # _LATENCY_STUDENTS or _LATENCY_PAPER_SIZE, by profile
    6: "With {train_queries} training queries and {student_steps} steps, losses that regress raw scores (pointwise "
       "MSE) or weight a pairwise loss by the margin can land close to Margin-MSE; the difference the "
       "paper finds on 40M triples may be within the noise of {test_queries} test queries.",
    7: "Dense retrieval here searches the test queries' pooled candidates, not 8.8M passages; "
       "differences between students shrink in a pool that holds most judged passages anyway.",
}


_OWN_REFERENCE = ("The reference is our own BERT_CAT teacher (RankNet on the labels of {own_teacher_queries} "
                  "queries, {own_teacher_steps} steps), not the paper's BERT-Base_CAT trained on 400K queries; small "
                  "cross-encoders trained on {train_queries} queries are weak, and may not beat it.")
_T1_REFERENCE = ("The reference is T1 itself ({t1}), a full-size published ranker trained on MS MARCO, re-ranking "
                 "the same candidates; the paper's students are 6-layer DistilBERTs distilled on 40M triples, ours "
                 "are distilled on {train_queries} queries for {student_steps} steps.")


_LATENCY_STUDENTS = ("The paper times a GPU re-ranking 1,000 candidates; we time a CPU re-ranking "
                     "{latency_depth} candidates with the students' small encoder, where fixed per-call costs and TK's "
                     "float32 kernel pooling weigh more than on a GPU (chapter 6).")
_LATENCY_PAPER_SIZE = ("The verdict is taken at the paper's model size ({latency_paper_encoder}, random weights), but on "
                       "a CPU re-ranking {latency_paper_queries} queries x {latency_paper_depth} candidates, where the "
                       "paper times a GPU re-ranking 1,000: with so few candidates the work every architecture does "
                       "once per query (encoding the query, fixed per-call costs) weighs as much as the per-candidate "
                       "work that separates the architectures at 1,000, and our TK contextualises the encoder's "
                       "word-piece embeddings (768 wide at DistilBERT's shape), not the paper's 300-dimensional GloVe "
                       "vectors (chapter 6).")


def _template(number: int, scale: Scale) -> str:
    """The note template of claim ``number``: claims 4 and 5 have one per kind of profile."""
    if number == 4:
        return _OWN_REFERENCE if scale.own_teacher else _T1_REFERENCE
    if number == 5:
        return _LATENCY_STUDENTS if scale.latency_paper_encoder is None else _LATENCY_PAPER_SIZE
    return _NOTES[number]


def scale_note(number: int, scale: Scale) -> str:
    """The note of claim ``number`` with the sizes of ``scale`` filled in."""
    train = "the official triples'" if scale.train_queries is None else f"{scale.train_queries:,}"
    template = _template(number, scale)
    distinct = "some" if scale.t2_distinct_queries is None else f"{scale.t2_distinct_queries:,}"
    judged = "our" if scale.judged_queries is None else f"{scale.judged_queries:,}"
    pairs_note = ("The distilled students learn only from pairs every teacher member scored (no imputed pairs), "
                  "which leaves out most of the BM25 candidates they are tested on (chapter 2; the T2_imputed "
                  "ablation measures what imputing them does). " if scale.unscored == "drop" else "")
    return template.format(t1=scale.t1, t2=", ".join(scale.t2) or "several teachers", t2_distinct=distinct,
                           judged_queries=judged, pairs_note=pairs_note,
                           judgements_per_query="many" if scale.judgements_per_query is None
                           else f"{scale.judgements_per_query:,.0f}",
                           train_queries=train, test_queries=f"{scale.test_queries:,}",
                           student_steps=f"{scale.student_steps:,}", own_teacher_queries=f"{scale.own_teacher_queries:,}",
                           own_teacher_steps=f"{scale.own_teacher_steps:,}", latency_depth=f"{scale.latency_depth:,}",
                           latency_paper_encoder=scale.latency_paper_encoder,
                           latency_paper_queries=scale.latency_paper_queries,
                           latency_paper_depth=f"{scale.latency_paper_depth:,}")


def notes_for(checks: Sequence[ClaimCheck], scales: Mapping[str, Scale]) -> dict[tuple[int, str], str]:
    """The note of every check whose verdict is in :data:`NOTED`, by ``(number, test_set)``,
    with the sizes of that check's test set (``scales[check.test_set]``).

    Raises:
        KeyError: a noted check's test set has no scale.
    """
    return {(c.number, c.test_set): scale_note(c.number, scales[c.test_set]) for c in checks if c.verdict in NOTED}
