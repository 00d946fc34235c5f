"""The mock-lens batch pipeline: local processes, a Dask LocalCluster, resume, conditions, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.imaging import files as cubes
from lensfinder_nb.imaging import survey
from lensfinder_nb.sim import batches as pipeline
from lensfinder_nb.sim import lensing
from lensfinder_nb.sim import sky
from lensfinder_nb.cli import main
from lensfinder_nb.store import open_store


def _make_store(folder, n_fields=10, n_bare=2, seed=5):
    """Galaxy fields with conditions and central galaxy in params, plus ``n_bare`` without params."""
    table = sky.draw_fields(n_fields, seed=seed, kind="galaxy")
    central = pipeline.central_galaxy_params(table)
    rows = pipeline.synthetic_background_rows(folder, table, "bg-000", "BG-", "test", ra0=10.0)
    refs = [r["cube"] for r in rows]
    rng = np.random.default_rng(1)
    bare = rng.normal(0, 1, (n_bare, 3, 101, 101)).astype(np.float32) * np.float32(0.004)
    for i, ref in enumerate(cubes.write_batch(folder, "bare-000", bare)):
        rows.append({"subject": f"RAW-{i:03d}", "label": 0, "kind": "nonlens", "ra": 50.0 + i, "dec": 1.0,
                     "cube": ref, "params": None, "source": "test"})
    # never backgrounds: a look-alike and an unknown
    rows.append({"subject": "LOOK-1", "label": 0, "kind": "lookalike:ring", "cube": refs[0], "source": "test"})
    rows.append({"subject": "UNK-1", "label": -1, "kind": "unknown", "cube": refs[0], "source": "test"})
    store = open_store(folder / "lf.duckdb")
    store.add_subjects(pd.DataFrame(rows))
    return store, central


def _mocks(store):
    df = store.sql("SELECT * FROM subjects WHERE label = 1 ORDER BY subject")
    df["p"] = [json.loads(p) for p in df["params"]]
    return df


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    store, central = _make_store(folder)
    report = pipeline.simulate_into_store(store, 24, seed=3, batch_size=12, workers=2)
    yield folder, store, central, report
    store.close()


def test_local_processes_store_label1_mocks_with_all_parameters(local_run):
    folder, store, _, report = local_run
    df = _mocks(store)
    assert report.accepted == 24 == len(df) and report.batches_done == 2
    assert report.n_draws == 24 + sum(report.rejected.values())
    assert set(df["kind"]) == {"mock"} and set(df["source"]) == {"simulate"}
    p = df["p"].iloc[0]
    for key in ("theta_e_arcsec", "src_mag_r", "magnification", "snr_g", "snr_r", "snr_z", "mask", "background",
                "psf_fwhm_g", "sky_g_nmgy", "batch"):
        assert key in p, key
    assert not {p["background"] for p in df["p"]} & {"LOOK-1", "UNK-1"}
    assert (df["p"].map(lambda p: p["magnification"]) >= 2).all()  # the default cut (sim/arcs.py)


def test_mock_is_background_plus_float16_arc_and_files_are_batched(local_run):
    folder, store, _, _ = local_run
    df = _mocks(store)
    row = df.iloc[3]
    assert row["cube"].startswith("mock:") and row["cube"].endswith(
        store.sql("SELECT cube FROM subjects WHERE subject = ?", [row["p"]["background"]])["cube"].iloc[0])
    cube = cubes.load_cube(folder, row["cube"])
    background = cubes.load_cube(folder, row["cube"].split("+", 1)[1])
    arc = cube - background
    assert arc.sum() > 0 and np.abs(arc).max() < 100
    mask = cubes.load_mask(folder, row["p"]["mask"])
    # the mask is where the arc is visible (> 1 sky sigma): a faint arc's wings lie outside it, but the
    # masked pixels hold a good part of its flux and are far brighter than the rest
    assert mask.shape == (101, 101) and mask.any() and arc[:, mask].sum() > 0.25 * arc.sum()
    assert arc[:, mask].mean() > 20 * arc[:, ~mask].mean()
    assert row["ra"] == pytest.approx(store.sql("SELECT ra FROM subjects WHERE subject = ?",
                                                [row["p"]["background"]])["ra"].iloc[0])
    jpeg = cubes.read_image(folder, row["image"])
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
    assert len({r.split("#")[0] for r in df["image"]}) == 2  # one JPEG file per batch
    assert not list((folder / "images").glob("*.jpg"))


def test_lens_centre_and_orientation_follow_the_central_galaxy(local_run):
    _, _, central, _ = local_run
    df = _mocks(local_run[1])
    aligned = df[df["p"].map(lambda p: p["background"].startswith("BG-"))]
    assert len(aligned) > 5
    dphi = []
    for p in aligned["p"]:
        c = central.iloc[int(p["background"][3:])]
        assert p["lens_x_arcsec"] == pytest.approx((c["central_x_pix"] - 50) * 0.262, abs=1e-4)
        assert p["lens_y_arcsec"] == pytest.approx((c["central_y_pix"] - 50) * 0.262, abs=1e-4)
        # pa east of north -> angle from +x: pa 0 (north, +y) is 90 degrees; the mass scatters about it
        dphi.append((np.degrees(p["lens_phi_rad"]) - (c["central_pa_deg"] + 90) + 90) % 180 - 90)
        assert p["lens_q"] == pytest.approx(c["central_q"], rel=0.5)
        assert p["seeing_from"] == "params" and p["sky_from"] == "params"
    assert np.median(np.abs(dphi)) < 15 and np.max(np.abs(dphi)) < 45  # 10 deg scatter (params.py)


def test_backgrounds_without_params_get_mad_sky_and_desi_seeing(local_run):
    df = _mocks(local_run[1])
    bare = df[df["p"].map(lambda p: p["background"].startswith("RAW-"))]
    assert len(bare)
    p = bare["p"].iloc[0]
    assert p["sky_from"] == "cube MAD" and p["seeing_from"] == "desi default"
    assert p["sky_g_nmgy"] == pytest.approx(0.004, rel=0.05)
    assert p["psf_fwhm_g"] == survey.TYPICAL_SEEING_ARCSEC[0]


def test_rerun_resumes_and_larger_n_extends(local_run):
    _, store, _, _ = local_run
    again = pipeline.simulate_into_store(store, 24, seed=3, batch_size=12, workers=1)
    assert again.accepted == 0 and again.batches_skipped == 2
    more = pipeline.simulate_into_store(store, 30, seed=3, batch_size=12, workers=1)
    assert more.accepted == 6 and more.batches_skipped == 2 and len(_mocks(store)) == 30


def test_larger_n_after_a_partial_batch_adds_the_missing_mocks(tmp_path):
    """`simulate --n 2` then `--n 5` (one batch of 500): the second run adds 3, a third adds nothing,
    and the first two mocks keep their files."""
    store, _ = _make_store(tmp_path, n_fields=6, n_bare=0)
    first = pipeline.simulate_into_store(store, 2, seed=4, batch_size=500, workers=1)
    assert first.accepted == 2
    before = _mocks(store)
    cubes_before = [cubes.load_cube(tmp_path, ref) for ref in before["cube"]]
    more = pipeline.simulate_into_store(store, 5, seed=4, batch_size=500, workers=1)
    assert more.accepted == 3 and more.batches_done == 1 and len(_mocks(store)) == 5
    again = pipeline.simulate_into_store(store, 5, seed=4, batch_size=500, workers=1)
    assert again.accepted == 0 and again.batches_done == 0 and again.batches_skipped == 1
    assert len(_mocks(store)) == 5 and len(set(_mocks(store)["image"])) == 5
    kept = _mocks(store).set_index("subject").loc[before["subject"]]
    assert list(kept["cube"]) == list(before["cube"])
    for ref, cube in zip(before["cube"], cubes_before):
        np.testing.assert_array_equal(cubes.load_cube(tmp_path, ref), cube)
    fewer = pipeline.simulate_into_store(store, 3, seed=4, batch_size=500, workers=1)
    assert fewer.accepted == 0 and len(_mocks(store)) == 5
    store.close()


def test_an_interrupted_run_resumes(tmp_path):
    store, _ = _make_store(tmp_path, n_fields=6, n_bare=0)

    def stop_after_one(results, **_):
        yield next(iter(results))
        raise KeyboardInterrupt  # ^C after the first batch is stored

    with pytest.raises(KeyboardInterrupt):
        pipeline.simulate_into_store(store, 10, seed=6, batch_size=4, workers=1, progress=stop_after_one)
    assert len(_mocks(store)) == 4
    rest = pipeline.simulate_into_store(store, 10, seed=6, batch_size=4, workers=1)
    assert rest.accepted == 6 and rest.batches_skipped == 1 and rest.batches_done == 2
    assert len(_mocks(store)) == 10
    store.close()


def test_dask_local_cluster_gives_the_same_mocks(local_run, tmp_path):
    from distributed import Client, LocalCluster

    store, _ = _make_store(tmp_path)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        report = pipeline.simulate_into_store(store, 24, seed=3, batch_size=12, scheduler=client)
        assert report.accepted == 24 and report.batches_done == 2
        first = _mocks(store)
        by_address = pipeline.simulate_into_store(store, 30, seed=3, batch_size=12,
                                                  scheduler=cluster.scheduler_address)
        assert by_address.accepted == 6
    dask_df = _mocks(store)
    # the local run holds the same 24 (and, once test_rerun_resumes_and_larger_n_extends has run, the same 30)
    local_df = _mocks(local_run[1]).set_index("subject")
    assert len(local_df) in (24, 30) and set(first["subject"]) <= set(local_df.index)
    assert list(first["p"]) == list(local_df.loc[first["subject"], "p"])
    if len(local_df) == 30:
        assert list(dask_df["subject"]) == list(local_df.index)
        assert list(dask_df["p"]) == list(local_df["p"])
    store.close()


def test_cluster_scale_fits_the_cutout_and_uses_catalogue_masses(tmp_path):
    bg = np.zeros((2, 3, 101, 101), np.float32)
    lens = pd.DataFrame({"z_lens": [0.3, 0.3], "m500_msun": [2.5e14, 1e12]})
    # a field whose cluster cannot reach the window is swapped for another field
    mb = lensing.simulate_mocks(bg, [1.3, 1.2, 1.1], [0.003, 0.006, 0.013], 3, seed=4, scale="cluster",
                                lens_light=lens, max_draws_factor=3, min_snr=0, min_magnification=0)
    assert mb.rejected.get("catalogue theta_E outside window", 0) > 0  # the 1e12 Msun halo never lenses enough
    assert len(mb.params) and (mb.params["background"] == 0).all()
    assert (mb.params["theta_e_arcsec"] <= lensing.max_theta_e_arcsec(101) + 1e-9).all()
    row = mb.params.iloc[0]
    assert row["m200_msun"] == pytest.approx(float(lensing.m500_to_m200(2.5e14, row["c200"])))
    assert row["theta_e_arcsec"] == pytest.approx(lensing.cluster_theta_e_arcsec(
        row["m200_msun"], row["z_lens"], row["z_source"], row["c200"], row["bcg_sigma_v_kms"]), rel=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        lensing.simulate_mocks(bg, [1.3, 1.2, 1.1], [0.003, 0.006, 0.013], 1, seed=4, scale="cluster",
                               ranges={"theta_e_arcsec": (12.0, 20.0)})


def test_cluster_mocks_on_fields_with_a_central_galaxy_but_no_catalogue(tmp_path):
    """Backgrounds whose params give the central galaxy (to align mass and light) but no catalogue
    mass or redshift get drawn cluster lenses, not 'catalogue theta_E outside window' for all."""
    rows = pipeline.synthetic_background_rows(tmp_path, sky.draw_fields(4, seed=3, kind="cluster"), "cl-000",
                                              "CL-", "test")
    store = open_store(tmp_path / "lf.duckdb")
    store.add_subjects(pd.DataFrame(rows))
    report = pipeline.simulate_into_store(store, 2, scale="cluster", seed=2, workers=1)
    assert report.accepted == 2 and "catalogue theta_E outside window" not in report.rejected
    for p in _mocks(store)["p"]:
        c = json.loads(store.sql("SELECT params FROM subjects WHERE subject = ?", [p["background"]])["params"].iloc[0])
        assert p["lens_x_arcsec"] == pytest.approx((c["central_x_pix"] - 50) * 0.262, abs=1e-4)
        assert 4.0 <= p["theta_e_arcsec"] <= lensing.max_theta_e_arcsec(101)
    store.close()


def test_cli_simulate_reports_accepted_and_rejected(tmp_path, capsys):
    store, _ = _make_store(tmp_path, n_fields=6, n_bare=0)
    store.close()
    assert main(["simulate", "--db", str(tmp_path / "lf.duckdb"), "--n", "8", "--batch-size", "4",
                 "--workers", "1", "--seed", "9"]) == 0
    out = capsys.readouterr().out
    assert "8 mock lenses accepted" in out and "draws examined" in out and "rejected" in out
    assert main(["simulate", "--db", str(tmp_path / "empty.duckdb"), "--n", "2"]) == 1
    assert "no label-0 backgrounds" in capsys.readouterr().err
    store = open_store(tmp_path / "lf.duckdb")
    assert len(_mocks(store)) == 8
    store.close()
