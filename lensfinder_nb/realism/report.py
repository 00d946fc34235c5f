"""Mocks against real lenses: a table of statistics, histograms and a side-by-side contact sheet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .measure import STATISTICS

__all__ = ["compare_populations", "plot_comparison", "contact_sheet"]


def compare_populations(mock_stats: pd.DataFrame, real_stats: pd.DataFrame) -> pd.DataFrame:
    """One row per statistic: 16th/50th/84th percentiles of mocks and of real lenses, and the
    two-sample Kolmogorov-Smirnov distance (0 = same distribution, 1 = no overlap)."""
    from scipy.stats import ks_2samp

    rows = []
    for name, unit in STATISTICS.items():
        a = mock_stats[name].to_numpy(float)
        b = real_stats[name].to_numpy(float)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        row = {"statistic": name, "meaning": unit, "n_mock": len(a), "n_real": len(b)}
        for who, v in (("mock", a), ("real", b)):
            q = np.percentile(v, [16, 50, 84]) if len(v) else [np.nan] * 3
            row.update({f"{who}_p16": q[0], f"{who}_median": q[1], f"{who}_p84": q[2]})
        row["ks"] = float(ks_2samp(a, b).statistic) if len(a) and len(b) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def plot_comparison(mock_stats: pd.DataFrame, real_stats: pd.DataFrame, path: str | Path,
                    labels: tuple[str, str] = ("mocks", "real lenses")) -> Path:
    """Histograms of every statistic, mocks against real lenses, saved as a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(STATISTICS)
    cols = 5
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows))
    for ax, name in zip(axes.ravel(), names):
        a = mock_stats[name].to_numpy(float)
        b = real_stats[name].to_numpy(float)
        both = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
        if len(both) == 0:
            ax.set_visible(False)
            continue
        lo, hi = np.percentile(both, [1, 99])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 21)
        ax.hist(np.clip(a[np.isfinite(a)], lo, hi), bins, density=True, alpha=0.5, label=labels[0])
        ax.hist(np.clip(b[np.isfinite(b)], lo, hi), bins, density=True, alpha=0.5, label=labels[1])
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def contact_sheet(left: np.ndarray, right: np.ndarray, path: str | Path, n: int = 24, tile_px: int = 128,
                  columns: int = 4) -> Path:
    """A PNG with ``n`` cubes of ``left`` (e.g. real lenses) beside ``n`` of ``right`` (mocks), in the
    classify page's viewer colours, north up; a gap separates the two halves."""
    from PIL import Image

    from ..imaging.render import viewer_rgb

    def tiles(cubes):
        return [Image.fromarray(viewer_rgb(c)).resize((tile_px, tile_px), Image.NEAREST) for c in cubes[:n]]

    a, b = tiles(left), tiles(right)
    rows = -(-max(len(a), len(b)) // columns)
    gap = tile_px // 4
    sheet = Image.new("RGB", (2 * columns * tile_px + gap, rows * tile_px), (255, 255, 255))
    for k, im in enumerate(a):
        sheet.paste(im, ((k % columns) * tile_px, (k // columns) * tile_px))
    for k, im in enumerate(b):
        sheet.paste(im, (columns * tile_px + gap + (k % columns) * tile_px, (k // columns) * tile_px))
    path = Path(path)
    sheet.save(path)
    return path
