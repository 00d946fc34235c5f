"""Ingesting a folder of real-style cutouts: what lands, what is refused and why, and re-runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from PIL import Image

from lensfinder_nb import cli
from lensfinder_nb.realdata.ingest import IngestError, coordinate_name, ingest_directory
from lensfinder_nb.store import open_store

N = 32
PIXSCALE = 0.262


def _header(ra, dec, n=N, bands="grz"):
    h = fits.Header()
    h["CTYPE1"], h["CTYPE2"] = "RA---TAN", "DEC--TAN"
    h["CRVAL1"], h["CRVAL2"] = ra, dec
    h["CRPIX1"] = h["CRPIX2"] = (n + 1) / 2
    h["CD1_1"], h["CD1_2"], h["CD2_1"], h["CD2_2"] = -PIXSCALE / 3600, 0.0, 0.0, PIXSCALE / 3600
    if bands:
        h["BANDS"] = bands
        for i, b in enumerate(bands):
            h[f"BAND{i}"] = b
    return h


def _planes(nb=3, n=N, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    galaxy = 0.4 * np.exp(-(xx**2 + yy**2) / 12.0)
    return (rng.normal(0, 0.01, (nb, n, n)) + galaxy).astype(np.float32)


def write_cube(path, ra=150.0, dec=2.0, data=None, bands="grz", wcs=True):
    data = _planes(len(bands) if bands else 3) if data is None else data
    h = _header(ra, dec, data.shape[-1], bands) if wcs else fits.Header()
    if not wcs and bands:
        h["BANDS"] = bands
    fits.PrimaryHDU(data, header=h).writeto(path)
    return data


def write_band(path, band_data, ra=None, dec=None):
    h = _header(ra, dec, band_data.shape[-1], bands="") if ra is not None else fits.Header()
    fits.PrimaryHDU(band_data, header=h).writeto(path)


def _picture(path, n=N, fmt=None):
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(20, 200, (n, n, 3), dtype=np.uint8)).save(path, format=fmt)


@pytest.fixture
def empty_store(tmp_path):
    s = open_store(tmp_path / "data" / "lf.duckdb")
    yield s
    s.close()


def test_good_files_land_with_positions_labels_and_images(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cube = write_cube(src / "a.fits", ra=150.0, dec=2.0)
    planes = _planes(seed=5)
    for b, p in zip("grz", planes):
        write_band(src / f"b_{b}.fits", p, ra=151.0, dec=2.5)
    _picture(src / "c.png")
    _picture(src / "d.jpg")
    (src / "README.txt").write_text("notes")
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"name": ["a.fits", "b", "c", ""], "ra": [np.nan, np.nan, 152.0, np.nan],
                  "dec": [np.nan, np.nan, -1.0, np.nan], "label": [1, 0, "lens", ""]}).to_csv(labels, index=False)

    calls = []
    report = ingest_directory(empty_store, src, labels, progress=lambda it, **kw: calls.append(kw) or it)

    assert calls == [{"total": 4, "desc": "checking", "unit": "file"}]
    assert report.bad == [] and report.ignored == ["README.txt"]
    assert sorted(report.added) == ["J100000.00+020000.0", "J100400.00+023000.0", "J100800.00-010000.0", "img-d"]
    assert report.unmatched_labels == 1
    subjects = empty_store.subjects().set_index("subject")
    a = subjects.loc["J100000.00+020000.0"]
    assert (a["ra"], a["dec"], a["label"], a["kind"]) == (pytest.approx(150.0), pytest.approx(2.0), 1, "lens")
    assert json.loads(a["params"]) == {"file": "a.fits", "coords_from": "wcs"}
    assert subjects.loc["J100400.00+023000.0", "label"] == 0
    c = subjects.loc["J100800.00-010000.0"]        # a picture: position and label from the CSV
    assert (c["ra"], c["dec"], c["label"]) == (152.0, -1.0, 1) and pd.isna(c["cube"])
    d = subjects.loc["img-d"]
    assert d["label"] == -1 and np.isnan(d["ra"])

    data_dir = tmp_path / "data"
    stored = fits.getdata(data_dir / a["cube"])
    assert a["cube"] == "cubes/ingest/J100000.00+020000.0.fits"
    assert stored.shape == (3, N, N) and np.array_equal(stored, cube)
    assert np.array_equal(fits.getdata(data_dir / subjects.loc["J100400.00+023000.0", "cube"]), planes)
    from lensfinder_nb.imaging.files import load_cube, mock_ref
    assert np.array_equal(load_cube(data_dir, a["cube"]), cube)      # the shared loader reads it, "+" and all
    arc = np.zeros((1, 3, N, N), np.float16)
    from lensfinder_nb.imaging.files import write_batch
    assert np.array_equal(load_cube(data_dir, mock_ref(write_batch(data_dir, "arcs", arc)[0], a["cube"])), cube)
    hdr = fits.getheader(data_dir / a["cube"])
    assert hdr["BANDS"] == "grz" and hdr["CRVAL1"] == pytest.approx(150.0)
    for sid, row in subjects.iterrows():
        with Image.open(data_dir / row["image"]) as im:
            assert im.format == "JPEG" and im.size == (N, N)

    assert ingest_directory(empty_store, data_dir).added == []       # the store's own images are not input
    again = ingest_directory(empty_store, src, labels)
    assert again.added == [] and sorted(again.existing) == sorted(report.added) and again.bad == []
    assert len(empty_store.subjects()) == 4


def test_bad_files_are_listed_with_reasons_and_skipped(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_cube(src / "good.fits", ra=10.0, dec=0.0)
    write_cube(src / "good_again.fits", ra=10.0 + 0.5 / 3600, dec=0.0)          # same object, 0.5"
    write_cube(src / "flat.fits", ra=11.0, data=_planes()[0], bands="")          # 2-D, no band
    write_cube(src / "hwc.fits", ra=12.0, data=np.moveaxis(_planes(), 0, -1).copy(), bands="")
    write_cube(src / "noz.fits", ra=13.0, bands="gr")
    holes = _planes()
    holes[2, 12:20, 12:20] = np.nan                                  # a quarter of the centre of z
    write_cube(src / "holes.fits", ra=14.0, data=holes)
    dead = _planes()
    dead[1] = 0.0
    write_cube(src / "dead.fits", ra=15.0, data=dead)
    write_cube(src / "tiny.fits", ra=16.0, data=_planes(n=8))
    write_cube(src / "cut.fits", ra=17.0)
    raw = (src / "cut.fits").read_bytes()
    (src / "cut.fits").write_bytes(raw[: len(raw) // 2])
    (src / "text.fits").write_text("this is not a FITS file\n" * 200)
    write_band(src / "pair_g.fits", _planes()[0], ra=18.0, dec=0.0)
    write_band(src / "pair_r.fits", _planes()[1], ra=18.0, dec=0.0)
    _picture(src / "broken.jpg")
    raw = (src / "broken.jpg").read_bytes()
    (src / "broken.jpg").write_bytes(raw[: len(raw) // 3])
    _picture(src / "black.png")
    Image.new("RGB", (N, N)).save(src / "black.png")

    report = ingest_directory(empty_store, src)

    bad = dict(report.bad)
    assert report.added == ["J004000.00+000000.0"]
    assert set(bad) == {"good_again.fits", "flat.fits", "hwc.fits", "noz.fits", "holes.fits", "dead.fits",
                        "tiny.fits", "cut.fits", "text.fits", "pair_{g,r}.fits", "broken.jpg", "black.png"}
    assert bad["good_again.fits"].startswith("duplicate position: 0.50 arcsec from good.fits")
    assert "2-D image" in bad["flat.fits"]
    assert "wrong shape (32, 32, 3)" in bad["hwc.fits"]
    assert bad["noz.fits"] == "lensfinder uses the g, r and z bands: z missing (the cube has g and r)"
    assert bad["holes.fits"] == "25.0 % of the z-band pixels near the centre are NaN or zero (limit 5 %)"
    assert bad["dead.fits"] == "the r band is empty (all NaN or zero)"
    assert "8x8 pixels" in bad["tiny.fits"]
    assert bad["cut.fits"] == "truncated FITS file"
    assert bad["text.fits"].startswith("not a readable FITS file")
    assert bad["pair_{g,r}.fits"] == "lensfinder uses the g, r and z bands: z missing (found band files g and r)"
    assert bad["broken.jpg"].startswith("not a readable image")
    assert bad["black.png"] == "the image is empty (all black)"

    # A later folder with the same object again: a duplicate of what the store holds.
    more = tmp_path / "more"
    more.mkdir()
    write_cube(more / "other_name.fits", ra=10.0, dec=0.3 / 3600)
    later = ingest_directory(empty_store, more)
    assert later.added == [] and later.bad[0][1].startswith(
        "duplicate position: 0.30 arcsec from subject J004000.00+000000.0 already in the store")


def test_a_few_nan_at_survey_edges_are_zeroed_and_accepted(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    data = _planes()
    data[:, 0, :10] = np.nan                                        # 10 of 1024 pixels per band (~1 %)
    write_cube(src / "edge.fits", ra=20.0, dec=-5.0, data=data)
    report = ingest_directory(empty_store, src)
    assert report.bad == [] and report.notes == [("edge.fits", "30 NaN pixels set to 0")]
    row = empty_store.subjects().iloc[0]
    stored = fits.getdata(tmp_path / "data" / row["cube"])
    assert np.isfinite(stored).all() and (stored[:, 0, :10] == 0).all()
    assert stored.dtype.kind == "f" and stored.dtype.itemsize == 4


def test_labels_match_by_position_and_bad_labels_are_reported(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_cube(src / "x.fits", ra=30.0, dec=1.0)
    write_cube(src / "y.fits", ra=31.0, dec=1.0)
    write_cube(src / "nowcs.fits", wcs=False)
    # the first row has no position: matching by position must still pick the right row
    labels = pd.DataFrame({"name": ["elsewhere", "zzz", "y"], "ra": [np.nan, 30.0 + 0.4 / 3600, 31.0],
                           "dec": [np.nan, 1.0, 1.0], "label": [1, 0, "maybe"]})
    report = ingest_directory(empty_store, src, labels)
    assert dict(report.bad) == {"y.fits": "label 'maybe' in the labels file is not 1, 0 or -1"}
    assert report.unmatched_labels == 1
    subjects = empty_store.subjects().set_index("subject")
    assert subjects.loc[coordinate_name(30.0, 1.0), "label"] == 0
    assert subjects.loc["img-nowcs", "label"] == -1 and np.isnan(subjects.loc["img-nowcs", "ra"])


def test_labels_file_problems_are_errors(empty_store, tmp_path):
    with pytest.raises(IngestError, match="no such file or folder"):
        ingest_directory(empty_store, tmp_path / "missing")
    with pytest.raises(IngestError, match="no such labels file"):
        ingest_directory(empty_store, tmp_path, tmp_path / "nope.csv")
    (tmp_path / "l.csv").write_text("label\n1\n")
    with pytest.raises(IngestError, match=r"l.csv: line 1: missing column\(s\): needs file, or name, or ra and dec "
                                          r"\(found: label\)$"):
        ingest_directory(empty_store, tmp_path, tmp_path / "l.csv")


@pytest.mark.parametrize("content, message", [
    (b"", "l.csv: the file is empty"),
    (b"\x00\x01\x02file,label\n", "l.csv: not a CSV text file (binary data on line 1)"),
    ("file,label\nok.fits,1\nd\xe9j\xe0.fits,0\n".encode("latin-1"), "l.csv: line 3: not UTF-8 text"),
    (b"file,label\n", "l.csv: no rows after the header"),
    (b"name,ra,dec,label\na,150,2,1\nb,150,north,1\n", "l.csv: line 3: dec is not a number: 'north'"),
    (b"name,ra,dec,label\na,150,95,1\n", "l.csv: line 2: dec outside -90..90 degrees: '95'"),
])
def test_labels_file_problems_name_the_line_and_write_nothing(empty_store, tmp_path, content, message):
    src = tmp_path / "in"
    src.mkdir()
    write_cube(src / "ok.fits", ra=40.0, dec=3.0)
    (tmp_path / "l.csv").write_bytes(content)
    with pytest.raises(IngestError) as err:
        ingest_directory(empty_store, src, tmp_path / "l.csv")
    assert str(err.value).startswith(f"{tmp_path}/{message}")
    assert empty_store.subjects().empty and not (tmp_path / "data" / "images").exists()


def test_labels_table_given_as_a_frame_names_the_row(empty_store, tmp_path):
    labels = pd.DataFrame({"Filename": ["a.fits", "b.fits"], "RA [deg]": [10.0, "ten"], "dec": [1.0, 1.0]})
    with pytest.raises(IngestError, match=r"^the labels table: row 2: ra is not a number: 'ten'$"):
        ingest_directory(empty_store, tmp_path, labels)


def _cli(argv, monkeypatch):
    return cli.main(argv)


def test_cli_ingest(tmp_path, monkeypatch, capsys):
    db = tmp_path / "lf.duckdb"
    assert _cli(["ingest", str(tmp_path / "nowhere"), "--db", str(db)], monkeypatch) == 1
    assert capsys.readouterr().err == f"lensfinder: error: {tmp_path / 'nowhere'}: no such file or folder\n"

    src = tmp_path / "in"
    src.mkdir()
    assert _cli(["ingest", str(src), "--db", str(db)], monkeypatch) == 0          # nothing to do
    assert "0 added" in capsys.readouterr().out

    (src / "junk.fits").write_bytes(b"\0" * 100)
    assert _cli(["ingest", str(src), "--db", str(db)], monkeypatch) == 1          # only bad files
    out = capsys.readouterr().out
    assert out.startswith("refused: junk.fits: not a readable FITS file") and "0 added, 0 already in the store, 1 refused" in out

    write_cube(src / "ok.fits", ra=40.0, dec=3.0)
    labels = tmp_path / "l.csv"
    labels.write_text("file,label\nok.fits,1\n")
    assert _cli(["ingest", str(src), "--labels", str(labels), "--db", str(db)], monkeypatch) == 0
    assert "1 added, 0 already in the store, 1 refused" in capsys.readouterr().out
    store = open_store(db)
    try:
        subjects = store.subjects()
    finally:
        store.close()
    assert subjects["subject"].tolist() == ["J024000.00+030000.0"] and subjects["label"].tolist() == [1]
    assert subjects["source"].tolist() == ["ingest"]


# ---------------------------------------------------------------------- units, pixel scale, bands, arrays
def _cube_at_legacy_depth(seed=1, n=64):
    """g, r, z with the Legacy Survey's sky noise and a galaxy: what a nanomaggy cutout looks like."""
    from lensfinder_nb.imaging.survey import SKY_SIGMA_NMGY
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    galaxy = 2.0 * np.exp(-(xx**2 + yy**2) / 12.0)
    return (rng.normal(0, 1, (3, n, n)) * np.array(SKY_SIGMA_NMGY)[:, None, None] + galaxy).astype(np.float32)


def test_raw_counts_and_foreign_units_are_refused_with_what_was_found(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    good = _cube_at_legacy_depth()
    write_cube(src / "nmgy.fits", ra=20.0, data=good)
    # Pan-STARRS stack counts: zero point 25 + 2.5 log10(EXPTIME) -> about 1,000-5,000x nanomaggies
    write_cube(src / "counts.fits", ra=21.0, data=good * 3000.0)
    write_cube(src / "maggies.fits", ra=22.0, data=good * 1e-9)
    write_cube(src / "jansky.fits", ra=23.0, data=good)
    with fits.open(src / "jansky.fits", mode="update") as hdul:
        hdul[0].header["BUNIT"] = "Jy"
    before = len(empty_store.subjects())
    report = ingest_directory(empty_store, src)
    bad = dict(report.refused)
    assert len(report.added) == 1 and set(bad) == {"counts.fits", "maggies.fits", "jansky.fits"}
    assert "about 3,000x a Legacy Survey cutout's" in bad["counts.fits"] and "raw counts" in bad["counts.fits"]
    assert "about 1/1,100,000,000 of a Legacy Survey cutout's" in bad["maggies.fits"]
    assert "maggies, Jansky or a rescaled image?" in bad["maggies.fits"]
    assert "BUNIT = 'Jy'" in bad["jansky.fits"]
    assert len(empty_store.subjects()) == before + 1          # the refused files changed nothing

    # the same counts with the factor that makes them nanomaggies: accepted
    again = ingest_directory(empty_store, src / "counts.fits", flux_scale=1 / 3000.0)
    assert again.refused == [] and len(again.added) == 1


def test_a_cutout_at_another_pixel_scale_is_refused_and_one_without_wcs_is_noted(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    data = _cube_at_legacy_depth()
    fits.PrimaryHDU(data, header=_header(30.0, 1.0, data.shape[-1])).writeto(src / "ok.fits")
    h = _header(31.0, 1.0, data.shape[-1])
    h["CD1_1"], h["CD2_2"] = -1.0 / 3600, 1.0 / 3600                  # 1"/pixel
    fits.PrimaryHDU(data, header=h).writeto(src / "coarse.fits")
    write_cube(src / "nowcs.fits", data=_cube_at_legacy_depth(seed=2), wcs=False)
    report = ingest_directory(empty_store, src)
    bad = dict(report.refused)
    assert set(bad) == {"coarse.fits"}
    assert bad["coarse.fits"].startswith("pixel scale 1.000\"/pixel (from the header), not the Legacy Survey's 0.262")
    assert len(report.added) == 2
    assert "1 without a WCS or PIXSCALE card, taken as 0.262\"/pixel" in report.found()
    assert "pixel scale 0.262-0.262\"/pixel from the header in 1" in report.found()


def test_a_pixscale_card_without_wcs_is_read_and_checked(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name, card, value in (("hsc.fits", "PIXSCALE", 0.168), ("ls.fits", "SECPIX", 0.262),
                              ("sdss.fits", "PIXSCAL1", 0.396)):
        h = fits.Header()
        h["BANDS"], h[card] = "grz", value
        fits.PrimaryHDU(_cube_at_legacy_depth(seed=len(name)), header=h).writeto(src / name)
    report = ingest_directory(empty_store, src)
    bad = dict(report.refused)
    assert set(bad) == {"hsc.fits", "sdss.fits"}
    assert bad["hsc.fits"].startswith("pixel scale 0.168\"/pixel (from the header)")
    assert bad["sdss.fits"].startswith("pixel scale 0.396\"/pixel (from the header)")
    assert len(report.added) == 1
    assert "pixel scale 0.262-0.262\"/pixel from the header in 1" in report.found()
    assert "without a WCS" not in report.found()
    assert len(empty_store.subjects()) == 1                 # the refused files changed nothing


def test_band_files_of_other_bands_say_which_are_used(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    planes = _cube_at_legacy_depth()
    for b, plane in zip("gri", planes):
        write_band(src / f"obj_{b}.fits", plane, ra=40.0, dec=1.0)
    report = ingest_directory(empty_store, src)
    ((name, reason),) = report.refused
    assert name == "obj_{g,i,r}.fits" or name.startswith("obj_")
    assert "z missing" in reason and "i is not used" in reason


def test_npz_arrays_in_nanomaggies_are_accepted_and_others_refused_with_a_reason(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cube = _cube_at_legacy_depth()
    np.savez(src / "hwc.npz", image=np.moveaxis(cube, 0, -1), ra=50.0, dec=2.0)
    np.savez(src / "picture.npz", image=np.zeros((64, 64, 3), np.uint8) + 100, ra=51.0, dec=2.0)
    np.savez(src / "two_bands.npz", image=cube[:2], ra=52.0, dec=2.0)
    report = ingest_directory(empty_store, src)
    bad = dict(report.refused)
    assert set(bad) == {"picture.npz", "two_bands.npz"}, bad
    assert "8-bit" in bad["picture.npz"] or "picture" in bad["picture.npz"]
    assert "z missing" in bad["two_bands.npz"] or "shape" in bad["two_bands.npz"]
    (sid,) = report.added
    row = empty_store.subjects().set_index("subject").loc[sid]
    assert abs(row["ra"] - 50.0) < 1e-6 and abs(row["dec"] - 2.0) < 1e-6


def test_a_labels_row_whose_file_was_refused_is_not_called_unmatched(empty_store, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_cube(src / "counts.fits", ra=60.0, data=_cube_at_legacy_depth() * 3000.0)
    labels = pd.DataFrame({"file": ["counts.fits", "ghost.fits"], "ra": [60.0, 61.0], "dec": [2.0, 2.0],
                           "label": [1, 1]})
    report = ingest_directory(empty_store, src, labels)
    assert "counts.fits" in dict(report.refused)
    assert report.summary().endswith("labels file: 0 row(s) matched a file, 1 matched a refused file, "
                                     "1 matched no file")
