"""``kdlib book --profile msmarco --dry-run``: every download (size, md5) and every stage (GPU hours)."""
from __future__ import annotations

import re

import pytest

from kdlib import cli
from kdlib.book import runner
from kdlib.core import profiles
from kdlib.data.irds_downloads import irds_downloads
from kdlib.repro import estimate
from kdlib.repro.irds_overview import profile_datasets
from kdlib.repro.matrix import matrix_runs


def test_msmarco_dry_run_lists_downloads_and_stage_estimates(capsys):
    assert cli.main(["book", "--profile", "msmarco", "--dry-run"]) == 0
    out = capsys.readouterr().out
    profile = profiles.load("msmarco")
    downloads = irds_downloads(profile_datasets(profile.data))
    # The collection, train queries / qrels / small triples, DEV's and DL'19's files.
    assert {d.key for d in downloads} >= {"collectionandqueries", "train/docpairs/small", "dev/scoreddocs",
                                          "trec-dl-2019/scoreddocs", "trec-dl-2019/qrels"}
    assert "train/scoreddocs" not in {d.key for d in downloads}  # the 11.5 GB BM25 lists are never read
    for download in downloads:
        line = next(line for line in out.splitlines() if download.url in line)
        assert f"md5 {download.md5}" in line and ("GB" in line or "MB" in line)
    for name, published in profile.teacher.published_files.items():
        line = next(line for line in out.splitlines() if published.url in line)
        assert f"md5 {published.md5}" in line and line.split()[0] == name
    # Every stage has an estimate; the basis of the estimates is printed: the measured H200 rates.
    stages = [line for line in out.splitlines() if re.match(r"\s+\d+\. ", line)]
    assert all(re.search(r"\(~?[\d,.]+ GPU h\)$", line) for line in stages), stages
    assert sum(" student " in line for line in stages) == len(matrix_runs(profile))
    assert "GPU hours from measured rates: NVIDIA H200, bf16 (kdlib/repro/rates/h200.yaml)" in out
    assert "counted on the CPU" in out  # the FLOPs table, for the derived rates
    assert "ASSUMED" not in out and "assumed device" not in out


def test_without_a_rate_file_the_flops_estimate_is_labelled_an_assumption(capsys):
    assert cli.main(["book", "--profile", "msmarco", "--dry-run", "--rates", "none"]) == 0
    out = capsys.readouterr().out
    assert "GPU hours ASSUMED, not measured" in out
    assert "counted on the CPU" in out and "assumed device" in out and "TFLOP/s" in out
    runs = [line for line in out.splitlines() if line.startswith("        training ")]
    assert runs and all(line.count(" assumed (") == 2 for line in runs), runs


def test_flops_estimates_follow_the_flops_table_and_the_profile():
    profile = profiles.load("msmarco")
    table = estimate.flops_table()
    assert set(table.flops_per_triple) == {"bert_cat", "bert_dot", "colbert", "prett", "tk"}
    assert "benchmarks/measure_flops.py" in table.provenance["command"]
    estimator = estimate.Estimator(profile, estimate.AssumedThroughput(table))
    # 500k steps x 32 triples x ~1.2e11 FLOPs on ~3.4 TFLOP/s: hundreds of hours per student.
    assert 100 < estimator.student_hours("bert_dot") < 1000
    assert estimator.student_hours("tk") < estimator.student_hours("bert_dot")
    shorter = profiles.apply_overrides(profile, ["train.max_steps=50000"])
    assert estimate.Estimator(shorter, estimate.AssumedThroughput(table)).student_hours("bert_dot") < \
        estimator.student_hours("bert_dot") / 5
    faster = estimate.DeviceAssumption("a faster GPU", 2 * estimate.ASSUMED_DEVICE.peak_flops, 0.30)
    assert estimate.Estimator(profile, estimate.AssumedThroughput(table, faster)).student_hours("bert_dot") == \
        pytest.approx(estimator.student_hours("bert_dot") / 2)
    assert runner.dry_run(profile, log=lambda *_: None, rates="none") > 1000


def test_a_random_encoder_costs_by_the_shape_in_its_name():
    # layers x width^2 against DistilBERT's 6 x 768^2, as for kdlib's named aliases.
    assert estimate.encoder_factor("random:6:768") == pytest.approx(1.0)
    assert estimate.encoder_factor("random:2:128") == pytest.approx(estimate.encoder_factor("splade-tiny"))
    assert estimate.encoder_factor("random:12:768") == pytest.approx(2.0)
    assert estimate.known_encoder_factor("some/hub-model") is None and estimate.encoder_factor("some/hub-model") == 1.0
    assert estimate.known_encoder_factor("random:6") is None  # malformed: unknown shape, not an error here
