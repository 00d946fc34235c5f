"""What the analysis notebooks show: tables from the store, bqplot figures, a candidate gallery.

The notebooks (``notebooks/explore_votes.ipynb``, ``notebooks/compare_methods.ipynb``) only
call these functions.  Data functions return DataFrames and are tested directly; figure
functions return widgets (bqplot ``Figure``, ipyaggrid community ``Grid``, ipywidgets
``GridBox``).  The secret demo truth (``demo_truth.csv``) is read only by
:func:`hidden_lens_recovery` and :func:`trajectory_figure`'s caller, never by the app.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from . import METHODS, load_votes, score, swap_trajectories, volunteer_metrics

__all__ = ["activity", "volunteer_table", "all_scores", "roc_curve", "hidden_lens_recovery", "top_candidates",
           "grid", "activity_figure", "performance_figure", "roc_figure", "trajectory_figure", "plpd_figure",
           "gallery", "trajectories", "GRID_DEFAULT_COLDEF"]

#: ag-Grid 28 column defaults for every table: sort, filter and resize any column.
GRID_DEFAULT_COLDEF = {"sortable": True, "filter": True, "resizable": True}

# ---------------------------------------------------------------------- data
def activity(store, minutes: int = 1) -> pd.DataFrame:
    """Counted votes per time bin of ``minutes``: minute (bin start, UTC), votes, volunteers, lens_votes."""
    from ..store import queries

    return queries.activity_counts(store, minutes).rename(columns={"start": "minute"})


def volunteer_table(store) -> pd.DataFrame:
    """:func:`~lensfinder_nb.scoring.volunteer_metrics` of the store's counted votes, most active first."""
    m = volunteer_metrics(load_votes(store))
    return m.sort_values(["n_votes", "user_id"], ascending=[False, True], ignore_index=True)


def all_scores(store, methods=tuple(METHODS)) -> dict[str, pd.DataFrame]:
    """Scores of every method (default thresholds), from one read of the votes."""
    coded = load_votes(store)
    return {m: score(coded, None, m) for m in methods}


def roc_curve(probability: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate) at every distinct threshold, from (0, 0) to (1, 1)."""
    p, y = np.asarray(probability, dtype=np.float64), np.asarray(truth).astype(bool)
    order = np.argsort(-p, kind="stable")
    p, y = p[order], y[order]
    last = np.r_[p[1:] != p[:-1], True]             # end of each group of tied probabilities
    tp, fp = np.cumsum(y)[last], np.cumsum(~y)[last]
    return np.r_[0.0, fp / max(fp[-1], 1)], np.r_[0.0, tp / max(tp[-1], 1)]


def hidden_lens_recovery(scores: dict[str, pd.DataFrame], truth: pd.Series) -> pd.DataFrame:
    """How many hidden lenses each method finds among the unknowns in ``truth`` (1/0 by subject).

    Columns: method, hidden (lenses in the truth), detected (status 'detected'), false_detections
    (detected non-lenses), in_top (hidden lenses among the ``hidden`` highest-scored unknowns).
    """
    lenses = set(truth.index[truth.to_numpy() == 1])
    rows = []
    for method, s in scores.items():
        s = s[s["subject"].isin(truth.index)]
        detected = set(s["subject"][s["status"] == "detected"])
        top = s.sort_values(["probability", "subject"], ascending=[False, True]).head(len(lenses))
        rows.append({"method": method, "hidden": len(lenses), "detected": len(detected & lenses),
                     "false_detections": len(detected - lenses), "in_top": len(set(top["subject"]) & lenses)})
    return pd.DataFrame(rows)


def top_candidates(scores: pd.DataFrame, subjects: pd.DataFrame, n: int = 12) -> pd.DataFrame:
    """The ``n`` highest-scored unknown subjects (detected or not): subject, probability, n_votes, image."""
    unknown = subjects.loc[subjects["label"] == -1, ["subject", "image"]]
    s = scores.merge(unknown, on="subject")
    return s.sort_values(["probability", "subject"], ascending=[False, True]).head(n)[
        ["subject", "probability", "n_votes", "image"]].reset_index(drop=True)


# ---------------------------------------------------------------------- widgets
def grid(frame: pd.DataFrame, height: int = 320):
    """An ipyaggrid table (community build, no licence key) with sortable, filterable columns."""
    from ipyaggrid.community import Grid

    data = frame.copy()
    for col in data.columns:
        if data[col].dtype.kind == "M":
            data[col] = data[col].dt.strftime("%Y-%m-%d %H:%M:%S")
        elif data[col].dtype.kind == "f":
            data[col] = data[col].round(4)
    data = data.astype(object).where(data.notna(), None)
    options = {"columnDefs": [{"field": c, "headerName": c} for c in data.columns],
               "defaultColDef": GRID_DEFAULT_COLDEF}
    return Grid(grid_data=data, grid_options=options, height=height, quick_filter=True, theme="ag-theme-balham")


def _figure(marks, x, y, title: str, **layout):
    import bqplot as bq

    axes = [bq.Axis(scale=x[0], label=x[1]), bq.Axis(scale=y[0], label=y[1], orientation="vertical")]
    return bq.Figure(marks=marks, axes=axes, title=title, layout={"width": "640px", "height": "380px"},
                     fig_margin={"top": 50, "bottom": 50, "left": 70, "right": 20}, **layout)


def activity_figure(act: pd.DataFrame):
    """Votes per minute (bars) over the session."""
    import bqplot as bq

    x, y = bq.DateScale(), bq.LinearScale(min=0)
    bars = bq.Bars(x=act["minute"].to_numpy(dtype="datetime64[ms]"), y=act["votes"].to_numpy(),
                   scales={"x": x, "y": y}, colors=["#4c78a8"])
    return _figure([bars], (x, "time (UTC)"), (y, "votes per bin"), "Activity")


def performance_figure(metrics: pd.DataFrame):
    """Accuracy on training subjects against number of votes, one point per volunteer (skill as colour)."""
    import bqplot as bq

    m = metrics.dropna(subset=["accuracy"])
    x, y, c = bq.LogScale(), bq.LinearScale(min=0, max=1), bq.ColorScale(scheme="viridis")
    dots = bq.Scatter(x=m["n_votes"].to_numpy(dtype=float), y=m["accuracy"].to_numpy(),
                      color=m["skill"].to_numpy(), scales={"x": x, "y": y, "color": c},
                      tooltip=bq.Tooltip(fields=["x", "y"], labels=["votes", "accuracy"]))
    return _figure([dots], (x, "votes (log)"), (y, "accuracy on training"), "Volunteers: accuracy and activity")


def completeness_figure(tables: dict[str, pd.DataFrame], xlabel: str, title: str):
    """Completeness per bin (from :func:`~lensfinder_nb.scoring.selection.completeness`), one line with
    +/- 1 binomial standard error bars per searcher (crowd, machine); bins in order along x."""
    import bqplot as bq

    x, y = bq.OrdinalScale(), bq.LinearScale(min=0, max=1)
    colours = ["#4c78a8", "#f58518", "#54a24b", "#b279a2"]
    marks = []
    for (name, t), colour in zip(tables.items(), colours):
        t = t[t["n"] > 0]
        bins = t["bin"].tolist()
        p, e = t["completeness"].to_numpy(float), t["error"].to_numpy(float)
        marks.append(bq.Lines(x=bins, y=p, scales={"x": x, "y": y}, colors=[colour], marker="circle",
                              labels=[name], display_legend=True))
        # error bars: one vertical segment per bin
        marks.append(bq.Lines(x=[[b, b] for b in bins], y=[[max(0.0, a - s), min(1.0, a + s)] for a, s in zip(p, e)],
                              scales={"x": x, "y": y}, colors=[colour]))
    return _figure(marks, (x, xlabel), (y, "completeness"), title)


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]):
    """ROC curves, one line per method: TPR against FPR."""
    import bqplot as bq

    x, y = bq.LinearScale(min=0, max=1), bq.LinearScale(min=0, max=1)
    colours = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"]
    lines = [bq.Lines(x=fpr, y=tpr, scales={"x": x, "y": y}, labels=[name], display_legend=True,
                      colors=[colours[i % len(colours)]]) for i, (name, (fpr, tpr)) in enumerate(curves.items())]
    return _figure(lines, (x, "false-positive rate"), (y, "true-positive rate"), "ROC on training subjects")


def trajectory_figure(traj: pd.DataFrame, kind: pd.Series, detect: float = 0.95, reject: float = 1e-7,
                      max_subjects: int = 200):
    """Space Warps plot: each subject's probability (log) against the number of votes.

    ``kind``: a colour key per subject (e.g. 'sim', 'dud', 'unknown', 'hidden lens').
    """
    import bqplot as bq

    keep = traj["subject"].drop_duplicates().head(max_subjects)
    t = traj[traj["subject"].isin(keep)]
    x, y = bq.LinearScale(min=0), bq.LogScale(min=1e-9, max=1)
    palette = {"sim": "#4c78a8", "dud": "#e45756", "unknown": "#bbbbbb", "hidden lens": "#f58518"}
    marks = []
    for subject, g in t.groupby("subject", sort=False):
        colour = palette.get(kind.get(subject, "unknown"), "#bbbbbb")
        marks.append(bq.Lines(x=np.r_[0, g["k"].to_numpy()], y=np.r_[2e-4, np.clip(g["probability"], 1e-9, 1)],
                              scales={"x": x, "y": y}, colors=[colour], stroke_width=1, opacities=[0.6]))
    for level in (detect, reject):
        marks.append(bq.Lines(x=[0, max(int(t["k"].max()) if len(t) else 1, 1)], y=[level, level],
                              scales={"x": x, "y": y}, colors=["black"], line_style="dashed"))
    return _figure(marks, (x, "number of votes"), (y, "P(lens)"), "Subject trajectories (online SWAP)")


def plpd_figure(metrics: pd.DataFrame):
    """The PL-PD plane: each volunteer's P('lens'|lens) against P('not'|not), size by votes."""
    import bqplot as bq

    x, y = bq.LinearScale(min=0, max=1), bq.LinearScale(min=0, max=1)
    size = bq.LinearScale()
    dots = bq.Scatter(x=metrics["PD"].to_numpy(), y=metrics["PL"].to_numpy(),
                      size=np.sqrt(metrics["n_votes"].to_numpy(dtype=float)), scales={"x": x, "y": y, "size": size},
                      default_opacities=[0.6], colors=["#4c78a8"])
    diag = bq.Lines(x=[0, 1], y=[1, 0], scales={"x": x, "y": y}, colors=["grey"], line_style="dashed")
    return _figure([dots, diag], (x, "PD = P('not' | not a lens)"), (y, "PL = P('lens' | lens)"),
                   "Volunteers in the PL-PD plane (random guessers on the dashed line)")


def gallery(cands: pd.DataFrame, data_dir: str | Path, columns: int = 4):
    """The candidates' JPEGs (paths relative to ``data_dir``) in a grid, with id and probability."""
    import ipywidgets as w

    from ..classify.personal import thumbnail

    cells = []
    for r in cands.itertuples():
        data = thumbnail(Path(data_dir), r.image)
        picture = w.Image(value=data, format="jpeg", width=160, height=160) if data else w.HTML("<i>no image</i>")
        cells.append(w.VBox([picture, w.HTML(f"<b>{html.escape(str(r.subject))}</b><br>"
                                             f"P = {r.probability:.3g}, {r.n_votes} votes")]))
    return w.GridBox(cells, layout=w.Layout(grid_template_columns=f"repeat({columns}, 180px)", grid_gap="8px"))


def trajectories(store) -> pd.DataFrame:
    """Online SWAP probability after each vote of every subject (see ``swap_trajectories``)."""
    return swap_trajectories(load_votes(store))
