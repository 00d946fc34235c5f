"""The embedded demo: labels, a truth file kept out of the store, ids that leak nothing,
determinism, and cubes that reload and re-render; plus the image storage it relies on."""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.imaging import files as cubes; from lensfinder_nb.sim import demo; from lensfinder_nb.imaging import render
from lensfinder_nb.store import open_store

SMALL = dict(n_mocks=12, n_nonlens=14, n_unknown=40, hidden_lens_fraction=0.1)


def _build(folder, seed=0, **kw):
    store = open_store(folder / "lensfinder.duckdb")
    calls = []

    def progress(items, **kwargs):
        calls.append(kwargs)
        return iter(items)

    try:
        summary = demo.build_demo(store, seed=seed, progress=progress, **{**SMALL, **kw})
        subjects = store.subjects()
    finally:
        store.close()
    return summary, subjects, calls


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    summary, subjects, calls = _build(folder)
    return folder, summary, subjects, calls


def test_counts_by_label_and_a_good_share_of_look_alikes(built):
    _, summary, subjects, calls = built
    assert subjects["label"].value_counts().to_dict() == {1: 12, 0: 14, -1: 40}
    assert summary.labels == {-1: 40, 0: 14, 1: 12} and summary.n_subjects == 66
    nonlens = subjects[subjects["label"] == 0]["kind"]
    assert nonlens.str.startswith("lookalike:").mean() >= 0.4
    assert set(subjects[subjects["label"] == 1]["kind"]) == {"mock"}
    assert set(subjects[subjects["label"] == -1]["kind"]) == {"unknown"}
    assert (subjects["source"] == "demo").all()
    assert calls and calls[0]["total"] >= 1  # progress was reported


def test_mock_params_carry_the_simulation(built):
    folder, _, subjects, _ = built
    for _, row in subjects[subjects["label"] == 1].iterrows():
        p = json.loads(row["params"])
        assert {"theta_e_arcsec", "magnification", "snr_g", "snr_r", "snr_z", "seeing_g_arcsec",
                "sky_z_nmgy", "mask"} <= set(p)
        assert p["theta_e_arcsec"] > 0.5 and p["magnification"] > 1
        mask = cubes.load_mask(folder, p["mask"])
        assert mask.shape == (101, 101) and mask.dtype == bool and mask.any()


def test_mock_arcs_show_against_the_light_they_lie_on(built):
    """The painter judged each arc against its field's light: recomputed from the stored arc and background
    (the stored arc carries its own shot noise, hence a margin), every arc clears the cut."""
    from lensfinder_nb.sim.arcs import MIN_SNR, arc_visible_snr
    folder, _, subjects, _ = built
    for _, row in subjects[subjects["label"] == 1].iterrows():
        p = json.loads(row["params"])
        arc_ref, bg_ref = cubes.mock_parts(row["cube"])
        arc, background = cubes.load_cube(folder, arc_ref), cubes.load_cube(folder, bg_ref)
        sky = [p[f"sky_{b}_nmgy"] for b in "grz"]
        again = arc_visible_snr(np.asarray(arc, np.float32)[None], sky, np.asarray(background, np.float32)[None])
        assert p["snr_visible"] >= MIN_SNR and again.max() >= 0.8 * MIN_SNR, (row["subject"], again)
        # the painter's figure is the one measured against this very field (not against an empty sky)
        assert abs(again.max() / p["snr_visible"] - 1) < 0.15, (row["subject"], p["snr_visible"], again)


def test_the_truth_is_in_its_own_file_only(built):
    folder, summary, subjects, _ = built
    truth = pd.read_csv(folder / demo.TRUTH_FILE)
    unknown = subjects[subjects["label"] == -1]
    assert set(truth["subject"]) == set(unknown["subject"])
    hidden = truth[truth["is_lens"] == 1]
    assert len(hidden) == summary.n_hidden_lenses == 4
    assert (hidden["theta_e_arcsec"] > 0).all()
    # In the store a hidden lens looks like any other unknown.
    keys = {frozenset(json.loads(p)) for p in unknown["params"]}
    assert len(keys) == 1 and not any("theta" in k or "mag" in k for k in next(iter(keys)))
    assert not unknown["cube"].str.contains("mock:|arc|mask").any()
    secret = unknown[unknown["subject"].isin(hidden["subject"])]
    assert (secret["kind"] == "unknown").all() and secret["cube"].str.startswith("cubes/demo-0").all()
    assert demo.TRUTH_FILE not in " ".join(subjects.astype(str).to_numpy().ravel())


def test_ids_and_picture_names_do_not_reveal_the_kind(built):
    _, _, subjects, _ = built
    assert subjects["subject"].str.fullmatch(r"LF-\d{6}").all()
    assert (subjects["image"] == "images/" + subjects["subject"] + ".jpg").all()
    numbers = subjects["subject"].str[3:].astype(int)
    for label in (1, 0, -1):
        ids = np.sort(numbers[subjects["label"] == label].to_numpy())
        assert ids[-1] - ids[0] + 1 > len(ids)  # not one contiguous block
    # label changes often along the id order (a random order of 66 subjects has many runs)
    assert (subjects["label"].diff().fillna(0) != 0).sum() > 15


def test_sky_positions_are_distinct_and_in_the_footprint(built):
    _, _, subjects, _ = built
    assert not subjects.duplicated(["ra", "dec"]).any()
    assert subjects["ra"].between(0, 360).all() and subjects["dec"].between(-18, 78).all()


def test_cubes_reload_and_render_to_the_stored_pictures(built):
    folder, _, subjects, _ = built
    for _, row in subjects.iterrows():
        cube = cubes.load_cube(folder, row["cube"])
        assert cube.shape == (3, 101, 101) and cube.dtype == np.float32 and np.isfinite(cube).all()
        jpeg = render.encode_jpeg(render.viewer_rgb(cube))
        assert jpeg == (folder / row["image"]).read_bytes()
        assert len(jpeg) <= 10_000
    mock = subjects[subjects["label"] == 1].iloc[0]
    arc_ref, bg_ref = mock["cube"].removeprefix("mock:").split("+")
    np.testing.assert_array_equal(cubes.load_cube(folder, mock["cube"]),
                                  cubes.load_cube(folder, bg_ref) + cubes.load_cube(folder, arc_ref))
    cover = []
    for _, mock in subjects[subjects["label"] == 1].iterrows():
        mask = cubes.load_mask(folder, json.loads(mock["params"])["mask"])
        arc = cubes.load_cube(folder, mock["cube"].removeprefix("mock:").split("+")[0]).sum(axis=0)
        cover.append(arc[mask].sum() / arc.sum())
    # the mask covers most of the arc's light (faint arcs spread some of it below the sky's sigma)
    assert np.median(cover) > 0.7 and min(cover) > 0.4


def test_same_seed_same_demo(built, tmp_path):
    folder, _, subjects, _ = built
    _, again, _ = _build(tmp_path)
    cols = ["subject", "label", "kind", "ra", "dec", "image", "cube", "params"]
    pd.testing.assert_frame_equal(subjects[cols], again[cols])
    for name in ("cubes/demo-000.npy", "cubes/demo-arcs-000.npy", "demo_truth.csv", subjects["image"].iloc[5]):
        assert (folder / name).read_bytes() == (tmp_path / name).read_bytes()


def test_cli_builds_once_and_refuses_politely_after(tmp_path, monkeypatch, capsys):
    """``lensfinder --db X demo`` (the option before the command, refused before issue 9) builds; again refuses."""
    from lensfinder_nb.cli import main
    monkeypatch.setattr(demo, "build_demo", functools.partial(demo.build_demo, n_mocks=3, n_nonlens=3, n_unknown=4))
    db = str(tmp_path / "lf.duckdb")
    assert main(["--db", db, "demo", "--seed", "3"]) == 0
    assert re.search(r"10 subjects .*mock lenses 3, non-lenses 3, unknown 4", capsys.readouterr().out, re.S)
    assert main(["demo", "--db", db]) == 1
    assert capsys.readouterr().err.endswith("already holds 10 demo subjects; use --force to rebuild them\n")
    assert main(["demo", "--db", db, "--force"]) == 0


# ---------------------------------------------------------------------- storage
def test_batches_masks_and_fits_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    cube = rng.normal(size=(4, 3, 9, 9)).astype(np.float32)
    refs = cubes.write_batch(tmp_path, "b-000", cube)
    assert refs[2] == "cubes/b-000.npy#2"
    np.testing.assert_array_equal(cubes.load_cube(tmp_path, refs[2]), cube[2])
    masks = rng.random((2, 9, 9)) > 0.5
    mask_refs = cubes.write_batch(tmp_path, "m-000", masks)
    assert np.load(tmp_path / "cubes/m-000.npy").shape == (2, 9, 2)  # bit-packed rows
    np.testing.assert_array_equal(cubes.load_mask(tmp_path, mask_refs[1]), masks[1])
    from astropy.io import fits
    fits.PrimaryHDU(cube[1]).writeto(tmp_path / "cubes" / "one.fits")
    np.testing.assert_array_equal(cubes.load_cube(tmp_path, "cubes/one.fits"), cube[1])
    # a mock over a FITS background whose name holds a "+" (as ingested J2000 names do)
    fits.PrimaryHDU(cube[3]).writeto(tmp_path / "cubes" / "J1+2.fits")
    arc = cubes.write_batch(tmp_path, "arcs", np.ones((1, 3, 9, 9), np.float16))[0]
    np.testing.assert_allclose(cubes.load_cube(tmp_path, cubes.mock_ref(arc, "cubes/J1+2.fits")), cube[3] + 1)
    # rewriting a batch is seen by the next load (no stale memory map)
    cubes.write_batch(tmp_path, "b-000", cube * 2)
    np.testing.assert_array_equal(cubes.load_cube(tmp_path, refs[2]), 2 * cube[2])


@pytest.mark.parametrize("ref, error", [
    ("cubes/nothing.npy#0", FileNotFoundError), ("cubes/b-000.npy", ValueError), ("cubes/b-000.npy#x", ValueError),
    ("cubes/b-000.npy#9", IndexError), ("mock:cubes/b-000.npy#0", ValueError), ("", ValueError)])
def test_bad_references_fail_clearly(tmp_path, ref, error):
    cubes.write_batch(tmp_path, "b-000", np.zeros((2, 3, 5, 5), np.float32))
    with pytest.raises(error):
        cubes.load_cube(tmp_path, ref)
    with pytest.raises(ValueError, match="plain file stem"):
        cubes.write_batch(tmp_path, "../escape", np.zeros((1, 3, 5, 5), np.float32))
