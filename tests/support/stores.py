"""Builders for small real stores with images, and a real Voilà server for browser tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


from lensfinder_nb.store import open_store


def make_image_store(path: Path, n_per_label: int = 6, seed: int = 0):
    """A store whose subjects have real JPEG files: labels 1, 0 and -1, ``n_per_label`` each."""
    store = open_store(path)
    rng = np.random.default_rng(seed)
    (path.parent / "images").mkdir(exist_ok=True)
    rows = []
    for k, label in enumerate([1, 0, -1] * n_per_label):
        sid = f"T{k:04d}"
        rgb = (rng.random((101, 101, 3)) * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=80)
        (path.parent / "images" / f"{sid}.jpg").write_bytes(buf.getvalue())
        rows.append({"subject": sid, "label": label, "image": f"images/{sid}.jpg", "ra": 10 + k / 100, "dec": -5.0})
    store.add_subjects(pd.DataFrame(rows))
    return store


