"""Rendering: orientation, channel order, safety on bad input, encodings, speed."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from lensfinder_nb.imaging import render; from lensfinder_nb.sim import sky

COLOUR = ["viewer", "standard", "brighter", "bluer"]


def _cube_with(band: int | None = None, row: int = 50, col: int = 50, value: float = 1.0) -> np.ndarray:
    cube = np.zeros((3, 101, 101), np.float32)
    if band is not None:
        cube[band, row - 2:row + 3, col - 2:col + 3] = value
    return cube


@pytest.fixture(scope="module")
def field() -> np.ndarray:
    return sky.render_fields(sky.draw_fields(1, seed=5, kind="cluster"))[0]


@pytest.mark.parametrize("stretch", render.STRETCHES)
def test_north_edge_of_the_fits_cube_is_the_top_of_the_picture(stretch):
    cube = np.zeros((3, 101, 101), np.float32)
    cube[:, 95:100, 18:23] = 0.3  # a source centred on FITS row 97 of 0..100: near the north edge
    rgb = render.render(cube, stretch).astype(int)
    brightness = rgb.sum(axis=2) - rgb.sum(axis=2).min()
    rows, cols = np.indices(brightness.shape)
    top = (rows * brightness).sum() / brightness.sum()
    left = (cols * brightness).sum() / brightness.sum()
    assert abs(top - (100 - 97)) < 0.01 and abs(left - 20) < 0.01
    assert rgb.shape == (101, 101, 3) and render.render(cube, stretch).dtype == np.uint8


@pytest.mark.parametrize("stretch", COLOUR)
@pytest.mark.parametrize("band, channel", [(2, 0), (1, 1), (0, 2)])  # z red, r green, g blue
def test_each_band_lights_its_own_channel(stretch, band, channel):
    rgb = render.render(_cube_with(band=band, value=0.5), stretch).astype(int)
    pixel = rgb[50, 50]
    assert pixel[channel] == pixel.max()
    assert pixel[channel] > 2 * np.delete(pixel, channel).max()


def test_viewer_matches_the_sdss_rgb_formula(field):
    scales, m, q = {0: 6.0, 1: 3.4, 2: 2.2}, 0.03, 20.0
    planes = [field[b].astype(float) * scales[b] + m for b in range(3)]
    intensity = np.mean([np.maximum(0, p) for p in planes], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fac = np.where(intensity > 0, np.arcsinh(q * intensity) / (np.sqrt(q) * intensity), np.sqrt(q))
    expected = np.stack([np.clip(planes[b] * fac, 0, 1) for b in (2, 1, 0)], axis=-1)[::-1]
    got = render.viewer_rgb(field) / 255.0
    assert np.abs(got - expected).max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize("stretch", render.STRETCHES)
@pytest.mark.parametrize("case", ["blank", "nan", "inf", "negative", "nan_edge"])
def test_bad_input_renders_without_warnings(stretch, case):
    cube = np.zeros((3, 101, 101), np.float32)
    if case == "nan":
        cube[:] = np.nan
    elif case == "inf":
        cube[0, :10] = np.inf
        cube[1, 10:20] = -np.inf
    elif case == "negative":
        cube[:] = -0.05  # over-subtracted sky
    elif case == "nan_edge":
        cube[:] = 0.01
        cube[:, :, :30] = np.nan  # outside the survey footprint
    rgb = render.render(cube, stretch)  # warnings are errors in this test suite
    assert rgb.dtype == np.uint8 and rgb.shape == (101, 101, 3)
    if case in ("nan", "nan_edge"):
        zeroed = np.nan_to_num(cube, nan=0.0)
        np.testing.assert_array_equal(rgb, render.render(zeroed, stretch))


def test_saturated_lupton_pixels_keep_their_hue():
    cube = np.zeros((3, 101, 101), np.float32)
    cube[:, 50, 50] = [1000 / 6.0, 2000 / 3.4, 3000 / 2.2]  # on the viewer scale g : r : z = 1 : 2 : 3
    for preset, p in render.LUPTON_PRESETS.items():
        z_r_g = np.array([3.0, 2.0, 1.0]) * np.array(p["scale"])[::-1]
        expected = 255 * z_r_g / z_r_g.max()
        got = render.lupton_rgb(cube, preset)[50, 50].astype(int)
        assert np.abs(got - expected).max() <= 2, (preset, got, expected)


def test_single_band_is_grey_and_unknown_names_are_refused(field):
    grey = render.single_band(field, "r")
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    with pytest.raises(ValueError, match="unknown stretch"):
        render.render(field, "rainbow")
    with pytest.raises(ValueError, match="preset"):
        render.lupton_rgb(field, "pastel")
    with pytest.raises(ValueError, match="shape"):
        render.viewer_rgb(field[:2])


def test_jpeg_is_small_and_png_is_lossless(field):
    rgb = render.viewer_rgb(field)
    jpeg = render.encode_jpeg(rgb)
    assert jpeg[:2] == b"\xff\xd8" and len(jpeg) <= 10_000
    back = np.asarray(Image.open(io.BytesIO(jpeg)))
    assert back.shape == rgb.shape
    # chroma subsampling blurs the colour of single noise pixels; the picture itself survives
    blocks = lambda a: a[:100, :100].astype(float).reshape(20, 5, 20, 5, 3).mean(axis=(1, 3))
    assert np.abs(blocks(back) - blocks(rgb)).mean() < 4
    png = render.encode_png(rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), rgb)


def _best_of(fn, repeat=30) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@pytest.mark.parametrize("stretch", render.STRETCHES)
def test_rendering_costs_a_few_array_passes(stretch, field):
    # A ratio, not an absolute time: one stretch against a single asinh pass over the cube.
    baseline = _best_of(lambda: (np.arcsinh(field) * 255).astype(np.uint8))
    took = _best_of(lambda: render.render(field, stretch))
    assert took < 40 * baseline, f"{stretch}: {took * 1e3:.2f} ms vs {baseline * 1e3:.3f} ms baseline"
