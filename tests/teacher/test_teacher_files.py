"""Teacher files at their edges: unknown ids, resume marks, shards, saved teachers, degenerate runs."""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
import torch
from train.test_train import StandInRanker, easy_dataset

from kdlib.core.errors import FormatError, KdlibError
from kdlib.data import Dataset, Triple
from kdlib.runtime.precision import bf16_supported
from kdlib.teacher import (
    merge_shards,
    published_teacher_scores,
    read_examples_from_teacher_file,
    score_triples,
    shard_path,
    shard_range,
)


def small_dataset() -> Dataset:
    return Dataset("small", {"q1": "query one", "q2": "query two"},
                   {"a": "passage a", "b": "passage b", "c": "passage c"}, None, {})


def write(path, rows) -> None:
    path.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows))


def test_a_line_is_skipped_when_any_of_its_three_ids_is_unknown(tmp_path, caplog):
    path = tmp_path / "t.tsv"
    write(path, [
        (1, 0, "q1", "a", "b"),
        (1, 0, "q1", "a", "nope-neg"),  # only the negative unknown
        (1, 0, "q1", "nope-pos", "b"),  # only the positive unknown
        (1, 0, "q9", "a", "b"),  # only the query unknown
        (2, 1, "q2", "c", "a"),  # a good line after the bad ones is still read
    ])
    with caplog.at_level(logging.WARNING):
        examples = read_examples_from_teacher_file(path, small_dataset())
    assert [(e.query, e.pos_text, e.neg_text) for e in examples] == [
        ("query one", "passage a", "passage b"), ("query two", "passage c", "passage a")]
    assert "3 of 5 records skipped" in caplog.text
    assert "query q9" in caplog.text and "passage nope-neg, passage nope-pos" in caplog.text


def test_unknown_query_alone_is_reported(tmp_path, caplog):
    path = tmp_path / "t.tsv"
    write(path, [(1, 0, "q1", "a", "b"), (1, 0, "q9", "a", "b")])
    with caplog.at_level(logging.WARNING):
        assert len(read_examples_from_teacher_file(path, small_dataset())) == 1
    assert "1 of 2 records skipped" in caplog.text and "0 with an unknown passage" in caplog.text


def test_strict_reading_names_the_line(tmp_path):
    path = tmp_path / "t.tsv"
    write(path, [(1, 0, "q1", "a", "b"), (1, 0, "q2", "a", "c"), (1, 0, "q1", "a", "zz")])
    with pytest.raises(FormatError, match=r"t\.tsv:3\b"):
        read_examples_from_teacher_file(path, small_dataset(), strict=True)


def test_interrupted_scoring_leaves_a_progress_mark(tmp_path):
    data = easy_dataset(3)
    triples = [Triple(q, f"{q}-0", f"{q}-{i}") for q in data.queries for i in (1, 2, 3)]
    out = tmp_path / "t.tsv"
    assert score_triples([StandInRanker()], triples, out, dataset=data, batch_size=2, flush_every=4,
                         bf16=False, progress=False, stop_after=4) is None
    partial, mark = tmp_path / "t.tsv.partial", json.loads((tmp_path / "t.tsv.progress").read_text())
    assert mark == {"lines": 4, "bytes": partial.stat().st_size}


def test_partial_file_without_progress_mark_is_started_over(tmp_path):
    data = easy_dataset(3)
    triples = [Triple(q, f"{q}-0", f"{q}-{i}") for q in data.queries for i in (1, 2)]
    teacher = StandInRanker(seed=2)
    whole = score_triples([teacher], triples, tmp_path / "whole.tsv", dataset=data, batch_size=2, bf16=False,
                          progress=False)
    out = tmp_path / "t.tsv"
    (tmp_path / "t.tsv.partial").write_text("junk written before any progress mark\n")
    assert score_triples([teacher], triples, out, dataset=data, batch_size=2, bf16=False, progress=False) == out
    assert out.read_bytes() == whole.read_bytes()


@pytest.mark.parametrize(("n", "batch", "world"), [(35, 4, 2), (40, 4, 3), (41, 4, 3), (7, 4, 3), (100, 8, 4)])
def test_shards_tile_the_triples_in_whole_batches(n, batch, world):
    ranges = [shard_range(n, batch, rank, world) for rank in range(world)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # contiguous, no overlap
    assert all(start % batch == 0 or start == end == n for start, end in ranges)
    sizes = [-(-(end - start) // batch) for start, end in ranges]
    assert max(sizes) - min(sizes) <= 1  # as even as possible, in batches
    assert sizes == sorted(sizes, reverse=True)  # the first ranks take the extra batches


def test_merge_refuses_missing_shards(tmp_path):
    out = tmp_path / "t.tsv"
    shard_path(out, 0, 2).write_text("a\n")
    with pytest.raises(KdlibError, match=r"t\.tsv\.shard-1-of-2"):
        merge_shards(out, 2)
    assert not out.exists()


def test_teacher_given_as_a_saved_directory(tmp_path):
    from kdlib.models import build

    data = easy_dataset(2)
    triples = [Triple(q, f"{q}-0", f"{q}-1") for q in data.queries]
    ranker = build("bert_dot", "tiny-random", query_max_len=8, passage_max_len=16, dropout=0.0)
    ranker.save_pretrained(tmp_path / "teacher")
    from_object = score_triples([ranker], triples, tmp_path / "a.tsv", dataset=data, bf16=False, progress=False)
    from_path = score_triples([str(tmp_path / "teacher")], triples, tmp_path / "b.tsv", dataset=data, bf16=False,
                              progress=False)
    assert from_path.read_text() == from_object.read_text()


def test_published_teacher_default_scale_and_constant_member():
    triples = [Triple("q1", "a", "b"), Triple("q2", "c", "a")]
    run = {"q1": {"a": 3.0, "b": 1.0}, "q2": {"c": 2.0, "a": 0.0}}
    data = Dataset("d", small_dataset().queries, small_dataset().passages, None, {"r": run, "flat": {
        "q1": {"a": 1.0, "b": 1.0}, "q2": {"c": 1.0, "a": 1.0}}})
    values = np.array([(r.pos_score, r.neg_score) for r in published_teacher_scores(data, triples, ["r"])])
    assert values.std() == pytest.approx(4.0)  # the documented default scale
    with pytest.raises(KdlibError, match="all scores equal"):
        published_teacher_scores(data, triples, ["flat"])


class ConstantTeacher:
    """A stand-in teacher: a fixed score per passage text; records the batch sizes it is asked for."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores
        self.batch_sizes: list[int] = []

    def to(self, device):
        return self

    def eval(self):
        return self

    def score(self, queries, passages, *, batch_size: int = 64):
        self.batch_sizes.append(batch_size)
        return torch.tensor([self.scores[p] for p in passages], dtype=torch.float32)


def test_ensemble_mean_is_taken_in_float64(tmp_path):
    # 2**24 + 1 is not a float32: a float32 running total would drop the 1 before halving.
    a = ConstantTeacher({"passage a": 2.0**24, "passage b": 3.0})
    b = ConstantTeacher({"passage a": 1.0, "passage b": 0.0})
    out = score_triples([a, b], [Triple("q1", "a", "b")], tmp_path / "t.tsv", dataset=small_dataset(),
                        bf16=False, progress=False)
    assert out.read_text() == "8388608.500000\t1.500000\tq1\ta\tb\n"


def test_defaults_batch_64_triples_and_flush_every_1024(tmp_path):
    teacher = ConstantTeacher({"passage a": 1.0, "passage b": 0.0})
    triples = [Triple("q1", "a", "b")] * 1100
    out = tmp_path / "nested" / "dir" / "t.tsv"  # parent folders are created
    assert score_triples([teacher], triples, out, dataset=small_dataset(), progress=False, stop_after=1) is None
    assert set(teacher.batch_sizes) == {128}  # 64 triples = 128 pairs a forward pass
    assert (out.parent / "t.tsv.partial").read_text().count("\n") == 1024


def test_stop_after_counts_whole_chunks_and_never_stops_a_finished_file(tmp_path):
    teacher = ConstantTeacher({"passage a": 1.0, "passage b": 0.0})
    triples = [Triple("q1", "a", "b")] * 12
    kw = dict(dataset=small_dataset(), batch_size=2, flush_every=4, bf16=False, progress=False)
    assert score_triples([teacher], triples, tmp_path / "a.tsv", stop_after=5, **kw) is None
    assert (tmp_path / "a.tsv.partial").read_text().count("\n") == 8  # chunks of 4 until 5 are written
    assert score_triples([teacher], triples, tmp_path / "b.tsv", stop_after=12, **kw) == tmp_path / "b.tsv"


def test_no_triples_give_an_empty_file(tmp_path):
    out = score_triples([ConstantTeacher({})], [], tmp_path / "t.tsv", dataset=small_dataset(), progress=False)
    assert out.read_text() == "" and not (tmp_path / "t.tsv.progress").exists()


def test_resume_when_killed_between_the_last_mark_and_the_rename(tmp_path):
    teacher = ConstantTeacher({"passage a": 1.0, "passage b": 0.0, "passage c": 2.0})
    triples = [Triple("q1", "a", "b"), Triple("q2", "c", "a")]
    kw = dict(dataset=small_dataset(), bf16=False, progress=False)
    whole = score_triples([teacher], triples, tmp_path / "whole.tsv", **kw)
    out = tmp_path / "t.tsv"
    (tmp_path / "t.tsv.partial").write_bytes(whole.read_bytes())
    (tmp_path / "t.tsv.progress").write_text(json.dumps({"lines": 2, "bytes": len(whole.read_bytes())}))
    assert score_triples([teacher], triples, out, **kw) == out and out.read_bytes() == whole.read_bytes()


def test_only_rank_zero_merges_and_a_stopped_shard_is_incomplete(tmp_path):
    teacher = ConstantTeacher({"passage a": 1.0, "passage b": 0.0})
    triples = [Triple("q1", "a", "b")] * 8
    out = tmp_path / "t.tsv"
    kw = dict(dataset=small_dataset(), batch_size=2, flush_every=2, bf16=False, progress=False, world_size=2)
    assert score_triples([teacher], triples, out, rank=1, stop_after=2, **kw) is None
    assert not shard_path(out, 1, 2).exists()
    assert score_triples([teacher], triples, out, rank=0, **kw) is None  # rank 1 not finished yet
    assert score_triples([teacher], triples, out, rank=1, **kw) is None  # rank 1 finishes, but does not merge
    assert not out.exists()
    assert score_triples([teacher], triples, out, rank=0, **kw) == out
    assert out.read_text().count("\n") == 8


def test_world_size_and_rank_from_torchrun_variables(tmp_path, monkeypatch):
    teacher = ConstantTeacher({"passage a": 1.0, "passage b": 0.0})
    triples = [Triple("q1", "a", "b")] * 4
    kw = dict(dataset=small_dataset(), batch_size=2, bf16=False, progress=False)
    # One variable at a time: both together would start a real process group.
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert score_triples([teacher], triples, tmp_path / "a.tsv", rank=1, **kw) is None
    assert shard_path(tmp_path / "a.tsv", 1, 2).is_file()
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.setenv("RANK", "1")
    assert score_triples([teacher], triples, tmp_path / "b.tsv", world_size=2, **kw) is None
    assert shard_path(tmp_path / "b.tsv", 1, 2).is_file() and not shard_path(tmp_path / "b.tsv", 0, 2).exists()


def test_cpu_ranks_share_the_cores_and_a_single_process_keeps_its_threads(tmp_path):
    teacher = ConstantTeacher({"passage a": 1.0, "passage b": 0.0})
    triples = [Triple("q1", "a", "b")] * 4
    kw = dict(dataset=small_dataset(), batch_size=2, bf16=False, progress=False, device="cpu")
    before = torch.get_num_threads()
    shared = max(1, (os.cpu_count() or 1) // 2)
    try:
        torch.set_num_threads(shared + 1)
        score_triples([teacher], triples, tmp_path / "a.tsv", rank=1, world_size=2, **kw)
        assert torch.get_num_threads() == shared
        torch.set_num_threads(1)
        score_triples([teacher], triples, tmp_path / "b.tsv", **kw)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(not bf16_supported("cpu"), reason="bf16 is off on CPUs without native support")
def test_teacher_scores_in_bf16_by_default(tmp_path):
    from kdlib.models import build

    data = easy_dataset(2)
    triples = [Triple(q, f"{q}-0", f"{q}-{i}") for q in data.queries for i in (1, 2)]
    torch.manual_seed(0)
    ranker = build("bert_cat", "tiny-random", query_max_len=8, passage_max_len=16, dropout=0.0)
    default = score_triples([ranker], triples, tmp_path / "d.tsv", dataset=data, progress=False)
    bf16 = score_triples([ranker], triples, tmp_path / "b.tsv", dataset=data, bf16=True, progress=False)
    fp32 = score_triples([ranker], triples, tmp_path / "f.tsv", dataset=data, bf16=False, progress=False)
    assert default.read_text() == bf16.read_text() != fp32.read_text()
