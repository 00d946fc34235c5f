"""The pixel probe, the real-lens folder reader and `lensfinder realism` on real files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from lensfinder_nb import cli
from lensfinder_nb.realism.probe import probe_auc
from lensfinder_nb.realism.reference import load_real_lenses, split_reference


def _population(rng, n, blob=0.0):
    yy, xx = np.mgrid[0:101, 0:101] - 50.0
    cubes = rng.normal(0, 0.006, (n, 3, 101, 101)).astype(np.float32)
    gal = np.exp(-np.hypot(yy, xx) / 3.0)
    flux = rng.uniform(5, 20, n)
    cubes += (flux[:, None, None, None] * np.array([0.3, 1.0, 2.0])[None, :, None, None]
              * (gal / gal.sum())[None, None]).astype(np.float32)
    ring = np.exp(-0.5 * ((np.hypot(yy, xx) - 7) / 1.0) ** 2)
    cubes[:, 0] += np.float32(blob) * (ring / ring.sum()).astype(np.float32)
    return cubes


def test_probe_cannot_tell_one_population_from_itself_but_sees_a_difference():
    rng = np.random.default_rng(0)
    same = probe_auc(_population(rng, 80), _population(rng, 80), seed=1)
    different = probe_auc(_population(rng, 80, blob=3.0), _population(rng, 80), seed=1)
    assert abs(same - 0.5) < 0.15
    assert different > 0.9


def test_split_is_stable_and_covers_both_parts():
    names = [f"L{k}.fits" for k in range(200)]
    a, b = split_reference(names), split_reference(list(reversed(names)))[::-1]
    assert (a == b).all()
    assert 70 < (a == "held_out").sum() < 130


def _write_folder(folder, cubes, seps):
    folder.mkdir()
    for k, cube in enumerate(cubes):
        fits.PrimaryHDU(cube).writeto(folder / f"real{k:02d}.fits")
    pd.DataFrame({"file": [f"real{k:02d}.fits" for k in range(len(cubes))], "image_sep": seps}).to_csv(
        folder / "manifest.csv", index=False)


def test_load_real_lenses_reads_manifest_and_refuses_a_bad_cube(tmp_path):
    rng = np.random.default_rng(3)
    _write_folder(tmp_path / "ok", _population(rng, 4), [2.4, None, 3.0, 1.0])
    real = load_real_lenses(tmp_path / "ok")
    assert real.cubes.shape == (4, 3, 101, 101)
    assert real.table["theta_e_arcsec"].tolist()[0] == pytest.approx(1.2)
    assert np.isnan(real.table["theta_e_arcsec"].iloc[1])
    (tmp_path / "bad").mkdir()
    fits.PrimaryHDU(np.zeros((5, 101, 101), np.float32)).writeto(tmp_path / "bad" / "five.fits")
    with pytest.raises(ValueError, match="five.fits"):
        load_real_lenses(tmp_path / "bad")


@pytest.mark.slow   # simulates 24 mocks and draws the report's figures
def test_realism_command_writes_its_report(tmp_path, capsys):
    from lensfinder_nb.realism.population import mock_lenses

    made = mock_lenses(24, seed=5)
    _write_folder(tmp_path / "real", made.images, 2 * made.params["theta_e_arcsec"].to_numpy())
    assert cli.main(["realism", str(tmp_path / "real"), "--mocks", "24", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "pixel probe, mocks vs real lenses: AUC" in out
    table = pd.read_csv(tmp_path / "out" / "realism.csv")
    assert {"lens_mag_r", "arc_snr", "noise_corr"} <= set(table["statistic"])
    # mocks against mocks from the same simulator: every statistic's distributions overlap
    assert table["ks"].max() < 0.6
    for name in ("realism.png", "contact_sheet.png", "realism_stats.csv"):
        assert (tmp_path / "out" / name).stat().st_size > 1000
