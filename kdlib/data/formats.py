"""Streaming readers and writers of the MS MARCO and TREC file formats.

Every reader checks each line and raises :class:`kdlib.core.errors.FormatError` naming the
file, the 1-based line number and the expected shape, so that a bad line is found at
once rather than as a wrong number later. Writers go through
:func:`kdlib.core.artifacts.open_atomic`, so a reader never sees half a file.

Formats (tab-separated unless noted):

- collection: ``pid  passage``; queries: ``qid  query``
- qrels (whitespace): ``qid  0|Q0  pid  grade``
- run (whitespace): ``qid  Q0  pid  rank  score  tag``
- top1000: ``qid  pid  query  passage``
- triples by id: ``qid  pos_pid  neg_pid``; triples by text: ``query  pos  neg``
- teacher scores (Hofstätter et al., 2020, Zenodo 4068216): ``pos_score  neg_score  qid  pos_pid  neg_pid``
- rank_llm JSON: ``[{"query": str, "hits": [{"qid", "docid", "score", "content", ...}]}]``
- MS MARCO dev sample JSON (one file per query, ``<qid>.json``): ``[{"query_id", "passage_id",
  "ranking", "query_text", "passage_text", "bm25_label", "relevance_label"}, ...]``
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Iterable, Iterator, Mapping, NamedTuple

from kdlib.core.artifacts import open_atomic
from kdlib.core.errors import FormatError

PathLike = str | os.PathLike


def _lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """(line number, line without its newline) for every non-empty line."""
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                yield lineno, line


def _fields(path: PathLike, lineno: int, line: str, n: int, shape: str, sep: str | None) -> list[str]:
    # sep=None splits on runs of whitespace (TREC files); "\t" keeps spaces inside texts.
    parts = line.split(sep)
    if len(parts) != n:
        raise FormatError(path, lineno, f"{n} {'tab-separated' if sep else 'whitespace-separated'} columns ({shape})", line)
    for name, value in zip(shape.split(), parts):
        if name.endswith("id") and not value.strip():
            raise FormatError(path, lineno, f"a non-empty {name} ({shape})", line)
    return parts


def _number(path: PathLike, lineno: int, value: str, what: str, kind: type = float) -> float:
    try:
        number = kind(value)
    except ValueError:
        raise FormatError(path, lineno, f"a numeric {what}", value) from None
    if kind is float and not math.isfinite(number):
        raise FormatError(path, lineno, f"a finite {what}", value)
    return number


def read_collection(path: PathLike) -> Iterator[tuple[str, str]]:
    """Yield ``(pid, text)`` from a ``pid<TAB>text`` collection, one line at a time."""
    for lineno, line in _lines(path):
        pid, text = _fields(path, lineno, line, 2, "pid text", "\t")
        yield pid.strip(), text


def read_queries(path: PathLike) -> dict[str, str]:
    """Read ``qid<TAB>query`` lines into ``{qid: text}``."""
    queries: dict[str, str] = {}
    for lineno, line in _lines(path):
        qid, text = _fields(path, lineno, line, 2, "qid query", "\t")
        queries[qid.strip()] = text
    return queries


def read_qrels(path: PathLike) -> dict[str, dict[str, int]]:
    """Read TREC qrels (``qid iter pid grade``) into ``{qid: {pid: grade}}``."""
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in _lines(path):
        qid, _, pid, grade = _fields(path, lineno, line, 4, "qid iteration pid grade", None)
        qrels.setdefault(qid, {})[pid] = int(_number(path, lineno, grade, "integer grade", int))
    return qrels


def read_run(path: PathLike) -> dict[str, dict[str, float]]:
    """Read a TREC run (``qid Q0 pid rank score tag``) into ``{qid: {pid: score}}``."""
    run: dict[str, dict[str, float]] = {}
    for lineno, line in _lines(path):
        qid, _, pid, rank, score, _tag = _fields(path, lineno, line, 6, "qid Q0 pid rank score tag", None)
        _number(path, lineno, rank, "integer rank", int)
        run.setdefault(qid, {})[pid] = _number(path, lineno, score, "score")
    return run


def ranked(scores: Mapping[str, float], depth: int | None = None) -> list[tuple[str, float]]:
    """One query's ``(pid, score)`` pairs in rank order: scores descending, ties by pid (the
    order a TREC run is written in, so every reader of a run ranks it the same way); the first
    ``depth`` (``None``: all)."""
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:depth]


def write_run(run: Mapping[str, Mapping[str, float]], path: PathLike, tag: str = "kdlib") -> None:
    """Write ``{qid: {pid: score}}`` as a TREC run: queries sorted, scores descending, ranks from 1.

    Ties are ordered by pid so the file is deterministic; scores are written with
    ``repr`` so that reading the file back gives the same floats.
    """
    if not tag or any(c.isspace() for c in tag):
        raise ValueError(f"run tag must be one non-empty word, got {tag!r}")
    with open_atomic(path) as out:
        for qid in sorted(run):
            for rank, (pid, score) in enumerate(ranked(run[qid]), 1):
                out.write(f"{qid} Q0 {pid} {rank} {float(score)!r} {tag}\n")


def write_run_stream(
    items: Iterable[tuple[str, Mapping[str, float]]], path: PathLike, tag: str = "kdlib"
) -> tuple[int, int]:
    """Write ``(qid, {pid: score})`` items as a TREC run as they come (queries in arrival order).

    Within a query the order and format are those of :func:`write_run`; nothing but the
    current query is held in memory. Returns ``(queries, lines)`` written.
    """
    if not tag or any(c.isspace() for c in tag):
        raise ValueError(f"run tag must be one non-empty word, got {tag!r}")
    queries = lines = 0
    with open_atomic(path) as out:
        for qid, scores in items:
            ordered = ranked(scores)
            out.writelines(f"{qid} Q0 {pid} {rank} {float(score)!r} {tag}\n" for rank, (pid, score) in enumerate(ordered, 1))
            queries += 1
            lines += len(ordered)
    return queries, lines


def iter_run(path: PathLike) -> Iterator[tuple[str, dict[str, float]]]:
    """Yield ``(qid, {pid: score})`` from a TREC run whose lines are grouped by query.

    This is how :func:`write_run` and :func:`write_run_stream` write runs; one query is
    held at a time.

    Raises:
        FormatError: a malformed line, or a query whose lines are not contiguous.
    """
    current: str | None = None
    scores: dict[str, float] = {}
    done: set[str] = set()
    for lineno, line in _lines(path):
        qid, _, pid, rank, score, _tag = _fields(path, lineno, line, 6, "qid Q0 pid rank score tag", None)
        _number(path, lineno, rank, "integer rank", int)
        if qid != current:
            if current is not None:
                done.add(current)
                yield current, scores
            if qid in done:
                raise FormatError(path, lineno, f"the lines of query {qid} together (a run grouped by query)", line)
            current, scores = qid, {}
        scores[pid] = _number(path, lineno, score, "score")
    if current is not None:
        yield current, scores


def read_top1000(path: PathLike) -> Iterator[tuple[str, str, str, str]]:
    """Yield ``(qid, pid, query, passage)`` from MS MARCO's ``top1000.*.tsv``."""
    for lineno, line in _lines(path):
        qid, pid, query, passage = _fields(path, lineno, line, 4, "qid pid query passage", "\t")
        yield qid.strip(), pid.strip(), query, passage


def read_triples_ids(path: PathLike) -> Iterator[tuple[str, str, str]]:
    """Yield ``(qid, pos_pid, neg_pid)`` from ``qidpidtriples``-style files."""
    for lineno, line in _lines(path):
        qid, pos, neg = _fields(path, lineno, line, 3, "qid pos_pid neg_pid", "\t")
        yield qid.strip(), pos.strip(), neg.strip()


def read_triples_text(path: PathLike) -> Iterator[tuple[str, str, str]]:
    """Yield ``(query, positive passage, negative passage)`` from ``triples.train.small.tsv``."""
    for lineno, line in _lines(path):
        query, pos, neg = _fields(path, lineno, line, 3, "query positive negative", "\t")
        yield query, pos, neg


class TeacherScore(NamedTuple):
    """One line of a teacher-score file: the teacher's scores of a (query, P+, P-) triple."""

    pos_score: float
    neg_score: float
    qid: str
    pos_pid: str
    neg_pid: str


def read_teacher_scores(path: PathLike) -> Iterator[TeacherScore]:
    """Yield :class:`TeacherScore` from ``pos_score<TAB>neg_score<TAB>qid<TAB>pos_pid<TAB>neg_pid``.

    This is the format of the paper's published teacher files (Hofstätter et al., 2020;
    Zenodo record 4068216), one training triple a line.
    """
    shape = "pos_score neg_score qid pos_pid neg_pid"
    for lineno, line in _lines(path):
        pos, neg, qid, pos_pid, neg_pid = _fields(path, lineno, line, 5, shape, "\t")
        yield TeacherScore(
            _number(path, lineno, pos, "pos_score"),
            _number(path, lineno, neg, "neg_score"),
            qid.strip(),
            pos_pid.strip(),
            neg_pid.strip(),
        )


def write_teacher_scores(records: Iterable[TeacherScore | tuple], path: PathLike) -> int:
    """Write teacher scores in the published format (scores with 6 decimals); returns the line count."""
    count = 0
    with open_atomic(path) as out:
        for pos, neg, qid, pos_pid, neg_pid in records:
            out.write(f"{float(pos):.6f}\t{float(neg):.6f}\t{qid}\t{pos_pid}\t{neg_pid}\n")
            count += 1
    return count


class ExpandReport(NamedTuple):
    """What :func:`expand_teacher_scores` kept and why it dropped the rest."""

    lines: int
    kept: int
    missing_query: int
    missing_passage: int


def expand_teacher_scores(
    path: PathLike, queries: Mapping[str, str], collection: Mapping[str, str]
) -> tuple[list[tuple[str, str, str, float, float]], ExpandReport]:
    """Replace the ids of a teacher-score file by texts.

    Returns:
        ``[(query, pos_passage, neg_passage, pos_score, neg_score)]`` for lines whose query
        and passages are known, and an :class:`ExpandReport` counting the dropped lines.
    """
    rows: list[tuple[str, str, str, float, float]] = []
    lines = missing_query = missing_passage = 0
    for record in read_teacher_scores(path):
        lines += 1
        query = queries.get(record.qid)
        if query is None:
            missing_query += 1
            continue
        pos, neg = collection.get(record.pos_pid), collection.get(record.neg_pid)
        if pos is None or neg is None:
            missing_passage += 1
            continue
        rows.append((query, pos, neg, record.pos_score, record.neg_score))
    return rows, ExpandReport(lines, len(rows), missing_query, missing_passage)


class RankLLMRun(NamedTuple):
    """The content of one rank_llm ``retrieve_results_*.json`` file."""

    queries: dict[str, str]
    passages: dict[str, str]
    run: dict[str, dict[str, float]]


def read_rank_llm_json(path: PathLike) -> RankLLMRun:
    """Read a castorini/rank_llm retrieval result: queries, passage texts and the run.

    Ids become strings (rank_llm writes qids as numbers).

    Raises:
        FormatError: not JSON, or an entry lacks ``query``/``hits`` or a hit lacks
            ``qid``/``docid``/``score``/``content`` (line 0: JSON entries have no line).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise FormatError(path, exc.lineno, f"valid JSON ({exc.msg})") from None
    if not isinstance(data, list):
        raise FormatError(path, 0, "a JSON list of {query, hits} objects", type(data).__name__)
    queries: dict[str, str] = {}
    passages: dict[str, str] = {}
    run: dict[str, dict[str, float]] = {}
    for index, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("query"), str) or not isinstance(entry.get("hits"), list):
            raise FormatError(path, 0, f"entry {index}: an object with 'query' (text) and 'hits' (list)", repr(entry)[:120])
        for rank, hit in enumerate(entry["hits"]):
            try:
                qid, pid, score, text = str(hit["qid"]), str(hit["docid"]), float(hit["score"]), hit["content"]
            except (KeyError, TypeError, ValueError):
                raise FormatError(
                    path, 0, f"entry {index} hit {rank}: 'qid', 'docid', numeric 'score' and 'content'", repr(hit)[:120]
                ) from None
            if not qid or not pid:
                raise FormatError(path, 0, f"entry {index} hit {rank}: non-empty 'qid' and 'docid'", repr(hit)[:120])
            queries[qid] = entry["query"]
            passages[pid] = text
            run.setdefault(qid, {})[pid] = score
    return RankLLMRun(queries, passages, run)


class DevSampleHit(NamedTuple):
    """One BM25 hit of an MS MARCO dev sample file."""

    pid: str
    rank: int
    text: str
    relevance: int


class DevSampleQuery(NamedTuple):
    """The content of one MS MARCO dev sample file: a query and its BM25 hits in rank order.

    Attributes:
        qid: the MS MARCO query id (a string).
        query: the query text.
        bm25_label: the file's ``bm25_label`` (``high``: the relevant passage is in the
            hits, ``medium``: it is at BM25 rank 21-80); it describes the query, not a hit.
        hits: the hits, ranks 1, 2, ...; ``relevance`` is the file's ``relevance_label``.
    """

    qid: str
    query: str
    bm25_label: str
    hits: list[DevSampleHit]


_DEV_SAMPLE_HIT = (
    "an object with integer 'query_id', 'passage_id' and 'ranking', text 'query_text', "
    "'passage_text' and 'bm25_label', and 'relevance_label' 0 or 1"
)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_dev_sample_json(path: PathLike) -> DevSampleQuery:
    """Read one file of the MS MARCO dev sample (``sampled_files/<qid>.json``).

    Each file is a JSON list of one query's BM25 hits in rank order (a master's thesis
    repository published them; see the pack's SOURCES.md). Every hit repeats the query's
    id, text and ``bm25_label``; this reader checks that they agree, that ``ranking`` runs
    1, 2, ... in list order, that no passage comes twice and that the file is named after
    its query, so a damaged or foreign file fails here rather than as a wrong figure later.

    Raises:
        FormatError: not JSON, not a non-empty list, a hit with a missing or mistyped field,
            or one of the checks above (line 0: JSON entries have no line).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise FormatError(path, exc.lineno, f"valid JSON ({exc.msg})") from None
    if not isinstance(data, list) or not data:
        raise FormatError(path, 0, "a non-empty JSON list of hits (one query's BM25 ranking)", repr(data)[:120])
    hits: list[DevSampleHit] = []
    for index, hit in enumerate(data):
        if not (
            isinstance(hit, dict)
            and all(_is_int(hit.get(key)) for key in ("query_id", "passage_id", "ranking"))
            and all(isinstance(hit.get(key), str) for key in ("query_text", "passage_text", "bm25_label"))
            and hit.get("relevance_label") in (0, 1)
            and not isinstance(hit.get("relevance_label"), bool)
        ):
            raise FormatError(path, 0, f"hit {index}: {_DEV_SAMPLE_HIT}", repr(hit)[:120])
        first = data[0]
        for key in ("query_id", "query_text", "bm25_label"):
            if hit[key] != first[key]:
                raise FormatError(path, 0, f"hit {index}: the {key} of hit 0 ({first[key]!r}; one query per file)",
                                  repr(hit[key])[:120])
        if hit["ranking"] != index + 1:
            raise FormatError(path, 0, f"hit {index}: ranking {index + 1} (hits in rank order from 1)", str(hit["ranking"]))
        hits.append(DevSampleHit(str(hit["passage_id"]), hit["ranking"], hit["passage_text"], int(hit["relevance_label"])))
    qid = str(data[0]["query_id"])
    if Path(path).stem != qid:
        raise FormatError(path, 0, f"a file named after its query, {qid}.json")
    seen: set[str] = set()
    for hit in hits:
        if hit.pid in seen:
            raise FormatError(path, 0, f"each passage once (passage {hit.pid} comes twice)")
        seen.add(hit.pid)
    return DevSampleQuery(qid, data[0]["query_text"], data[0]["bm25_label"], hits)
