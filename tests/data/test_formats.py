"""MS MARCO / TREC readers and writers: round trips, and a clear error for every bad line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kdlib.core.errors import FormatError
from kdlib.data import formats as f


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _raises(call, path, line: int, expected: str):
    with pytest.raises(FormatError) as info:
        result = call(path)
        list(result) if not isinstance(result, dict) else result
    message = str(info.value)
    assert path.name in message and f":{line}:" in message and expected in message, message
    assert info.value.line == line
    return info.value


def test_collection_and_queries(tmp_path):
    coll = _write(tmp_path, "collection.tsv", "0\tThe first passage.\n1\tSecond, with  spaces.\n\n")
    assert list(f.read_collection(coll)) == [("0", "The first passage."), ("1", "Second, with  spaces.")]
    queries = _write(tmp_path, "queries.tsv", "1048585\twhat is paula deen's brother\n2\tq two\n")
    assert f.read_queries(queries) == {"1048585": "what is paula deen's brother", "2": "q two"}
    _raises(f.read_collection, _write(tmp_path, "c1.tsv", "0\tok\n1 no tab here\n"), 2, "2 tab-separated columns")
    _raises(f.read_collection, _write(tmp_path, "c2.tsv", "0\tok\n1\ttoo\tmany\n"), 2, "2 tab-separated columns")
    _raises(f.read_queries, _write(tmp_path, "q1.tsv", "\ttext without id\n"), 1, "non-empty qid")


def test_qrels(tmp_path):
    path = _write(tmp_path, "qrels.txt", "19335 Q0 1017759 0\n19335 0 1082489 3\n20 0 7 1\n")
    assert f.read_qrels(path) == {"19335": {"1017759": 0, "1082489": 3}, "20": {"7": 1}}
    _raises(f.read_qrels, _write(tmp_path, "q3.txt", "1 0 7 2\n1 0 8\n"), 2, "4 whitespace-separated columns")
    err = _raises(f.read_qrels, _write(tmp_path, "q4.txt", "1 0 7 high\n"), 1, "numeric integer grade")
    assert err.got == "high"
    _raises(f.read_qrels, _write(tmp_path, "q5.txt", "1 0 7 1.5\n"), 1, "integer grade")


def test_run_round_trip_and_errors(tmp_path):
    run = {"2": {"a": 1.5, "b": 3.25, "c": 1.5}, "10": {"x": -0.1}}
    path = tmp_path / "out" / "run.trec"
    f.write_run(run, path, tag="bm25")
    lines = path.read_text().splitlines()
    assert lines[:3] == ["10 Q0 x 1 -0.1 bm25", "2 Q0 b 1 3.25 bm25", "2 Q0 a 2 1.5 bm25"]
    assert lines[3] == "2 Q0 c 3 1.5 bm25"
    assert f.read_run(path) == run
    assert [p.name for p in path.parent.iterdir()] == ["run.trec"]  # no temporary left behind
    with pytest.raises(ValueError):
        f.write_run(run, tmp_path / "bad.trec", tag="two words")
    _raises(f.read_run, _write(tmp_path, "r1.trec", "1 Q0 a 1 2.0 t\n1 Q0 b 2 1.0\n"), 2, "6 whitespace-separated columns")
    _raises(f.read_run, _write(tmp_path, "r2.trec", "1 Q0 a 1 nan-ish t\n"), 1, "numeric score")
    _raises(f.read_run, _write(tmp_path, "r3.trec", "1 Q0 a first 2.0 t\n"), 1, "integer rank")
    _raises(f.read_run, _write(tmp_path, "r4.trec", "1 Q0 a 1 inf t\n"), 1, "finite score")


def test_top1000_and_triples(tmp_path):
    top = _write(tmp_path, "top1000.dev.tsv", "188714\t1000052\tfoods and supplements\tThe passage.\n")
    assert list(f.read_top1000(top)) == [("188714", "1000052", "foods and supplements", "The passage.")]
    _raises(f.read_top1000, _write(tmp_path, "t2.tsv", "188714\t1000052\tquery only\n"), 1, "4 tab-separated columns")
    ids = _write(tmp_path, "qidpidtriples.tsv", "400296\t1540783\t3518497\n")
    assert list(f.read_triples_ids(ids)) == [("400296", "1540783", "3518497")]
    _raises(f.read_triples_ids, _write(tmp_path, "t3.tsv", "1\t2\t3\n4\t\t6\n"), 2, "non-empty pos_pid")
    text = _write(tmp_path, "triples.train.small.tsv", "a query\ta positive\ta negative\n")
    assert list(f.read_triples_text(text)) == [("a query", "a positive", "a negative")]
    _raises(f.read_triples_text, _write(tmp_path, "t4.tsv", "q\tp\n"), 1, "3 tab-separated columns")


def test_teacher_scores(tmp_path):
    records = [f.TeacherScore(12.345678901, -3.5, "q1", "p1", "n1"), f.TeacherScore(0.0, 1e-7, "q2", "p2", "n2")]
    path = tmp_path / "scores.tsv"
    assert f.write_teacher_scores(records, path) == 2
    assert path.read_text().splitlines()[0] == "12.345679\t-3.500000\tq1\tp1\tn1"
    back = list(f.read_teacher_scores(path))
    assert back[0] == f.TeacherScore(12.345679, -3.5, "q1", "p1", "n1") and back[1].neg_score == 0.0
    _raises(f.read_teacher_scores, _write(tmp_path, "s1.tsv", "1.0\t2.0\tq\tp\n"), 1, "5 tab-separated columns")
    _raises(f.read_teacher_scores, _write(tmp_path, "s2.tsv", "1.0\t2.0\tq\tp\tn\tx\n"), 1, "5 tab-separated columns")
    _raises(f.read_teacher_scores, _write(tmp_path, "s3.tsv", "1.0\t2.0\tq\tp\tn\nhigh\t2.0\tq\tp\tn\n"), 2, "numeric pos_score")
    _raises(f.read_teacher_scores, _write(tmp_path, "s4.tsv", "1.0\t2.0\t\tp\tn\n"), 1, "non-empty qid")


def test_expand_teacher_scores(tmp_path):
    path = _write(tmp_path, "scores.tsv", "5.0\t1.0\tq1\tp1\tp2\n4.0\t2.0\tq9\tp1\tp2\n3.0\t0.5\tq1\tp1\tp404\n")
    rows, report = f.expand_teacher_scores(path, {"q1": "query one"}, {"p1": "pos text", "p2": "neg text"})
    assert rows == [("query one", "pos text", "neg text", 5.0, 1.0)]
    assert report == f.ExpandReport(lines=3, kept=1, missing_query=1, missing_passage=1)


def test_rank_llm_json(tmp_path):
    data = [{"query": "q text", "hits": [{"content": "p text", "qid": 7, "docid": "d1", "rank": 1, "score": 9.5}]}]
    path = _write(tmp_path, "retrieve_results_x.json", json.dumps(data))
    parsed = f.read_rank_llm_json(path)
    assert parsed.queries == {"7": "q text"} and parsed.passages == {"d1": "p text"} and parsed.run == {"7": {"d1": 9.5}}
    _raises(f.read_rank_llm_json, _write(tmp_path, "broken.json", '[\n{"query": \n'), 3, "valid JSON")
    bad_hit = [{"query": "q", "hits": [{"qid": 1, "docid": "d", "score": "high", "content": ""}]}]
    with pytest.raises(FormatError, match=r"bad_hit\.json: expected entry 0 hit 0: .*numeric 'score'"):
        f.read_rank_llm_json(_write(tmp_path, "bad_hit.json", json.dumps(bad_hit)))
    with pytest.raises(FormatError, match=r"no_hits\.json: expected entry 0: an object with 'query'"):
        f.read_rank_llm_json(_write(tmp_path, "no_hits.json", json.dumps([{"query": "q"}])))


DEV_SAMPLE_FIXTURES = Path(__file__).parents[1] / "fixtures" / "dev_sample"


def test_dev_sample_json():
    parsed = f.read_dev_sample_json(DEV_SAMPLE_FIXTURES / "42.json")
    assert (parsed.qid, parsed.query, parsed.bm25_label) == ("42", "what is a toy query", "high")
    assert [(h.pid, h.rank, h.relevance) for h in parsed.hits] == [("1001", 1, 0), ("1002", 2, 1), ("1003", 3, 0)]
    # \u00XX escapes decode to the mis-encoded characters MS MARCO has; runs of spaces stay.
    assert "\u00e2\u0080\u0099" in parsed.hits[0].text and "relevant  passage" in parsed.hits[1].text
    # The malformed fixture: a gap in the ranking.
    with pytest.raises(FormatError, match=r"43\.json: expected hit 2: ranking 3 \(hits in rank order from 1\), got '4'"):
        f.read_dev_sample_json(DEV_SAMPLE_FIXTURES / "43.json")


def test_dev_sample_json_errors(tmp_path):
    good = json.loads((DEV_SAMPLE_FIXTURES / "42.json").read_text())

    def bad(name: str, data) -> str:
        path = _write(tmp_path, name, data if isinstance(data, str) else json.dumps(data))
        with pytest.raises(FormatError) as info:
            f.read_dev_sample_json(path)
        assert str(path) in str(info.value)
        return str(info.value)

    assert "valid JSON" in bad("42.json", '[{"query_id": 42,\n')
    assert "a non-empty JSON list of hits" in bad("42.json", [])
    no_text = {k: v for k, v in good[1].items() if k != "passage_text"}
    assert "hit 1: an object with integer 'query_id'" in bad("42.json", [good[0], no_text])
    assert "hit 0: an object with integer" in bad("42.json", [dict(good[0], passage_id="1001")])
    assert "relevance_label' 0 or 1" in bad("42.json", [dict(good[0], relevance_label=2.0)])
    assert "hit 1: the query_text of hit 0" in bad("42.json", [good[0], dict(good[1], query_text="another query")])
    assert "passage 1001 comes twice" in bad("42.json", [good[0], dict(good[1], passage_id=1001)])
    assert "a file named after its query, 42.json" in bad("7.json", good)
