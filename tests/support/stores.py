"""Builders for small real stores with images, and a real Voilà server for browser tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


from lensfinder_nb.store import open_store


def store_with_subjects(location):
    """An empty store at ``location`` (a DuckDB path or a PostgreSQL URL) with twelve subjects, four of each label."""
    s = open_store(location)
    s.add_subjects(pd.DataFrame({
        "subject": [f"S{i:03d}" for i in range(12)],
        "label": [1, 1, 1, 1, 0, 0, 0, 0, -1, -1, -1, -1],
        "ra": [150.0 + i * 0.01 for i in range(12)],
        "dec": [2.0 + i * 0.01 for i in range(12)],
    }))
    return s


def image_subjects(data_dir: Path, n_per_label: int = 6, seed: int = 0) -> pd.DataFrame:
    """Subjects with real JPEG files written to ``data_dir/images``: labels 1, 0 and -1, ``n_per_label`` each."""
    rng = np.random.default_rng(seed)
    (Path(data_dir) / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for k, label in enumerate([1, 0, -1] * n_per_label):
        sid = f"T{k:04d}"
        rgb = (rng.random((101, 101, 3)) * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=80)
        (Path(data_dir) / "images" / f"{sid}.jpg").write_bytes(buf.getvalue())
        rows.append({"subject": sid, "label": label, "image": f"images/{sid}.jpg", "ra": 10 + k / 100, "dec": -5.0})
    return pd.DataFrame(rows)


def make_image_store(path: Path, n_per_label: int = 6, seed: int = 0):
    """A store whose subjects have real JPEG files: labels 1, 0 and -1, ``n_per_label`` each."""
    store = open_store(path)
    store.add_subjects(image_subjects(path.parent, n_per_label, seed))
    return store




def make_sized_mock_store(path: Path, n_mocks: int = 2):
    """A store with mock lenses of two cutout sizes, made the way users make them: 101-pixel galaxy
    fields with galaxy-scale mocks and 201-pixel cluster fields with cluster-scale mocks (the size
    the docs recommend for clusters), through ``simulate_into_store`` (cubes, arc masks, JPEGs)."""
    from lensfinder_nb.sim import sky
    from lensfinder_nb.sim.backgrounds import synthetic_background_rows
    from lensfinder_nb.sim.batches import simulate_into_store

    store = open_store(path)
    data_dir = store.settings.data_dir
    rows = synthetic_background_rows(data_dir, sky.draw_fields(6, seed=1, kind="galaxy"), "bg-101", "G101-", "test")
    rows += synthetic_background_rows(data_dir, sky.draw_fields(6, seed=2, kind="cluster", npix=201), "bg-201",
                                      "C201-", "test", ra0=160.0)
    store.add_subjects(pd.DataFrame(rows))
    for scale in ("galaxy", "cluster"):
        simulate_into_store(store, n_mocks, scale=scale, seed=1, workers=1)
    return store
