"""``lensfinder realism``: measure fresh mocks and a folder of real lenses the same way, and compare."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from .measure import measure_cubes
from .population import match_noise, mock_lenses
from .probe import probe_auc
from .profiles import radial_probe_auc
from .reference import load_real_lenses
from .report import compare_populations, contact_sheet, plot_comparison

__all__ = ["RealismReport", "realism_report", "NOISE_STATISTICS"]

#: measured on the mocks as simulated; every other statistic on mocks given the real lenses' noise
NOISE_STATISTICS = ("noise_g", "noise_r", "noise_z", "noise_corr")


@dataclass
class RealismReport:
    """The comparison table, the probes' AUCs, per-cube statistics and the files written.

    ``probe_auc``: the pixel probe on lens-recentred cutouts; ``probe_auc_as_cut``: on the cutouts as they
    were cut; ``radial_probe_auc``: on annular means of the light (the lens light's profile and brightness).
    """

    table: pd.DataFrame
    probe_auc: float
    mock_stats: pd.DataFrame
    real_stats: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)
    probe_auc_as_cut: float = float("nan")
    radial_probe_auc: float = float("nan")


def realism_report(real_folder: str | Path, out_dir: str | Path | None = None, n_mocks: int = 300, seed: int = 0,
                   part: str = "all") -> RealismReport:
    """Compare ``n_mocks`` fresh galaxy-scale mocks with the real lenses in ``real_folder``.

    ``part``: ``all``, ``calibration`` or ``held_out`` (see :func:`~lensfinder_nb.realism.reference.split_reference`).
    The mocks' morphology is measured after their noise is raised to that of a random real lens,
    so arc S/N and completeness compare like with like; their noise statistics are measured as simulated.
    With ``out_dir``: ``realism.csv`` (the table), ``realism_stats.csv`` (per cube), ``realism.png``
    (histograms) and ``contact_sheet.png`` (real lenses left, mocks right).
    """
    real = load_real_lenses(real_folder)
    if part != "all":
        real = real.subset(real.table["part"] == part)
        if len(real) == 0:
            raise InvalidInput(f"no real lenses in part {part!r}")
    rng = np.random.default_rng(seed)
    made = mock_lenses(n_mocks, seed=seed)
    mocks, params = made.images, made.params
    real_stats = measure_cubes(real.cubes, real.table["theta_e_arcsec"].to_numpy(float))
    raw = measure_cubes(mocks, params["theta_e_arcsec"].to_numpy(float))
    now = raw[["noise_g", "noise_r", "noise_z"]].to_numpy(float)
    target = real_stats[["noise_g", "noise_r", "noise_z"]].to_numpy(float)[rng.integers(0, len(real), len(mocks))]
    matched = match_noise(mocks, now, target, rng)
    mock_stats = measure_cubes(matched, params["theta_e_arcsec"].to_numpy(float))
    for name in NOISE_STATISTICS:
        mock_stats[name] = raw[name]
    groups = params["background"].to_numpy()  # copies of a background stay in one fold
    auc = probe_auc(mocks, real.cubes, seed=seed, groups=groups)
    as_cut = probe_auc(mocks, real.cubes, seed=seed, recentre=False, groups=groups)
    radial = radial_probe_auc(mocks, real.cubes, seed=seed, groups=groups)
    table = compare_populations(mock_stats, real_stats)
    report = RealismReport(table, auc, mock_stats, real_stats, probe_auc_as_cut=as_cut, radial_probe_auc=radial)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        table.assign(probe_auc=auc, probe_auc_as_cut=as_cut, radial_probe_auc=radial).to_csv(out / "realism.csv",
                                                                                             index=False)
        pd.concat([mock_stats.assign(set="mock"), real_stats.assign(set="real")]).to_csv(
            out / "realism_stats.csv", index=False)
        report.files = {"table": out / "realism.csv", "stats": out / "realism_stats.csv",
                        "plots": plot_comparison(mock_stats, real_stats, out / "realism.png"),
                        "sheet": contact_sheet(real.cubes, matched, out / "contact_sheet.png")}
    return report
