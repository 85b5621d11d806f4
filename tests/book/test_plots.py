"""The book's figures: each returns a labelled Figure from small synthetic data."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from kdlib.book import plots

RNG = np.random.default_rng(0)
ARCHS = ("bert_cat", "bert_dot", "colbert")


def _assert_labelled(fig: Figure, min_axes: int = 1) -> None:
    assert isinstance(fig, Figure)
    axes = fig.get_axes()
    assert len(axes) >= min_axes
    for ax in axes:
        assert ax.get_xlabel().strip(), "x axis without a label"
        assert ax.get_ylabel().strip(), "y axis without a label"
        assert ax.get_title().strip() or (fig._suptitle is not None and fig._suptitle.get_text().strip())
        assert ax.has_data()
    # Draws without errors (catches bad artists that only fail at render time).
    fig.canvas.draw()


@dataclass
class _Dataset:
    name: str
    queries: dict
    passages: dict
    qrels: dict | None
    runs: dict


def _dataset(name: str, with_qrels: bool = True) -> _Dataset:
    queries = {f"q{i}": " ".join(["word"] * (3 + i)) for i in range(5)}
    passages = {f"p{i}": " ".join(["text"] * (20 + 7 * i)) for i in range(12)}
    qrels = {q: {f"p{j}": j % 4 for j in range(6)} for q in queries} if with_qrels else None
    return _Dataset(name, queries, passages, qrels, {})


def test_score_distributions_pairs_positives_with_negatives():
    rows = []
    for offset, arch in zip((0.0, 100.0, 140.0), ARCHS):
        for t in range(20):
            rows.append((arch, "positive", offset + 13 + RNG.normal(), t))
            rows.append((arch, "negative", offset + RNG.normal(), t))
    df = pd.DataFrame(rows, columns=["arch", "kind", "score", "triple"])
    fig = plots.score_distributions(df)
    _assert_labelled(fig, 2)
    margins = plots._margins(df)
    assert len(margins) == 60
    assert margins["margin"].mean() == pytest.approx(13.0, abs=1.0)
    # Without a triple column, pairing falls back to order within an architecture.
    assert len(plots._margins(df.drop(columns="triple"))) == 60


def test_score_distributions_rejects_unknown_kind():
    df = pd.DataFrame({"arch": ["a"], "kind": ["pos"], "score": [1.0]})
    with pytest.raises(ValueError, match="positive"):
        plots.score_distributions(df)


def test_scores_over_training():
    steps = np.arange(0, 100, 10)
    logs = {
        arch: pd.DataFrame({"step": steps, "mean_pos_score": base + 13 + steps * 0.1, "mean_neg_score": base + steps * 0.1})
        for arch, base in zip(ARCHS, (0.0, 100.0, 140.0))
    }
    fig = plots.scores_over_training(logs)
    _assert_labelled(fig, 2)
    assert len(fig.get_axes()[0].get_lines()) == 2 * len(ARCHS)


def test_teacher_score_ranges():
    teachers = ["rep_llama", "splade_pp", "tas_b", "ada2", "own"]
    raw = pd.DataFrame({"teacher": np.repeat(teachers, 30), "score": RNG.normal(size=150) * 5 + 20, "stage": "raw"})
    norm = raw.assign(stage="normalised", score=RNG.normal(size=150) * 4)
    fig = plots.teacher_score_ranges(pd.concat([raw, norm]))
    _assert_labelled(fig, 2)


def test_efficiency_vs_effectiveness_draws_arrows_and_log_axis():
    rows = [(a, t, lat, 0.6 + 0.02 * i + 0.05 * j) for j, (a, lat) in enumerate(zip(ARCHS, (900.0, 20.0, 28.0)))
            for i, t in enumerate(plots.TEACHER_ORDER)]
    rows.append(("bert_cat_teacher", "own", 2000.0, 0.73))
    df = pd.DataFrame(rows, columns=["arch", "teacher", "latency_ms", "nDCG@10"])
    fig = plots.efficiency_vs_effectiveness(df)
    _assert_labelled(fig)
    ax = fig.get_axes()[0]
    assert ax.get_xscale() == "log"
    arrows = [t for t in ax.texts if t.arrow_patch is not None]
    assert len(arrows) == (len(plots.TEACHER_ORDER) - 1) * len(ARCHS)
    with pytest.raises(ValueError, match="positive"):
        plots.efficiency_vs_effectiveness(df.assign(latency_ms=0.0))


def test_latency_orders_joins_each_setting_on_a_log_axis():
    table = pd.DataFrame({"students ms": [3.0, 1.0, 2.0], "paper (GPU) ms": [14.0, 23.0, 28.0]},
                         index=pd.Index(["tk", "bert_dot", "colbert"], name="arch"))
    fig = plots.latency_orders(table)
    _assert_labelled(fig)
    ax = fig.get_axes()[0]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_yticklabels()] == ["tk", "bert_dot", "colbert"]
    assert [list(line.get_xdata()) for line in ax.get_lines()] == [[3.0, 1.0, 2.0], [14.0, 23.0, 28.0]]
    for bad in (table.assign(**{"students ms": 0.0}), table.iloc[:0], table.assign(**{"students ms": float("nan")})):
        with pytest.raises(ValueError, match="positive"):
            plots.latency_orders(bad)


def test_length_histograms_and_grades():
    datasets = {"a": _dataset("a"), "b": _dataset("b"), "c": _dataset("c", with_qrels=False)}
    _assert_labelled(plots.length_histograms(datasets["a"]), 2)
    _assert_labelled(plots.length_histograms(list(datasets.values())), 2)
    fig = plots.grade_distribution(datasets)
    _assert_labelled(fig)
    heights = sorted(p.get_height() for p in fig.get_axes()[0].patches if p.get_height() > 0)
    # Two datasets with qrels x 4 grades; grades 0 and 1 occur 10 times, 2 and 3 five times.
    assert heights == [5] * 4 + [10] * 4
    with pytest.raises(ValueError, match="qrels"):
        plots.grade_distribution([datasets["c"]])


@pytest.mark.parametrize("layout", ["wide", "long"])
def test_metric_bars(layout):
    rows = [(a, t, 0.5 + 0.1 * i) for a in ARCHS for i, t in enumerate(plots.TEACHER_ORDER)]
    wide = pd.DataFrame(rows, columns=["arch", "teacher", "nDCG@10"])
    df = wide if layout == "wide" else wide.melt(id_vars=["arch", "teacher"], var_name="measure", value_name="value")
    fig = plots.metric_bars(df, "nDCG@10", reference={"BM25": 0.45})
    _assert_labelled(fig)
    bars = [p for p in fig.get_axes()[0].patches if p.get_height() > 0]
    assert len(bars) == len(ARCHS) * len(plots.TEACHER_ORDER)
    assert any("BM25 0.450" in t.get_text() for t in fig.get_axes()[0].texts)
    with pytest.raises(ValueError, match="MRR"):
        plots.metric_bars(df, "MRR@10")


def test_fit_against_test_marks_each_student_and_the_reference_lines():
    table = pd.DataFrame({"arch": ["bert_cat", "bert_cat", "colbert", "colbert"],
                          "teacher": ["baseline", "T2", "baseline", "T2"],
                          "fit": [0.67, 0.48, 0.60, 0.66], "test": [0.26, 0.31, 0.52, 0.64]})
    fig = plots.fit_against_test(table, fit_reference={"BM25": 0.48, "T2": 0.68}, test_reference={"BM25": 0.506})
    _assert_labelled(fig)
    (ax,) = fig.get_axes()
    points = np.concatenate([c.get_offsets() for c in ax.collections])
    assert sorted(map(tuple, points.tolist())) == sorted(zip(table["fit"], table["test"]))
    lines = [(list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines() if len(line.get_xdata()) == 2]
    vertical = sorted(x[0] for x, _ in lines if x[0] == x[1])
    horizontal = [y[0] for _, y in lines if y[0] == y[1]]
    assert vertical == [0.48, 0.68] and horizontal == [0.506]
    with pytest.raises(ValueError, match="columns|fit"):
        plots.fit_against_test(table.drop(columns="fit"), fit_reference={}, test_reference={})
    # A loss-comparison cell gets its own colour, named by teacher and loss.
    table["loss"] = ["ranknet", "margin_mse", "ranknet", "pointwise_mse"]
    fig = plots.fit_against_test(table, fit_reference={}, test_reference={})
    labels = [t.get_text() for t in fig.get_axes()[0].get_legend().get_texts()]
    assert "T2, pointwise_mse" in labels and "T2" in labels and "baseline" in labels


def test_training_figures_draw_every_series_and_name_missing_columns():
    log = pd.DataFrame({"step": [1, 2, 3], "loss": [0.9, 0.5, 0.4], "mean_pos_score": [1.0, 2.0, 3.0],
                        "mean_neg_score": [0.5, 0.6, 0.7]})
    validation = pd.DataFrame({"step": [2, 3], "score": [0.3, 0.4]})
    run = plots.training_run(log, validation, loss="RankNet", title="Own teacher")
    assert [len(ax.lines) for ax in run.axes] == [1, 1]
    assert [len(ax.lines) for ax in plots.training_run(log, None, loss="x", title="t").axes] == [1, 0]
    scores = plots.training_scores(log, loss="margin_mse", title="bert_dot <- T2")
    assert [len(ax.lines) for ax in scores.axes] == [1, 2]
    with pytest.raises(ValueError, match="missing \\['mean_neg_score'\\]"):
        plots.training_scores(log.drop(columns="mean_neg_score"), loss="x", title="t")
    margins = plots.margin_histograms({"T1": pd.DataFrame({"margin": [0.1, 0.5, 1.0]}),
                                       "T2": pd.DataFrame({"margin": [0.2, 0.4]})})
    assert len(margins.axes[0].patches) == 2 * 40


def test_rerank_panels_draw_one_panel_per_test_set_with_its_measure_and_bm25():
    dl19 = pd.DataFrame({"arch": ["bert_dot", "bert_dot", "tk", "tk"], "teacher": ["baseline", "T2"] * 2,
                         "measure": "nDCG@10", "value": [0.4, 0.5, 0.3, 0.35]})
    dev = dl19.assign(measure="RR@10", value=[0.2, 0.25, 0.1, 0.15])
    fig = plots.rerank_panels({"TREC-DL'19": (dl19, "nDCG@10", {"BM25": 0.506}),
                               "dev sample": (dev, "RR@10", {"BM25": 0.367})})
    assert [ax.get_ylabel() for ax in fig.axes[:2]] == ["nDCG@10", "RR@10"]
    assert [ax.get_title() for ax in fig.axes[:2]] == ["TREC-DL'19", "dev sample"]
    assert all(len(ax.patches) >= 4 for ax in fig.axes[:2])
    with pytest.raises(ValueError, match="no rows for measure 'RR@10'"):
        plots.rerank_panels({"x": (dl19, "RR@10", None)})


def test_training_sizes_draws_a_line_per_architecture_and_panel_per_test_set():
    rows = [{"arch": a, "queries": q, "dataset": d, "measure": m, "value": v + q / 1000}
            for a, v in (("bert_cat", 0.3), ("tk", 0.4)) for q in (0, 13, 27, 54)
            for d, m in (("trec-dl-2019", "nDCG@10"), ("msmarco-dev-sample", "RR@10"))]
    fig = plots.training_sizes(pd.DataFrame(rows), bm25={"trec-dl-2019": 0.506, "msmarco-dev-sample": 0.367})
    assert [ax.get_ylabel() for ax in fig.axes[:2]] == ["nDCG@10", "RR@10"]
    assert all(len(ax.lines) == 3 for ax in fig.axes[:2])  # two students and BM25
    assert list(fig.axes[0].get_xticks()) == [0, 13, 27, 54]


def test_raw_scores_far_apart_get_a_symmetric_log_axis_and_close_ones_a_linear_one():
    far = pd.DataFrame({"arch": ["colbert"] * 4 + ["bert_cat"] * 4, "kind": ["positive", "negative"] * 4,
                        "score": [1300, 1290, 1310, 1295, 0.5, -0.4, 0.6, -0.2]})
    assert plots.score_distributions(far).axes[0].get_yscale() == "symlog"
    close = far.assign(score=[1.0, 0.5, 1.1, 0.4, 0.9, 0.3, 1.2, 0.2])
    assert plots.score_distributions(close).axes[0].get_yscale() == "linear"
