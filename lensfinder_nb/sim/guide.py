"""Field-guide pictures: lens types and look-alikes, made once from the synthetic sky.

The guide's examples are *not* subjects, so showing them never gives away the answer to an
image a person will classify.  ``ensure_guide(data_dir)`` builds ``guide/*.jpg`` and
``guide/guide.json`` the first time (about a second) and is a no-op afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["GUIDE_ENTRIES", "ensure_guide", "load_guide"]

#: (entry id, section) in display order; titles and texts live in the catalogues as
#: ``guide.<id>.title`` / ``guide.<id>.text``.
GUIDE_ENTRIES: tuple[tuple[str, str], ...] = (
    ("mock_small", "lens"), ("mock_medium", "lens"), ("mock_large", "lens"), ("mock_cluster", "lens"),
    ("ring", "lookalike"), ("spiral", "lookalike"), ("merger", "lookalike"), ("companion", "lookalike"),
    ("arc_companion", "lookalike"), ("trail", "artefact"), ("bright_star", "artefact"),
)
_MANIFEST = "guide/guide.json"
#: where in its S/N ranking each galaxy-scale example is picked (small, medium, large): faint to bright
_SNR_QUANTILE = (0.25, 0.5, 1.0)


def load_guide(data_dir: str | Path) -> list[dict]:
    """The guide entries with their picture paths (relative to ``data_dir``), or [] if not built."""
    path = Path(data_dir) / _MANIFEST
    if not path.exists():
        return []
    return json.loads(path.read_text())


def ensure_guide(data_dir: str | Path, seed: int = 2024) -> list[dict]:
    """Build the guide pictures if they are missing; returns the entries."""
    entries = load_guide(data_dir)
    if entries and all((Path(data_dir) / e["image"]).exists() for e in entries):
        return entries
    return _build(Path(data_dir), seed)


def _build(data_dir: Path, seed: int) -> list[dict]:
    from . import lensing
    from ..imaging import render
    from . import sky
    from ..imaging.files import _atomic_write

    rng = np.random.default_rng(seed)
    lookalikes = [e for e, s in GUIDE_ENTRIES if s != "lens"]
    table = sky.draw_fields(len(lookalikes), rng, kind=lookalikes)
    cubes = dict(zip(lookalikes, sky.render_fields(table)))

    # Mock lenses: one galaxy-scale arc in each third of Einstein radii, from obvious to realistic
    # (the brightest large arc, a median medium one, a faint small one, as most real arcs are), and a
    # cluster arc; each entry keeps its arc S/N so the tutorial can order and label them.
    hosts = sky.draw_fields(28, rng, kind=["galaxy"] * 24 + ["cluster"] * 4)
    backgrounds = sky.render_fields(hosts)
    seeing, sigma = sky.conditions(hosts)
    gal = lensing.simulate_mocks(backgrounds[:24], seeing[:24], sigma[:24], 18, rng, scale="galaxy")
    theta_e = gal.params["theta_e_arcsec"].to_numpy()
    snr = gal.params["snr_g"].to_numpy()
    images = gal.images(backgrounds[:24])
    bins = np.quantile(theta_e, [0, 1 / 3, 2 / 3, 1])
    picks = {}
    for key, lo, hi, q in zip(("mock_small", "mock_medium", "mock_large"), bins[:-1], bins[1:], _SNR_QUANTILE):
        inside = np.flatnonzero((theta_e >= lo) & (theta_e <= hi))
        order = inside[np.argsort(snr[inside])]
        picks[key] = int(order[int(round(q * (len(order) - 1)))])
        cubes[key] = images[picks[key]]
    clu = lensing.simulate_mocks(backgrounds[24:], seeing[24:], sigma[24:], 1, rng, scale="cluster")
    cubes["mock_cluster"] = clu.images(backgrounds[24:])[0]
    theta = {key: float(theta_e[k]) for key, k in picks.items()}
    theta["mock_cluster"] = float(clu.params["theta_e_arcsec"].iloc[0])
    best = {key: float(max(gal.params[b].iloc[k] for b in ("snr_g", "snr_r", "snr_z"))) for key, k in picks.items()}
    best["mock_cluster"] = float(max(clu.params[b].iloc[0] for b in ("snr_g", "snr_r", "snr_z")))

    entries = []
    for entry, section in GUIDE_ENTRIES:
        rel = f"guide/{entry}.jpg"
        data = render.encode_jpeg(render.viewer_rgb(cubes[entry]))
        _atomic_write(data_dir / rel, lambda fh, d=data: fh.write(d))
        item = {"id": entry, "section": section, "image": rel}
        if entry in theta:
            item["theta_e_arcsec"] = round(theta[entry], 2)
            item["snr"] = round(best[entry], 1)
        entries.append(item)
    _atomic_write(data_dir / _MANIFEST, lambda fh: fh.write(json.dumps(entries, indent=1).encode()))
    return entries
