"""Cutouts of any size on the classify page: zoom, marks, arc feedback, on 101- and 201-pixel mocks
in one real store (cubes, arc masks and JPEGs made by `simulate`)."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from lensfinder_nb.classify.session import ClassifySession
from lensfinder_nb.imaging import files as cubes
from lensfinder_nb.imaging import render
from lensfinder_nb.ui.classify import ClassifyView
from support.stores import make_image_store, make_sized_mock_store

#: (cutout side, zoom) -> side of the centred crop shown
CROP = {(101, 1): 101, (101, 2): 51, (101, 4): 25, (201, 1): 201, (201, 2): 101, (201, 4): 51}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = make_sized_mock_store(tmp_path_factory.mktemp("sizes") / "lf.duckdb")
    yield store
    store.close()


@pytest.fixture(scope="module")
def mocks(store) -> dict[int, dict]:
    """One mock per cutout size: subject id, cube and north-up arc mask."""
    out = {}
    rows = store.sql("SELECT subject, cube, params FROM subjects WHERE kind = 'mock' ORDER BY subject")
    for row in rows.itertuples(index=False):
        cube = cubes.load_cube(store.settings.data_dir, row.cube)
        mask = np.flipud(cubes.load_mask(store.settings.data_dir, json.loads(row.params)["mask"]))
        out.setdefault(cube.shape[-1], {"subject": row.subject, "cube": cube, "mask": mask})
    assert sorted(out) == [101, 201]
    return out


def view_on(store, subject: str, user: str) -> ClassifyView:
    session = ClassifySession(store, user, seed=0, training_only=True)
    for _ in range(100):
        if session.current.subject == subject:
            return ClassifyView(session)
        session.skip()
    raise AssertionError(f"{subject} never came up")


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(float)


def click(view, x, y):
    """A click as ipyevents reports it: dataX/dataY in pixels of the picture shown (the crop)."""
    for kind in ("mousedown", "mouseup"):
        view.mouse._handle_mouse_msg(None, {"type": kind, "dataX": x, "dataY": y, "relativeX": 0, "relativeY": 0}, [])


@pytest.mark.parametrize("size", [101, 201])
def test_zoom_shows_the_centred_crop_of_the_right_size(store, mocks, size):
    mock = mocks[size]
    view = view_on(store, mock["subject"], f"zoom-{size}")
    full = render.render(mock["cube"], "r").astype(float)
    for zoom in (1, 2, 4):
        view.set_view(stretch="r", zoom=zoom)
        shown = decode(view.image.value)
        side = CROP[(size, zoom)]
        assert shown.shape[:2] == (side, side), zoom
        first = (size - side) // 2
        error = np.abs(shown - full[first:first + side, first:first + side]).mean()
        assert error < 3.0, zoom  # JPEG round-off only
        if zoom > 1:  # the same crop moved by 3 pixels is clearly worse: the crop is centred
            moved = np.abs(shown - full[first + 3:first + 3 + side, first + 3:first + 3 + side]).mean()
            assert error < 0.5 * moved, zoom


@pytest.mark.parametrize("size", [101, 201])
def test_a_click_marks_the_full_image_pixel_at_each_zoom(store, mocks, size):
    mock = mocks[size]
    view = view_on(store, mock["subject"], f"click-{size}")
    for zoom in (1, 2, 4):
        view.clear_marks()
        view.set_view(zoom=zoom)
        side = CROP[(size, zoom)]
        first = (size - side) // 2
        click(view, side - 3, 2)
        assert view.marks == [(first + side - 3, first + 2)], zoom
        assert view.overlay.value.count("<circle") == 1


@pytest.mark.parametrize("zoom", [1, 2])
def test_marks_on_the_arc_of_a_201_pixel_mock_count_as_on_the_arc(store, mocks, zoom):
    mock = mocks[201]
    view = view_on(store, mock["subject"], f"arc-201-{zoom}")
    view.set_view(zoom=zoom)
    side = CROP[(201, zoom)]
    first = (201 - side) // 2
    ys, xs = np.nonzero(mock["mask"][first:first + side, first:first + side])
    assert len(xs), "the arc lies in the zoomed crop"
    k = int(np.argmax(xs + ys))  # the arc pixel towards the lower right of the crop
    click(view, int(xs[k]), int(ys[k]))
    fb = view.vote(1)
    assert fb.marks_on_arc is True and fb.correct is True
    assert "found" in view.feedback.value.lower() or "right" in view.feedback.value.lower()


@pytest.mark.parametrize("size", [101, 201])
def test_the_feedback_outlines_the_arc_at_the_image_size(store, mocks, size):
    mock = mocks[size]
    view = view_on(store, mock["subject"], f"feedback-{size}")
    fb = view.vote(1)
    assert fb.arc_mask.shape == (size, size)
    pictures = dict(re.findall(r'src="data:image/(jpeg|png);base64,([^"]+)"', view.feedback.value))
    jpeg = Image.open(io.BytesIO(base64.b64decode(pictures["jpeg"])))
    outline = Image.open(io.BytesIO(base64.b64decode(pictures["png"])))
    assert jpeg.size == outline.size == (size, size)


def test_a_subject_with_only_a_picture_zooms_into_the_picture(tmp_path):
    store = make_image_store(tmp_path / "lf.duckdb", n_per_label=1)
    session = ClassifySession(store, "picture-only", seed=0)
    full = decode(session.picture("viewer", 1))
    zoomed = decode(session.picture("viewer", 2))
    assert full.shape[:2] == (101, 101) and zoomed.shape[:2] == (51, 51)
    assert np.abs(zoomed - full[25:76, 25:76]).mean() < 0.5 * np.abs(zoomed - full[28:79, 28:79]).mean()
    assert session.view_window(2) == (25, 25, 51, 51)
    assert session.picture("g", 2) is None  # a single band needs the cube
    store.close()
