"""The book's figures, one function each.

Every function takes plain data (pandas frames or kdlib datasets), builds a
:class:`matplotlib.figure.Figure` with labelled axes, units and a title, and returns it.
Nothing is shown or saved here: a notebook displays the returned figure, a script may
``fig.savefig(...)`` it. Figures are created with ``Figure()`` rather than ``pyplot`` so
that they are not registered with a global pyplot state (and not displayed twice in
Jupyter).

The figures follow Hofstätter et al. (2020), *Improving Efficient Neural Ranking Models
with Cross-Architecture Knowledge Distillation* (arXiv:2010.02666): Figure 1
(efficiency vs effectiveness), the raw-score-over-training figure that motivates
Margin-MSE, and the result tables drawn as grouped bars.

matplotlib and seaborn are imported inside the functions, so importing this module is cheap.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from kdlib.repro.settings import STUDENT_PATH

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The order in which teacher settings are drawn and connected (paper: baseline -> T1 -> T2).
#: One student's path: where it starts, labels only, then each teacher.
TEACHER_ORDER: tuple[str, ...] = STUDENT_PATH


def _figure(ncols: int = 1, *, width: float = 6.0, height: float = 4.2, sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A pyplot-free figure with ``ncols`` side-by-side axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), layout="constrained")
    axes = fig.subplots(1, ncols, sharey=sharey, squeeze=False)[0]
    return fig, list(axes)


def _require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: expected columns {sorted(columns)}, missing {missing} (got {list(df.columns)})")


@contextmanager
def _quiet_seaborn() -> Iterator[None]:
    """Silence deprecation warnings seaborn 0.13 triggers inside matplotlib >= 3.10 (not ours to fix)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*vert: bool was deprecated.*")
        yield


def _symlog_if_spread(ax: Axes, values: pd.Series, *, ratio: float = 20.0) -> None:
    """A symmetric log y scale when the values span more than ``ratio`` times their smallest
    typical magnitude (one architecture's ~1,000 would flatten another's ~1 on a linear axis)."""
    magnitudes = values.abs()
    small = float(magnitudes.quantile(0.1))
    if float(magnitudes.max()) > ratio * max(small, 1.0):
        ax.set_yscale("symlog", linthresh=max(small, 1.0))


def _legend(ax: Axes, title: str | None = None) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, title=title, fontsize="small", frameon=False)


def score_distributions(df: pd.DataFrame) -> Figure:
    """Raw scores of positive and negative passages per architecture, and their margins.

    Left panel: box plots of the raw score ``M(Q, P)`` of positive and negative passages
    per architecture. Right panel: the margin ``M(Q, P+) - M(Q, P-)`` per triple. The
    paper's point (Section 3): raw score ranges differ widely across architectures while
    the margins are comparable, so a loss on margins (Margin-MSE) transfers across
    architectures where a loss on raw scores would not.

    Args:
        df: one row per scored passage, columns ``arch``, ``kind`` (``"positive"`` or
            ``"negative"``) and ``score``. Triples are matched by an optional ``triple``
            column; without it the i-th positive of an architecture is paired with its
            i-th negative.

    Returns:
        A two-panel figure.
    """
    import seaborn as sns

    _require_columns(df, ("arch", "kind", "score"), "score_distributions")
    kinds = set(df["kind"].unique())
    if not kinds <= {"positive", "negative"}:
        raise ValueError(f"score_distributions: kind must be 'positive' or 'negative', got {sorted(kinds)}")
    archs = list(dict.fromkeys(df["arch"]))
    fig, (ax_scores, ax_margin) = _figure(2)
    with _quiet_seaborn():
        sns.boxplot(
            data=df, x="arch", y="score", hue="kind", hue_order=["positive", "negative"], order=archs,
            ax=ax_scores, fliersize=1.5, palette={"positive": "tab:green", "negative": "tab:red"},
        )
    ax_scores.set_xlabel("architecture")
    _symlog_if_spread(ax_scores, df["score"])
    ax_scores.set_ylabel("raw score M(Q, P) (model units)")
    ax_scores.set_title("Raw scores of positive and negative passages")
    _legend(ax_scores, "passage")

    margins = _margins(df)
    with _quiet_seaborn():
        sns.boxplot(data=margins, x="arch", y="margin", order=archs, ax=ax_margin, color="tab:blue", fliersize=1.5)
    ax_margin.axhline(0.0, color="grey", linewidth=0.8, linestyle=":")
    ax_margin.set_xlabel("architecture")
    ax_margin.set_ylabel("margin M(Q, P+) - M(Q, P-) (model units)")
    ax_margin.set_title("Per-triple margins")
    fig.suptitle("Score ranges differ across architectures; margins are comparable")
    return fig


def _margins(df: pd.DataFrame) -> pd.DataFrame:
    """Per-triple ``positive - negative`` score, per architecture."""
    frame = df.copy()
    if "triple" not in frame.columns:
        # Pair the i-th positive with the i-th negative of the same architecture.
        frame["triple"] = frame.groupby(["arch", "kind"]).cumcount()
    wide = frame.pivot_table(index=["arch", "triple"], columns="kind", values="score", aggfunc="mean")
    wide = wide.dropna(subset=[c for c in ("positive", "negative") if c in wide.columns])
    if not {"positive", "negative"} <= set(wide.columns) or wide.empty:
        raise ValueError("score_distributions: need both positive and negative scores to compute margins")
    return (wide["positive"] - wide["negative"]).rename("margin").reset_index()


def scores_over_training(logs: Mapping[str, pd.DataFrame]) -> Figure:
    """Mean raw score of positive and negative passages over training steps, per architecture.

    The paper's score-distribution figure: under standard training, each architecture
    settles on its own score range (ColBERT ~140, BERT_DOT ~100, BERT_CAT ~0, TK ~-10),
    while the gap between positives (solid) and negatives (dashed) is similar.

    Args:
        logs: architecture -> training log with columns ``step``, ``mean_pos_score`` and
            ``mean_neg_score``.

    Returns:
        A figure with the score curves (left) and the mean margin curves (right).
    """
    if not logs:
        raise ValueError("scores_over_training: expected at least one architecture's log")
    fig, (ax_scores, ax_margin) = _figure(2)
    colors = _palette(len(logs))
    for color, (arch, log) in zip(colors, logs.items()):
        _require_columns(log, ("step", "mean_pos_score", "mean_neg_score"), f"scores_over_training[{arch}]")
        log = log.sort_values("step")
        ax_scores.plot(log["step"], log["mean_pos_score"], color=color, linestyle="-", label=f"{arch} positive")
        ax_scores.plot(log["step"], log["mean_neg_score"], color=color, linestyle="--", label=f"{arch} negative")
        ax_margin.plot(log["step"], log["mean_pos_score"] - log["mean_neg_score"], color=color, label=arch)
    ax_scores.set_xlabel("training step (batches)")
    _symlog_if_spread(ax_scores, pd.concat([log[c] for log in logs.values() for c in ("mean_pos_score", "mean_neg_score")]))
    ax_scores.set_ylabel("mean raw score (model units)")
    ax_scores.set_title("Positives (solid) and negatives (dashed)")
    _legend(ax_scores)
    ax_margin.set_xlabel("training step (batches)")
    ax_margin.set_ylabel("mean margin, positive - negative (model units)")
    ax_margin.set_title("Mean margin")
    _legend(ax_margin, "architecture")
    fig.suptitle("Raw scores over training")
    return fig


def _palette(n: int) -> list[Any]:
    import seaborn as sns

    return list(sns.color_palette("tab10", max(n, 1)))


def teacher_score_ranges(df: pd.DataFrame) -> Figure:
    """Score distributions of each teacher, raw and after normalisation.

    Teachers score on their own scales (BM25 ~5-30, RepLLaMA cosine-like 0.74-0.94, our
    own BERT_CAT's logits), so the T2 ensemble mean is taken after a per-teacher
    normalisation (z-score, ``s' = scale * (s - mean_t) / std_t``).

    Args:
        df: columns ``teacher``, ``stage`` (``"raw"`` or ``"normalised"``) and ``score``.
            Without a ``stage`` column all scores are drawn as raw.

    Returns:
        A figure with one panel per stage present (raw first).
    """
    import seaborn as sns

    _require_columns(df, ("teacher", "score"), "teacher_score_ranges")
    frame = df if "stage" in df.columns else df.assign(stage="raw")
    stages = [s for s in ("raw", "normalised") if s in set(frame["stage"])]
    stages += sorted(set(frame["stage"]) - set(stages))
    teachers = list(dict.fromkeys(frame["teacher"]))
    fig, axes = _figure(len(stages), width=5.5)
    for ax, stage in zip(axes, stages):
        part = frame[frame["stage"] == stage]
        with _quiet_seaborn():
            sns.boxplot(data=part, x="teacher", y="score", order=teachers, ax=ax, color="tab:purple", fliersize=1.5)
        ax.set_xlabel("teacher")
        ax.set_ylabel(f"{stage} score (teacher units)" if stage == "raw" else f"{stage} score (scaled z-score)")
        ax.set_title(f"{stage.capitalize()} teacher scores")
        ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle("Teacher score ranges before and after normalisation")
    return fig


def efficiency_vs_effectiveness(
    df: pd.DataFrame,
    *,
    measure: str = "nDCG@10",
    latency: str = "latency_ms",
    teacher_order: Sequence[str] = TEACHER_ORDER,
) -> Figure:
    """The paper's Figure 1 redrawn: query latency against effectiveness per (arch, teacher).

    Each student is a colour; its points are connected by arrows in ``teacher_order``
    (baseline -> T1 -> T2), so the arrows show what distillation buys at unchanged latency.
    Points whose ``teacher`` is not in ``teacher_order`` (e.g. a teacher model itself) are
    drawn as stars without arrows.

    Args:
        df: columns ``arch``, ``teacher``, ``latency`` (ms per query) and ``measure``.
        measure: the effectiveness column (y axis).
        latency: the latency column in milliseconds (x axis, log scale).
        teacher_order: the order in which one student's points are connected.

    Returns:
        A one-panel figure.
    """
    _require_columns(df, ("arch", "teacher", latency, measure), "efficiency_vs_effectiveness")
    if (df[latency] <= 0).any():
        raise ValueError("efficiency_vs_effectiveness: latencies must be positive for a log-scale axis")
    fig, (ax,) = _figure(1, width=7.5, height=5.0)
    archs = list(dict.fromkeys(df["arch"]))
    rank = {t: i for i, t in enumerate(teacher_order)}
    for color, arch in zip(_palette(len(archs)), archs):
        part = df[df["arch"] == arch]
        ordered = part[part["teacher"].isin(rank)].sort_values("teacher", key=lambda s: s.map(rank))
        others = part[~part["teacher"].isin(rank)]
        if not ordered.empty:
            ax.scatter(ordered[latency], ordered[measure], color=color, s=36, zorder=3, label=arch)
        for (_, a), (_, b) in zip(ordered.iterrows(), ordered.iloc[1:].iterrows()):
            ax.annotate(
                "", xy=(b[latency], b[measure]), xytext=(a[latency], a[measure]),
                arrowprops={"arrowstyle": "->", "color": color, "lw": 1.2},
            )
        for _, row in ordered.iterrows():
            ax.annotate(str(row["teacher"]), (row[latency], row[measure]), xytext=(4, 3),
                        textcoords="offset points", fontsize="x-small", color=color)
        if not others.empty:
            ax.scatter(others[latency], others[measure], color=color, marker="*", s=90, zorder=3,
                       label=None if not ordered.empty else arch)
            for _, row in others.iterrows():
                ax.annotate(f"{arch} ({row['teacher']})", (row[latency], row[measure]), xytext=(4, -9),
                            textcoords="offset points", fontsize="x-small", color=color)
    ax.set_xscale("log")
    ax.margins(x=0.15, y=0.08)  # room for the point labels
    ax.set_xlabel("query latency (ms, log scale)")
    ax.set_ylabel(measure)
    ax.set_title(f"Efficiency vs effectiveness ({' -> '.join(teacher_order)})")
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, "architecture")
    return fig


def latency_orders(table: pd.DataFrame) -> Figure:
    """Query latency of each architecture under several settings, on one log-scale axis.

    Rows are drawn top to bottom in the table's order (the paper's latency order, fastest
    first) and each setting's points are joined: a line that only moves right down the rows
    keeps the paper's order, a line that turns back breaks it at that step.

    Args:
        table: architectures as the index, one column of latencies (ms, positive) per setting
            (e.g. :func:`kdlib.repro.latency_comparison`).

    Returns:
        A one-panel figure.
    """
    if table.empty or table.isna().any().any() or not (table > 0).all().all():
        raise ValueError("latency_orders: expected a non-empty table of positive latencies (ms) without gaps")
    fig, (ax,) = _figure(1, width=7.5, height=1.8 + 0.45 * len(table))
    rows = np.arange(len(table))
    for color, marker, column in zip(_palette(len(table.columns)), "osD^vP*X" * len(table.columns), table.columns):
        ax.plot(table[column].to_numpy(), rows, marker=marker, color=color, label=str(column), lw=1.2)
    ax.set_yticks(rows, [str(a) for a in table.index])
    ax.invert_yaxis()  # the fastest (by the paper) on top
    ax.set_xscale("log")
    ax.set_xlabel("median query latency (ms, log scale)")
    ax.set_ylabel("architecture (paper's order, fastest first)")
    ax.set_title("Latency order per setting")
    ax.grid(True, which="both", alpha=0.3)
    _legend(ax, "setting")
    return fig


def _datasets(datasets: Any) -> list[Any]:
    """Accept one dataset, a sequence of datasets or a name -> dataset mapping."""
    if hasattr(datasets, "queries"):
        return [datasets]
    if isinstance(datasets, Mapping):
        return list(datasets.values())
    return list(datasets)


def length_histograms(dataset: Any) -> Figure:
    """Query and passage lengths in words (whitespace tokens), per dataset.

    Word counts, not word pieces: the paper truncates at 30 query / 200 passage word
    pieces, and a word is about 1.3 word pieces in MS MARCO text.

    Args:
        dataset: a :class:`kdlib.data.Dataset` (``name``, ``queries``, ``passages``), a
            sequence of them, or a name -> dataset mapping.

    Returns:
        A two-panel figure (queries, passages).
    """
    import seaborn as sns

    rows = []
    for ds in _datasets(dataset):
        name = getattr(ds, "name", "dataset")
        rows += [(name, "query", len(t.split())) for t in ds.queries.values()]
        rows += [(name, "passage", len(t.split())) for t in ds.passages.values()]
    if not rows:
        raise ValueError("length_histograms: the dataset has no queries or passages")
    frame = pd.DataFrame(rows, columns=["dataset", "what", "words"])
    fig, axes = _figure(2)
    for ax, what in zip(axes, ("query", "passage")):
        part = frame[frame["what"] == what]
        if part.empty:
            ax.text(0.5, 0.5, f"no {what} texts", ha="center", va="center", transform=ax.transAxes)
        else:
            sns.histplot(data=part, x="words", hue="dataset", ax=ax, element="step", stat="count",
                         common_norm=False, discrete=what == "query")
        ax.set_xlabel(f"{what} length (words)")
        ax.set_ylabel(f"number of {what} texts")
        ax.set_title(f"{what.capitalize()} lengths")
    fig.suptitle("Text lengths per dataset")
    return fig


def grade_distribution(datasets: Any) -> Figure:
    """Number of judgements per relevance grade (TREC DL: 0-3), per dataset.

    Args:
        datasets: one :class:`kdlib.data.Dataset`, a sequence, or a name -> dataset mapping;
            datasets without qrels are skipped.

    Returns:
        A one-panel grouped bar chart.
    """
    import seaborn as sns

    rows = []
    for ds in _datasets(datasets):
        if ds.qrels is None:
            continue
        name = getattr(ds, "name", "dataset")
        rows += [(name, int(grade)) for judged in ds.qrels.values() for grade in judged.values()]
    if not rows:
        raise ValueError("grade_distribution: no dataset has qrels")
    counts = pd.DataFrame(rows, columns=["dataset", "grade"]).value_counts().rename("judgements").reset_index()
    fig, (ax,) = _figure(1, width=6.5)
    sns.barplot(data=counts, x="grade", y="judgements", hue="dataset", ax=ax, order=sorted(counts["grade"].unique()))
    ax.set_xlabel("relevance grade (0 = not relevant ... 3 = perfectly relevant)")
    ax.set_ylabel("number of judgements")
    ax.set_title("Relevance grade distribution")
    _legend(ax, "dataset")
    return fig


def _long_frame(results_df: pd.DataFrame, measure: str, what: str) -> pd.DataFrame:
    _require_columns(results_df, ("arch", "teacher"), what)
    if measure in results_df.columns:
        frame = results_df[["arch", "teacher", measure]].rename(columns={measure: "value"})
    elif {"measure", "value"} <= set(results_df.columns):
        frame = results_df.loc[results_df["measure"] == measure, ["arch", "teacher", "value"]]
    else:
        raise ValueError(f"{what}: no column {measure!r} and no long-format measure/value columns")
    if frame.empty:
        raise ValueError(f"{what}: no rows for measure {measure!r}")
    return frame


def _bars(ax: Axes, frame: pd.DataFrame, measure: str, reference: Mapping[str, float] | None) -> None:
    import seaborn as sns

    teachers = list(dict.fromkeys(frame["teacher"]))
    hue_order = [t for t in TEACHER_ORDER if t in teachers] + [t for t in teachers if t not in TEACHER_ORDER]
    sns.barplot(data=frame, x="arch", y="value", hue="teacher", hue_order=hue_order,
                order=list(dict.fromkeys(frame["arch"])), ax=ax, errorbar=None)
    for container in ax.containers:
        ax.bar_label(container, fmt="%.3f", fontsize="xx-small", padding=1)
    values = frame["value"].to_numpy(dtype=float)
    for label, value in (reference or {}).items():
        ax.axhline(value, color="0.3", linestyle="--", linewidth=1.0)
        ax.annotate(f"{label} {value:.3f}", (1.0, value), xycoords=("axes fraction", "data"), xytext=(-4, 3),
                    textcoords="offset points", ha="right", fontsize="x-small", color="0.3")
        values = np.append(values, value)
    ax.set_ylim(0.0, float(np.nanmax(values)) * 1.12 if np.nanmax(values) > 0 else 1.0)
    ax.set_xlabel("architecture")
    ax.set_ylabel(measure)


def metric_bars(results_df: pd.DataFrame, measure: str, *, reference: Mapping[str, float] | None = None) -> Figure:
    """Grouped bars of one measure: architectures on the x axis, one bar per teacher setting.

    Args:
        results_df: columns ``arch``, ``teacher`` and either a column named ``measure``
            (wide) or columns ``measure`` and ``value`` (long).
        measure: the measure to draw, e.g. ``"nDCG@10"`` or ``"RR(rel=2)@10"``.
        reference: horizontal lines to compare against, by label (e.g. ``{"BM25": 0.506}``).

    Returns:
        A one-panel figure with the values written above the bars.
    """
    frame = _long_frame(results_df, measure, "metric_bars")
    fig, (ax,) = _figure(1, width=7.5)
    _bars(ax, frame, measure, reference)
    ax.set_title(f"{measure} per architecture and teacher")
    _legend(ax, "teacher")
    return fig


def rerank_panels(panels: Mapping[str, tuple[pd.DataFrame, str, Mapping[str, float] | None]]) -> Figure:
    """The paper's Figure 1 shape: one panel per test set, grouped bars per architecture and
    teacher setting, BM25 as a line.

    Args:
        panels: panel title -> (results in the shape :func:`metric_bars` reads, the measure
            drawn, reference lines by label).
    """
    if not panels:
        raise ValueError("rerank_panels: expected at least one panel")
    fig, axes = _figure(len(panels), width=6.5)
    for ax, (title, (results_df, measure, reference)) in zip(axes, panels.items()):
        _bars(ax, _long_frame(results_df, measure, f"rerank_panels[{title}]"), measure, reference)
        ax.set_title(title)
        _legend(ax, "teacher")
    return fig


def fit_against_test(table: pd.DataFrame, *, fit_reference: Mapping[str, float],
                     test_reference: Mapping[str, float], measure: str = "nDCG@10") -> Figure:
    """Each trained student's fit (its own training queries) against its test score.

    A point far right of the test reference line's height has memorised its training queries;
    a point at the left has not learned what it was shown (see :mod:`kdlib.repro.stages.fit`).

    Args:
        table: one row per trained cell, columns ``arch``, ``teacher``, ``fit`` and ``test``
            (and ``loss``: a cell whose loss is not the paper's gets its own colour).
        fit_reference: vertical lines at what others score on the training queries, by label
            (e.g. ``{"BM25": .48, "T2": .68}``).
        test_reference: horizontal lines on the test set, by label (e.g. ``{"BM25": .506}``).
        measure: the measure both axes show (for the labels).

    Returns:
        A one-panel scatter figure, architectures by marker, teacher settings by colour.
    """
    import seaborn as sns

    from kdlib.repro.paper import PAPER_LOSSES

    _require_columns(table, ("arch", "teacher", "fit", "test"), "fit_against_test")
    if table.empty:
        raise ValueError("fit_against_test: no rows")
    table = table.copy()
    # A cell of the loss comparison is its teacher and its loss; the paper's cells, the teacher.
    table["setting"] = table["teacher"] if "loss" not in table else [
        t if loss in PAPER_LOSSES else f"{t}, {loss}" for t, loss in zip(table["teacher"], table["loss"])]
    present = list(dict.fromkeys(table["setting"]))
    hue_order = [t for t in TEACHER_ORDER if t in present] + [t for t in present if t not in TEACHER_ORDER]
    fig, (ax,) = _figure(1, width=8.5, height=5.0)
    with _quiet_seaborn():
        sns.scatterplot(data=table, x="fit", y="test", hue="setting", hue_order=hue_order, style="arch", s=70, ax=ax)
    for label, value in fit_reference.items():
        ax.axvline(value, color="0.45", linestyle=":", linewidth=1.0)
        ax.annotate(f"{label} {value:.3f}", (value, 0.0), xycoords=("data", "axes fraction"), xytext=(3, 4),
                    textcoords="offset points", rotation=90, fontsize="x-small", color="0.3")
    for label, value in test_reference.items():
        ax.axhline(value, color="0.3", linestyle="--", linewidth=1.0)
        ax.annotate(f"{label} {value:.3f} (test)", (0.0, value), xycoords=("axes fraction", "data"), xytext=(4, 3),
                    textcoords="offset points", fontsize="x-small", color="0.3")
    ax.set_xlabel(f"fit: {measure} on its own training queries")
    ax.set_ylabel(f"{measure} on the test queries")
    ax.set_title("Learned what it was shown (x) against what carries over (y)")
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles, labels, fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def training_run(log: pd.DataFrame, validation: pd.DataFrame | None, *, loss: str, title: str) -> Figure:
    """One training run: its loss over steps (left) and its validation nDCG@10 (right).

    Args:
        log: the training log (columns ``step``, ``loss``).
        validation: the validation log (columns ``step``, ``score``); ``None`` or empty: not run.
        loss: the loss's name, for the axis.
        title: what ran (the panels' titles start with it).
    """
    _require_columns(log, ("step", "loss"), "training_run")
    fig, (ax_loss, ax_valid) = _figure(2, width=5.0, height=3.6)
    ax_loss.plot(log["step"], log["loss"])
    ax_loss.set(xlabel="optimiser step", ylabel=f"{loss} loss", title=f"{title}: training loss")
    if validation is not None and len(validation):
        ax_valid.plot(validation["step"], validation["score"], marker="o")
    ax_valid.set(xlabel="optimiser step", ylabel="validation nDCG@10", title=f"{title}: validation")
    return fig


def training_scores(log: pd.DataFrame, *, loss: str, title: str) -> Figure:
    """A student's loss (left) and the mean raw scores of its positive and negative passages
    (right) over training steps (training log columns ``step``, ``loss``, ``mean_pos_score``,
    ``mean_neg_score``)."""
    _require_columns(log, ("step", "loss", "mean_pos_score", "mean_neg_score"), "training_scores")
    fig, (ax_loss, ax_scores) = _figure(2, width=5.0, height=3.6)
    ax_loss.plot(log["step"], log["loss"])
    ax_loss.set(xlabel="optimiser step", ylabel=f"{loss} loss", title=f"{title}: training loss")
    ax_scores.plot(log["step"], log["mean_pos_score"], label="positive passages")
    ax_scores.plot(log["step"], log["mean_neg_score"], "--", label="negative passages")
    ax_scores.set(xlabel="optimiser step", ylabel="mean raw score", title="Raw scores during training")
    _legend(ax_scores)
    return fig


def margin_histograms(frames: Mapping[str, pd.DataFrame], *, bins: int = 40) -> Figure:
    """Each teacher's margins ``M(Q,P+) - M(Q,P-)`` on the students' training triples, overlaid
    (frames: teacher -> a teacher file with a ``margin`` column)."""
    fig, (ax,) = _figure(width=7.0, height=3.6)
    for name, frame in frames.items():
        _require_columns(frame, ("margin",), f"margin_histograms[{name}]")
        ax.hist(frame["margin"], bins=bins, alpha=0.5, label=name)
    ax.set(xlabel="teacher margin M(Q,P+) - M(Q,P-) (teacher units)", ylabel="triples",
           title="Teacher margins on the students' training triples")
    _legend(ax, "teacher")
    return fig


def training_sizes(sizes: pd.DataFrame, *, bm25: Mapping[str, float] | None = None) -> Figure:
    """Test score against the number of training queries, one line per architecture and one
    panel per test set; 0 queries is the untrained start, BM25 a dashed line.

    Args:
        sizes: columns ``arch``, ``queries``, ``dataset``, ``measure``, ``value``
            (:func:`kdlib.repro.report.training_sizes`).
        bm25: BM25's value on each test set, by dataset.
    """
    _require_columns(sizes, ("arch", "queries", "dataset", "measure", "value"), "training_sizes")
    datasets = list(dict.fromkeys(sizes["dataset"]))
    fig, axes = _figure(len(datasets), width=5.5, height=4.0)
    archs = list(dict.fromkeys(sizes["arch"]))
    colors = dict(zip(archs, _palette(len(archs))))
    for ax, dataset in zip(axes, datasets):
        part = sizes[sizes["dataset"] == dataset]
        for arch in archs:
            line = part[part["arch"] == arch].sort_values("queries")
            ax.plot(line["queries"], line["value"], marker="o", color=colors[arch], label=arch)
        if bm25 and dataset in bm25:
            ax.axhline(bm25[dataset], color="0.3", linestyle="--", linewidth=1.0)
            ax.annotate(f"BM25 {bm25[dataset]:.3f}", (1.0, bm25[dataset]), xycoords=("axes fraction", "data"),
                        xytext=(-4, 3), textcoords="offset points", ha="right", fontsize="x-small", color="0.3")
        ax.set(xlabel="training queries (0: untrained start)", ylabel=str(part["measure"].iloc[0]), title=dataset)
        ax.set_xticks(sorted(part["queries"].unique()))
        _legend(ax, "student (T1)")
    return fig
