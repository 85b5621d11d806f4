"""Datasets of the embedded pack: counts from SOURCES.md, merging, subsets, caps."""
from __future__ import annotations

import pytest

from kdlib.data import (
    DATASETS,
    PACK_DATASETS,
    dataset_stats,
    load_dataset,
    measures_for,
    pack_dir,
    qid_sort_key,
    read_dev_sample_json,
)
from kdlib.data.pack import dev_sample_files, load_checksums
from kdlib.eval.measures import evaluate


@pytest.mark.parametrize(
    "name, queries, judgements", [("trec-dl-2019", 43, 9260), ("trec-dl-2020", 54, 11386), ("trec-dl-2021", 53, 10828)]
)
def test_judged_years(name, queries, judgements):
    ds = load_dataset(name)
    stats = dataset_stats(ds)
    assert stats["queries"] == stats["judged_queries"] == queries
    assert stats["judgements"] == judgements == sum(stats["grades"].values())
    assert set(stats["grades"]) <= {0, 1, 2, 3}
    assert set(ds.judged_qids()) == set(ds.queries)
    # BM25 runs are top-100 with text for every hit.
    assert stats["runs"]["bm25"] == 100 * queries == stats["passages_per_run"]["bm25"]


def test_runs_per_year_and_rep_llama_ids_only():
    dl19 = load_dataset("trec-dl-2019")
    assert set(dl19.runs) == {"bm25", "bm25_rm3", "tas_b", "splade_pp", "ada2", "rep_llama"}
    rep = dl19.runs["rep_llama"]
    assert sum(len(r) for r in rep.values()) == 43 * 1000
    with_text = sum(pid in dl19.passages for r in rep.values() for pid in r)
    assert 0 < with_text < 43 * 1000  # ids only: texts exist just where another run retrieved the passage


def test_dl21_splade_pp():
    dl21 = load_dataset("trec-dl-2021")
    assert set(dl21.runs) == {"bm25", "bm25_rm3", "splade_pp"}
    splade = dl21.runs["splade_pp"]
    # SOURCES.md: the 53 judged queries x 100 hits, v2 ids, integer impact scores; nDCG@10 0.6846
    # with ir-measures' (trec_eval's) tie-breaking, R(rel=2)@100 0.5619.
    assert set(splade) == set(dl21.queries) == set(dl21.judged_qids()) and len(splade) == 53
    assert all(len(r) == 100 for r in splade.values())
    assert all(pid.startswith("msmarco_passage_") for r in splade.values() for pid in r)
    assert sum(pid in dl21.qrels[q] for q, r in splade.items() for pid in r) == 3071
    values = evaluate(splade, dl21.qrels, ["nDCG@10", "R(rel=2)@100"])
    assert round(values["nDCG@10"], 4) == 0.6846 and round(values["R(rel=2)@100"], 4) == 0.5619
    # A passage BM25 also retrieved keeps the BM25 file's text (the first run's), which the
    # SPLADE++ file differs from in whitespace only.
    bm25_only = load_dataset("trec-dl-2021", runs=["bm25"])
    assert all(dl21.passages[p] == t for p, t in bm25_only.passages.items())
    assert set(bm25_only.runs) == {"bm25"} and len(bm25_only.passages) < len(dl21.passages)


def test_msmarco_dev_sample():
    ds = load_dataset("msmarco-dev-sample")
    stats = dataset_stats(ds)
    # SOURCES.md: 450 queries x 20 BM25 hits (9,000 pairs, 8,855 distinct passages), one
    # official relevant passage per query; BM25 MRR@10 0.3670 (rel >= 1).
    assert stats["queries"] == stats["judged_queries"] == 450
    assert stats["runs"] == {"bm25": 9000} == stats["passages_per_run"] and stats["passages"] == 8855
    assert stats["judgements"] == 450 and stats["grades"] == {1: 450}
    assert measures_for("msmarco-dev-sample") == ("RR@10", "R@20")
    values = evaluate(ds.runs["bm25"], ds.qrels, measures_for("msmarco-dev-sample"))
    assert round(values["RR@10"], 4) == 0.3670 and round(values["R@20"] * 450) == 402
    # The files are named by the checksum list; query texts (from the official topics) equal
    # the files', the run keeps the files' rank order, and the files' labels equal the qrels.
    files = dev_sample_files(load_checksums())
    assert len(files) == 450
    for rel in files:
        sample = read_dev_sample_json(pack_dir() / rel)
        assert ds.queries[sample.qid] == sample.query
        run = ds.runs["bm25"][sample.qid]
        assert sorted(run, key=run.get, reverse=True) == [h.pid for h in sample.hits]
        assert {h.pid for h in sample.hits if h.relevance} == {p for p in run if ds.qrels[sample.qid].get(p, 0) >= 1}


def test_dl22_has_no_judgements():
    ds = load_dataset("trec-dl-2022")
    assert ds.qrels is None and ds.judged_qids() == []
    assert len(ds.queries) == 76 and set(ds.runs) == {"bm25", "splade_pp"}
    capped = load_dataset("trec-dl-2022", max_queries=3)
    assert sorted(capped.queries, key=qid_sort_key) == sorted(ds.queries, key=qid_sort_key)[:3]


def test_merge_and_max_queries():
    merged = load_dataset(["trec-dl-2020", "trec-dl-2021"])
    assert merged.name == "trec-dl-2020+trec-dl-2021" and len(merged.queries) == 54 + 53
    assert len(merged.judged_qids()) == 107
    tiny = load_dataset(["trec-dl-2020", "trec-dl-2021"], max_queries=4)
    first20 = load_dataset("trec-dl-2020").judged_qids()[:4]
    first21 = load_dataset("trec-dl-2021").judged_qids()[:4]
    assert set(tiny.queries) == set(first20) | set(first21)
    assert set(tiny.qrels) == set(tiny.queries) and set(tiny.runs["bm25"]) == set(tiny.queries)
    assert tiny.runs.keys() == merged.runs.keys()
    assert load_dataset("trec-dl-2020", max_queries=4).judged_qids() == first20  # deterministic


def test_subset_and_read_only():
    ds = load_dataset("trec-dl-2019")
    qids = ds.judged_qids()[:2]
    sub = ds.subset(qids)
    assert sorted(sub.queries) == sorted(qids) and set(sub.runs["tas_b"]) == set(qids)
    assert sub.passages is ds.passages
    with pytest.raises(KeyError):
        ds.subset(["not-a-query"])
    with pytest.raises(TypeError):
        ds.queries["x"] = "y"  # cached and shared: read-only
    with pytest.raises(TypeError):
        ds.qrels[qids[0]]["p"] = 3


def test_bad_names():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("trec-dl-2018")
    with pytest.raises(ValueError):
        load_dataset("trec-dl-2019", max_queries=-1)
    assert DATASETS == ("trec-dl-2019", "trec-dl-2020", "trec-dl-2021", "trec-dl-2022")
    assert PACK_DATASETS == (*DATASETS, "msmarco-dev-sample")
    with pytest.raises(ValueError, match="unknown run"):
        load_dataset("trec-dl-2019", runs=["bm42"])
    assert sorted(["10", "2", "q1"], key=qid_sort_key) == ["2", "10", "q1"]
