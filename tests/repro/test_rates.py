"""Rate files (kdlib.repro.rates), the GPU hours made of them (kdlib.repro.estimate), the dry run
that prints them, and the benchmark that writes them (benchmarks/bench_train.py --write-rates)."""
from __future__ import annotations

import copy
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

from kdlib import cli
from kdlib.core import profiles
from kdlib.core.errors import ConfigError
from kdlib.repro import estimate, rates
from kdlib.repro.matrix import cells, main_cells

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

#: A small valid rate document; each error test breaks one thing in it.
VALID = {
    "format": 1,
    "provenance": {"device": "Test GPU", "date": "2026-12-01", "source": "a test", "commit": "abc123"},
    "precision": "bf16",
    "encoder": {"layers": 6, "width": 768},
    "lengths": {"query": 30, "passage": 200},
    "training": {"bert_dot": [{"batch_size": 32, "triples_per_s": 1000}],
                 "bert_cat": [{"batch_size": 32, "triples_per_s": 2000}, {"batch_size": 256, "triples_per_s": 4000}]},
    "scoring": {"bert_cat": [{"batch_size": 256, "pairs_per_s": 30000}]},
}


def write_doc(path: Path, document) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_the_committed_h200_file_holds_issue_19s_table():
    h200 = rates.load("h200")
    assert "h200" in rates.shipped()
    assert (h200.device, h200.precision, h200.query_len, h200.passage_len) == ("NVIDIA H200", "bf16", 30, 128)
    assert (h200.encoder.layers, h200.encoder.width, h200.encoder.relative_cost) == (6, 768, 1.0)
    figures = {arch: {m.batch_size: m.per_second for m in found} for arch, found in h200.training.items()}
    assert figures == {"bert_dot": {32: 804, 256: 1983}, "bert_cat": {32: 1412, 256: 2191}}
    assert h200.scoring == {}  # not measured: derived by the estimate
    # Provenance says exactly where the figures come from: transcribed, neither date nor commit recorded.
    assert "Issue 19" in h200.source and "transcribed" in h200.source
    assert h200.date is None and h200.commit is None
    assert h200.provenance["matmul_peak_tflops"] == {"bf16": 668}
    assert "derived" in h200.provenance and "measured" in h200.provenance
    assert profiles.load("msmarco").rates == "h200"


@pytest.mark.parametrize("change, key", [
    (lambda d: d.pop("provenance"), "provenance: missing"),
    (lambda d: d["provenance"].pop("device"), "provenance.device: missing"),
    (lambda d: d["provenance"].update(source=""), "provenance.source: expected a non-empty string"),
    (lambda d: d.update(format=2), "format: expected 1"),
    (lambda d: d.update(speed=3), "unknown key(s) speed"),
    (lambda d: d.update(precision="int8"), "precision: expected one of"),
    (lambda d: d["encoder"].update(layers=0), "encoder.layers: expected a positive integer"),
    (lambda d: d["encoder"].update(depth=6), "encoder: unknown key(s) depth"),
    (lambda d: d["lengths"].pop("passage"), "lengths.passage: missing"),
    (lambda d: d.update(training={}), "training: expected at least one"),
    (lambda d: d["training"].update({"bert-dot": d["training"].pop("bert_dot")}),
     "training.bert-dot: unknown architecture"),
    (lambda d: d["training"]["bert_dot"][0].update(triples_per_s=-5),
     "training.bert_dot[0].triples_per_s: expected a positive"),
    (lambda d: d["training"]["bert_dot"][0].pop("triples_per_s"), "training.bert_dot[0].triples_per_s: missing"),
    (lambda d: d["training"]["bert_cat"][1].update(batch_size=32),
     "training.bert_cat[1].batch_size: batch size 32 appears twice"),
    (lambda d: d["scoring"].update(bert_cat=[]), "scoring.bert_cat: expected a non-empty list"),
    (lambda d: d["scoring"]["bert_cat"][0].update(pairs_per_s="fast"), "scoring.bert_cat[0].pairs_per_s"),
])
def test_a_bad_rate_file_is_refused_naming_the_file_and_the_key(tmp_path, change, key):
    document = copy.deepcopy(VALID)
    change(document)
    path = write_doc(tmp_path / "bad.yaml", document)
    with pytest.raises(ConfigError) as error:
        rates.load(path)
    assert str(error.value).startswith(f"{path}: ") and key in str(error.value)


def test_missing_or_unreadable_rate_files(tmp_path):
    with pytest.raises(ConfigError, match=r"no rate file 'nosuch': expected one of \['h200'"):
        rates.load("nosuch")
    broken = tmp_path / "broken.yaml"
    broken.write_text("training: [unclosed\n")
    with pytest.raises(ConfigError, match=f"{broken}: not valid YAML"):
        rates.load(broken)


def test_a_written_rate_file_reads_back(tmp_path):
    path = rates.write(VALID, tmp_path / "out.yaml", header="a header")
    assert path.read_text().startswith("# a header\n")
    loaded = rates.load(path)
    assert loaded.nearest("training", "bert_cat", 64).batch_size == 32  # by ratio: 64/32 < 256/64
    assert loaded.nearest("training", "bert_cat", 128).batch_size == 256
    assert loaded.nearest("training", "tk", 32) is None
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temporary left behind
    with pytest.raises(ConfigError):  # checked before anything is written
        rates.write({**VALID, "precision": "int8"}, tmp_path / "never.yaml")
    assert not (tmp_path / "never.yaml").exists()


def test_hours_are_work_over_the_rates_by_hand(tmp_path):
    """36,000 steps x 32, validation every 4,000 steps (9 x 500 queries x top-1000), the 7,023,000
    test pairs (43 + 6,980 queries x 1,000), computed by hand from VALID's rates."""
    profile = profiles.apply_overrides(profiles.load("msmarco"), [
        "train.max_steps=36000", "teacher.own_train.max_steps=36000"])
    estimator = estimate.Estimator(profile, estimate.throughput(profile, str(write_doc(tmp_path / "r.yaml", VALID))))
    assert estimator.validation_pairs(profile.train) == 9 * 500 * 1000
    assert estimator.rerank_pairs() == 7_023_000
    # bert_cat: both rates measured (training at batch 32, scoring at eval.batch_size 256).
    cat = estimator.student("bert_cat")
    assert cat.training == pytest.approx(36000 * 32 / 2000 / 3600)  # 0.16 h
    assert cat.validation == pytest.approx(4_500_000 / 30000 / 3600)  # 150 s
    assert cat.test == pytest.approx(7_023_000 / 30000 / 3600)  # 234.1 s
    assert cat.total == pytest.approx(0.16 + 150 / 3600 + 234.1 / 3600)
    assert (cat.training_rate.basis, cat.scoring_rate.basis, cat.derived) == ("measured", "measured", False)
    # bert_dot: training measured; scoring derived from bert_cat's by the FLOPs ratio of the table.
    dot = estimator.student("bert_dot")
    assert dot.training == pytest.approx(0.32)
    dot_pairs = 30000 * 124742587392 / 123874099200
    assert dot.scoring_rate.per_second == pytest.approx(dot_pairs)
    assert dot.validation == pytest.approx(4_500_000 / dot_pairs / 3600)
    assert dot.scoring_rate.basis == "derived" and "bert_cat's measured 30,000 at batch 256" in dot.scoring_rate.how
    # tk: training derived from bert_dot's (the nearest FLOPs per triple) by the FLOPs ratio.
    tk = estimator.student("tk")
    assert tk.training_rate.per_second == pytest.approx(1000 * 123874099200 / 17962352772)
    assert tk.training_rate.basis == "derived"
    # Our own teacher: bert-base-uncased costs twice DistilBERT's shape; it scores 16M triples (2 pairs each).
    own = estimator.own_teacher()
    assert own.training == pytest.approx(36000 * 32 / (2000 / 2) / 3600)
    assert own.scoring == pytest.approx(2 * 16_000_000 / (30000 / 2) / 3600)
    assert "/ 2 for bert-base-uncased" in own.training_rate.how


def test_without_measured_scoring_pairs_are_six_times_the_training_triples(tmp_path):
    document = copy.deepcopy(VALID)
    document.pop("scoring")
    profile = profiles.load("msmarco")
    estimator = estimate.Estimator(profile, estimate.throughput(profile, str(write_doc(tmp_path / "r.yaml", document))))
    cat = estimator.student("bert_cat")
    assert cat.scoring_rate.per_second == 6 * 4000  # training at the batch nearest eval.batch_size 256
    assert cat.scoring_rate.basis == "derived" and "6 x training triples/s: measured 4,000 at batch 256" in \
        cat.scoring_rate.how
    assert cat.training_rate.basis == "measured"  # batch 32 was measured
    dot = estimator.student("bert_dot")
    assert dot.scoring_rate.per_second == 6 * 1000  # only batch 32 measured: used for 256, and said so
    assert "used for batch 256" in dot.scoring_rate.how


def _hours(line: str) -> float:
    return float(re.search(r"\(~([\d,.]+) GPU h\)$", line).group(1).replace(",", ""))


def test_msmarco_dry_run_prints_measured_hours_per_cell_and_in_total(capsys):
    assert cli.main(["book", "--profile", "msmarco", "--dry-run"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    profile = profiles.load("msmarco")
    estimator = estimate.Estimator(profile, estimate.throughput(profile))
    assert "GPU hours from measured rates: NVIDIA H200, bf16 (kdlib/repro/rates/h200.yaml)" in out
    assert "training bert_dot, triples/s: 804 at batch 32, 1,983 at batch 256" in out
    assert "scoring: none measured" in out
    students = [i for i, line in enumerate(lines) if re.match(r"\s+\d+\. student ", line)]
    assert len(students) == len(cells(profile))
    for i in students:
        assert re.search(r": training [\d.]+ h \+ validation [\d.]+ h \+ test [\d.]+ h \(~[\d.]+ GPU h\)$", lines[i])
        rate_line = lines[i + 1]  # each cell says which of its rates are measured and which derived
        assert re.match(r"\s+training [\d,]+ triples/s (measured|derived) \(.*\); scoring [\d,]+ pairs/s derived \(",
                        rate_line), rate_line
    bert_dot = next(lines[i] for i in students if " student bert_dot " in lines[i])
    hours = estimator.student("bert_dot")
    assert f"training {hours.training:,.1f} h" in bert_dot and "(~7.2 GPU h)" in bert_dot
    assert "training 804 triples/s measured (batch 32)" in lines[lines.index(bert_dot) + 1]
    tk = next(i for i in students if " student tk " in lines[i])
    assert "training 5,545 triples/s derived (bert_dot's measured 804 at batch 32 x FLOPs ratio 6.896)" in lines[tk + 1]
    # The paper's 15 main runs against the 24-hour target, then the whole paper's total.
    main = [c for arch in profile.student.architectures for c in main_cells(profile, arch)]
    subtotal = sum(estimator.student(c.arch).total for c in main)
    paper = next(line for line in lines if "the paper's 15 main runs" in line)
    assert f"~{subtotal:,.1f} GPU h" in paper and "issue 19's target of 24 h" in paper and "not met" in paper
    total = next(line for line in lines if line.strip().startswith("total for the whole paper"))
    numbered = [line for line in lines if re.match(r"\s+\d+\. ", line)]
    printed_total = float(re.search(r"~([\d,.]+) GPU hours", total).group(1).replace(",", ""))
    assert sum(_hours(line) for line in numbered if "~" in line) == pytest.approx(printed_total,
                                                                                   abs=0.05 * len(numbered) + 0.05)
    assert "on NVIDIA H200" in total


def test_bench_train_result_lines_become_a_rate_file(monkeypatch):
    bench = _bench_train(monkeypatch)
    lines = [
        "machine: NVIDIA H200, torch threads: 16, OMP_WAIT_POLICY=PASSIVE, load 0.10",
        "RESULT matmul_peak device=cuda bf16_tflops=668 fp32_tflops=55.1 fp16_tflops=nan torch=2.10",
        "RESULT train_bert_dot encoder=random-L6-H768 batch=32 precision=bf16 kdlib_triples_per_s=790 mfu=0.083",
        "RESULT train_bert_dot encoder=random-L6-H768 batch=32 precision=bf16 kdlib_triples_per_s=804 mfu=0.085",
        "RESULT train_bert_cat encoder=random-L6-H768 batch=256 precision=bf16 kdlib_triples_per_s=2191 mfu=0.238 "
        "peer=transformers_cross-encoder peer_same_precision_triples_per_s=952",
        "RESULT score_bert_cat encoder=random-L6-H768 batch=256 precision=bf16 kdlib_pairs_per_s=1.5e+04",
        "RESULT train_bert_dot encoder=splade-tiny-L2 batch=512 precision=bf16 kdlib_triples_per_s=9134",
    ]
    with pytest.raises(SystemExit, match="several encoders"):
        bench.rates_document(lines, source="s", command="c")
    document = bench.rates_document(lines, source="a test log", command="c", encoder="random-L6-H768")
    loaded = rates.parse(document, "doc")
    assert loaded.device == "NVIDIA H200" and loaded.provenance["torch"] == "2.10"
    assert loaded.provenance["matmul_peak_tflops"] == {"bf16": 668, "fp32": 55.1}
    assert (loaded.encoder.layers, loaded.encoder.width) == (6, 768)  # from the name, as older logs have it
    assert [(m.batch_size, m.per_second) for m in loaded.training["bert_dot"]] == [(32, 804)]  # the fastest
    assert loaded.training["bert_cat"][0].figures == {"mfu": 0.238, "peer_same_precision_triples_per_s": 952}
    assert loaded.scoring["bert_cat"][0].per_second == 15000
    mixed = lines[:3] + [lines[3].replace("bf16", "fp16")]
    with pytest.raises(SystemExit, match="mix precision"):
        bench.rates_document(mixed, source="s", command="c")


def test_a_small_cpu_run_of_bench_train_writes_a_rate_file(tmp_path, monkeypatch, capsys):
    """The machinery end to end on the CPU: a 2-layer random encoder, 3 steps of 4 triples, a
    few scored pairs (the matmul peak, seconds of work, is stubbed: it only feeds MFU)."""
    bench = _bench_train(monkeypatch)
    monkeypatch.setattr(bench, "matmul_peak", lambda dev, dtype, seconds=3.0: 1e12)
    out = tmp_path / "rates.yaml"
    monkeypatch.setattr(sys, "argv", ["bench_train.py", "--steps", "3", "--batch-size", "4", "--encoders",
                                      "random:2:128", "--no-peer", "--score", "--score-pairs", "16", "--score-batch",
                                      "8", "--write-rates", str(out)])
    bench.main()
    printed = capsys.readouterr().out
    loaded = rates.load(out)
    assert set(loaded.training) == set(loaded.scoring) == {"bert_dot", "bert_cat"}
    assert [m.batch_size for m in loaded.training["bert_dot"]] == [4]
    assert [m.batch_size for m in loaded.scoring["bert_cat"]] == [8]
    assert (loaded.encoder.layers, loaded.encoder.width, loaded.query_len, loaded.passage_len) == (2, 128, 30, 128)
    assert loaded.provenance["steps"] == 3 and loaded.date
    # The figures are those of the run's RESULT lines (4 significant digits).
    result = re.search(r"RESULT train_bert_dot .*kdlib_triples_per_s=(\S+)", printed).group(1)
    assert loaded.training["bert_dot"][0].per_second == float(result)
    # And the dry run turns the file into hours.
    logged: list[str] = []
    from kdlib.book import runner

    assert runner.dry_run(profiles.load("msmarco"), log=logged.append, rates=str(out)) > 0
    assert any(str(out) in line for line in logged)


def _bench_train(monkeypatch):
    """benchmarks/bench_train.py as a module (it is a script, not part of the package); it puts
    benchmarks/ on sys.path for its _common, which monkeypatch takes off again."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location("kdlib_bench_train", BENCHMARKS / "bench_train.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_pages_quote_the_dry_runs_figures():
    """The reproduction guide and benchmarks/README quote the H200 estimate: it must be the dry run's."""
    from kdlib.book import runner

    profile = profiles.load("msmarco")
    estimator = estimate.Estimator(profile, estimate.throughput(profile))
    main = [c for arch in profile.student.architectures for c in main_cells(profile, arch)]
    paper = sum(estimator.student(c.arch).total for c in main)
    total = runner.dry_run(profile, log=lambda *_: None)
    root = BENCHMARKS.parent
    guide = " ".join((root / "book" / "reproduction_guide.md").read_text().split())
    readme = " ".join((BENCHMARKS / "README.md").read_text().split())
    assert f"about {paper:.0f} GPU hours for the 15 main runs ({paper / 24:.1f}x the target) and about " \
           f"{total:.0f} for the whole paper" in guide
    assert f"to about {paper:.0f} GPU hours on one H200" in readme and f"whole paper to about {total:.0f}" in readme
