"""The embedded default dataset: synthetic DESI-like subjects, built offline and deterministically.

:func:`build_demo` makes three groups of subjects and puts them into a store:

* label 1, kind ``"mock"``: arcs painted by :func:`lensfinder_nb.sim.lensing.simulate_mocks` into
  fields centred on red galaxies (galaxy-scale lenses) or cluster cores (cluster-scale);
* label 0: plain fields (``"nonlens"``), look-alikes (``"lookalike:ring"``, ``":companion"``,
  ``":arc_companion"``, ``":spiral"``, ``":merger"``) and artefacts (``"artefact:trail"``,
  ``"artefact:bright_star"``) - about half are look-alikes;
* label -1, kind ``"unknown"``: the same mix, of which ``hidden_lens_fraction`` secretly
  contain an arc from the same painter.

The secret (which unknowns are lenses, with their parameters) goes only to
``<data folder>/demo_truth.csv``: in the store a hidden lens looks like every other unknown
(same kind, same parameter keys, a plain cube reference).  Subject ids (``LF-000123``) and
picture names are assigned in shuffled order, so neither reveals the kind.

Files written under the data folder (see ``data/README.md``): ``images/<subject>.jpg``
(viewer colours, north up), ``cubes/demo-NNN.npy`` (cubes of the label 0 and -1 subjects in
subject order), ``cubes/demo-bg-NNN.npy`` (mock backgrounds), ``cubes/demo-arcs-000.npy``
(mock arcs, float16), ``cubes/demo-masks-000.npy`` (arc masks, bit-packed), ``demo_truth.csv``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..imaging import files as cubes
from ..imaging import render
from ..imaging.survey import BANDS, CUTOUT_SIZE_PX, PIXSCALE_ARCSEC
from . import sky
from .backgrounds import central_galaxy_params, central_lens_rows, lens_rows

__all__ = ["build_demo", "DemoSummary", "demo_subject_count", "TRUTH_FILE", "SOURCE"]

TRUTH_FILE = "demo_truth.csv"
SOURCE = "demo"
_BATCH = 500            # cubes per batch file
_CLUSTER_SHARE = 0.3    # share of cluster-scale lenses among mocks and hidden lenses
_CANDIDATES = 8         # candidate backgrounds per wanted mock (the painter picks among them)
_NONLENS_MIX = {"background": 0.40, "lookalike": 0.50, "artefact": 0.10}
_UNKNOWN_MIX = {"background": 0.75, "lookalike": 0.20, "artefact": 0.05}


@dataclass
class DemoSummary:
    """What :func:`build_demo` made."""

    data_dir: Path
    counts: dict[str, int]                 # subjects per kind
    labels: dict[int, int]                 # subjects per label
    n_hidden_lenses: int
    seconds: float
    bytes_images: int
    bytes_cubes: int
    truth_path: Path
    rejected: dict[str, int] = field(default_factory=dict)

    @property
    def n_subjects(self) -> int:
        return sum(self.labels.values())

    def __str__(self) -> str:
        n = max(self.n_subjects, 1)
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        return "\n".join([
            f"demo: {self.n_subjects} subjects in {self.seconds:.1f} s -> {self.data_dir}",
            f"  labels: mock lenses {self.labels.get(1, 0)}, non-lenses {self.labels.get(0, 0)}, "
            f"unknown {self.labels.get(-1, 0)}",
            f"  kinds: {kinds}",
            f"  disk: images {self.bytes_images / 1e6:.1f} MB ({self.bytes_images / n / 1e3:.1f} KB/subject), "
            f"cubes {self.bytes_cubes / 1e6:.1f} MB ({self.bytes_cubes / n / 1e3:.1f} KB/subject)",
            f"  hidden lenses among the unknowns: {self.n_hidden_lenses} (truth in {self.truth_path.name}, "
            "not in the store)",
        ])


def demo_subject_count(store) -> int:
    """How many subjects with ``source = 'demo'`` the store holds."""
    from ..store import queries

    return queries.count_subjects(store, source=SOURCE)


def _no_progress(items, **_):
    return iter(items)


def build_demo(store, seed: int = 0, n_mocks: int = 320, n_nonlens: int = 320, n_unknown: int = 1000,
               hidden_lens_fraction: float = 0.02, progress: Callable | None = None) -> DemoSummary:
    """Build the embedded default dataset into ``store`` and its data folder.

    Parameters
    ----------
    store : lensfinder_nb.store.Store
        Subjects go in with ``store.add_subjects(..., replace=True)``; files go to its data folder.
    seed : int
        Everything (fields, arcs, noise, ids, sky positions) follows from it.
    n_mocks, n_nonlens, n_unknown : int
        Subjects with label 1, 0 and -1.
    hidden_lens_fraction : float
        Share of the unknowns that secretly contain a lens.
    progress : callable, optional
        ``progress(iterable, total=, desc=, unit=)`` -> iterator, e.g. the CLI's tqdm wrapper.

    Returns
    -------
    DemoSummary
    """
    for name, value in (("n_mocks", n_mocks), ("n_nonlens", n_nonlens), ("n_unknown", n_unknown)):
        if int(value) < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if not 0 <= hidden_lens_fraction <= 1:
        raise ValueError(f"hidden_lens_fraction must be in [0, 1], got {hidden_lens_fraction}")
    t0 = time.perf_counter()
    progress = progress or _no_progress
    data_dir = Path(store.settings.data_dir)
    seeds = iter(np.random.SeedSequence(seed).spawn(12))
    b = _Builder(data_dir)

    steps = [
        ("mocks", lambda: b.mocks(n_mocks, next(seeds), next(seeds), next(seeds))),
        ("non-lenses", lambda: b.fields("nonlens", n_nonlens, _NONLENS_MIX, next(seeds))),
        ("unknowns", lambda: b.fields("unknown", n_unknown, _UNKNOWN_MIX, next(seeds))),
        ("hidden lenses", lambda: b.hide_lenses(round(hidden_lens_fraction * n_unknown), next(seeds), next(seeds))),
        ("ids", lambda: b.assign(next(seeds))),
        ("cubes", b.write_cubes),
        ("pictures", b.write_pictures),
    ]
    for _name, step in progress(steps, total=len(steps), desc="building the demo", unit="step"):
        step()
    subjects = b.subjects_frame()
    truth = b.truth_frame()
    truth_path = data_dir / TRUTH_FILE
    cubes._atomic_write(truth_path, lambda fh: fh.write(truth.to_csv(index=False).encode()))
    store.add_subjects(subjects, replace=True)
    return DemoSummary(
        data_dir=data_dir,
        counts=subjects["kind"].value_counts().sort_index().to_dict(),
        labels={int(k): int(v) for k, v in subjects["label"].value_counts().sort_index().items()},
        n_hidden_lenses=int(truth["is_lens"].sum()),
        seconds=time.perf_counter() - t0,
        bytes_images=b.bytes_images,
        bytes_cubes=b.bytes_cubes,
        truth_path=truth_path,
        rejected=b.rejected,
    )


def _json_value(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if not math.isfinite(v):
            return None
        return float(f"{v:.6g}")
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def _conditions_params(row) -> dict:
    out = {}
    for band in BANDS:
        out[f"seeing_{band}_arcsec"] = round(float(row[f"seeing_{band}_arcsec"]), 3)
    for band in BANDS:
        out[f"sky_{band}_nmgy"] = round(float(row[f"sky_{band}_nmgy"]), 5)
    return out


def _mix_kinds(n: int, mix: dict, rng) -> list[str]:
    """Field kinds for ``n`` subjects in the given shares (rounded, then shuffled)."""
    counts = {k: int(round(v * n)) for k, v in mix.items()}
    counts["background"] += n - sum(counts.values())
    kinds = []
    for group, k in counts.items():
        if group == "background":
            kinds += list(np.where(rng.random(k) < 0.75, "galaxy", "cluster"))
        else:
            pool = sky.LOOKALIKE_KINDS if group == "lookalike" else sky.ARTEFACT_KINDS
            kinds += [pool[i % len(pool)] for i in range(k)]
    return [str(k) for k in rng.permutation(np.array(kinds, dtype=object))] if kinds else []


def _store_kind(field_kind: str, group: str) -> str:
    if group == "mock":
        return "mock"
    if group == "unknown":
        return "unknown"
    if field_kind in sky.LOOKALIKE_KINDS:
        return f"lookalike:{field_kind}"
    if field_kind in sky.ARTEFACT_KINDS:
        return f"artefact:{field_kind}"
    return "nonlens"


def _rendered_light(table: pd.DataFrame, field_ids: np.ndarray):
    """The noise-free light of fields ``field_ids[idx]`` of a :func:`sky.draw_fields` table, for
    :func:`lensing.simulate_mocks`'s ``field_light``: rendered when the painter asks."""
    def light(idx: np.ndarray) -> np.ndarray:
        wanted = np.asarray(field_ids)[np.asarray(idx)]
        unique, back = np.unique(wanted, return_inverse=True)
        return sky.render_fields(table[table["field"].isin(unique)], noise=False)[back]
    return light


class _Builder:
    """Holds the demo while it is built; each method is one progress step."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.rows: list[dict] = []             # one per subject, in build order
        self.cubes: list[np.ndarray] = []      # full cubes of label 0 / -1 subjects, same order (None for mocks)
        self.mock_backgrounds: np.ndarray | None = None
        self.mock_arcs: list[np.ndarray] = []
        self.mock_masks: list[np.ndarray] = []
        self.rejected: dict[str, int] = {}
        self.bytes_images = 0
        self.bytes_cubes = 0

    # -- groups
    def mocks(self, n: int, s_fields, s_galaxy, s_cluster) -> None:
        if n == 0:
            return
        n_cluster = int(round(_CLUSTER_SHARE * n))
        kinds = ["galaxy"] * (_CANDIDATES * (n - n_cluster) + 4) + ["cluster"] * (_CANDIDATES * n_cluster + 4)
        table = sky.draw_fields(len(kinds), s_fields, kind=kinds)
        fields = sky.field_table(table)
        lens = central_lens_rows(table)
        chosen = []
        for scale, want, s in (("galaxy", n - n_cluster, s_galaxy), ("cluster", n_cluster, s_cluster)):
            pool = np.flatnonzero(fields["kind"].to_numpy() == scale)
            if want:
                chosen.append(self._paint(fields.iloc[pool], lens.iloc[pool], pool, want, s, scale,
                                          _rendered_light(table, fields["field"].to_numpy()[pool])))
        params = pd.concat([c[0] for c in chosen], ignore_index=True)
        used = np.unique(params["field"].to_numpy())
        self.mock_backgrounds = sky.render_fields(table[table["field"].isin(used)])
        slot = {f: i for i, f in enumerate(used)}
        arcs = np.concatenate([c[1] for c in chosen])
        masks = np.concatenate([c[2] for c in chosen])
        for k, p in enumerate(params.to_dict("records")):
            row = fields.iloc[p["field"]]
            self.rows.append({"group": "mock", "label": 1, "field_kind": row["kind"], "conditions": row,
                              "background": slot[p["field"]], "mock": p, "mock_index": k})
            self.cubes.append(None)
        self.mock_arcs, self.mock_masks = arcs, masks

    def _paint(self, fields: pd.DataFrame, lens: pd.DataFrame, pool: np.ndarray, want: int, seed, scale: str,
               light):
        """Ask the painter for ``want`` arcs on distinct fields among ``fields`` (rows ``pool``), each
        mass on its field's lens galaxy (``lens``: :func:`.backgrounds.central_lens_rows` rows);
        ``light``: the fields' light by position in ``fields`` (the painter's visibility cut)."""
        from . import lensing  # the only module that touches lenstronomy
        seeing = fields[[f"seeing_{b}_arcsec" for b in BANDS]].to_numpy(float)
        sigma = fields[[f"sky_{b}_nmgy" for b in BANDS]].to_numpy(float)
        # The painter needs the backgrounds' shape and the light of the fields it tries (``light``):
        # a broadcast view costs no memory, and the fields it picks are rendered afterwards.  Ask
        # for a few extra and drop repeated fields.
        shape = (len(fields), 3, CUTOUT_SIZE_PX, CUTOUT_SIZE_PX)
        blank = np.broadcast_to(np.zeros((1, 3, CUTOUT_SIZE_PX, CUTOUT_SIZE_PX), np.float32), shape)
        extra = want + max(2, int(math.ceil(0.15 * want)))
        batch = lensing.simulate_mocks(blank, seeing, sigma, extra, seed, scale=scale,
                                       lens_light=lens.reset_index(drop=True), field_light=light)
        for reason, count in batch.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + int(count)
        params = batch.params.reset_index(drop=True)
        first = ~params["background"].duplicated()
        order = np.concatenate([np.flatnonzero(first), np.flatnonzero(~first)])[:want]
        params = params.iloc[order].reset_index(drop=True)
        params["field"] = pool[params["background"].to_numpy()]
        params = params.drop(columns=["background"])
        return params, batch.arcs[order], batch.masks[order]

    def fields(self, group: str, n: int, mix: dict, seed) -> None:
        if n == 0:
            return
        rng = np.random.default_rng(seed)
        kinds = _mix_kinds(n, mix, rng)
        table = sky.draw_fields(n, rng, kind=kinds)
        images = sky.render_fields(table)
        label = 0 if group == "nonlens" else -1
        central = central_galaxy_params(table)
        for (_, row), (_, light), cube in zip(sky.field_table(table).iterrows(), central.iterrows(), images):
            self.rows.append({"group": group, "label": label, "field_kind": row["kind"], "conditions": row,
                              "central": light})
            self.cubes.append(cube)

    def hide_lenses(self, n: int, s_galaxy, s_cluster) -> None:
        """Paint arcs into ``n`` plain unknown fields (galaxy- or cluster-scale by the field)."""
        unknown = [i for i, r in enumerate(self.rows) if r["group"] == "unknown"]
        n = min(n, len(unknown))
        if n == 0:
            return
        n_cluster = int(round(_CLUSTER_SHARE * n))
        for scale, want, s in (("galaxy", n - n_cluster, s_galaxy), ("cluster", n_cluster, s_cluster)):
            pool = np.array([i for i in unknown if self.rows[i]["field_kind"] == scale])
            want = min(want, len(pool))
            if want == 0:
                continue
            fields = pd.DataFrame([self.rows[i]["conditions"] for i in pool])
            npix = int(fields["npix"].iloc[0]) if "npix" in fields.columns else CUTOUT_SIZE_PX
            lens = lens_rows(pd.DataFrame([self.rows[i]["central"] for i in pool]), npix, PIXSCALE_ARCSEC)
            cubes = self.cubes
            params, arcs, _masks = self._paint(fields, lens, pool, want, s, scale,
                                               lambda idx: np.stack([cubes[pool[i]] for i in idx]))
            for p, arc in zip(params.to_dict("records"), arcs):
                i = int(p.pop("field"))
                self.cubes[i] = self.cubes[i] + arc
                self.rows[i]["hidden"] = p

    # -- ids and files
    def assign(self, seed) -> None:
        rng = np.random.default_rng(seed)
        n = len(self.rows)
        numbers = rng.permutation(n) + 1
        ra, dec = _sky_positions(rng, n)
        for row, k, a, d in zip(self.rows, numbers, ra, dec):
            row["subject"], row["ra"], row["dec"] = f"LF-{k:06d}", a, d
        self.order = sorted(range(n), key=lambda i: self.rows[i]["subject"])

    def write_cubes(self) -> None:
        self._write_cubes()
        files = {cubes.parse_ref(r["cube"].split("+")[-1])[0] for r in self.rows}
        files |= {cubes.parse_ref(r[k].removeprefix(cubes.MOCK_PREFIX).split("+")[0])[0]
                  for r in self.rows for k in ("cube", "mask") if r["group"] == "mock"}
        self.bytes_cubes = sum((self.data_dir / f).stat().st_size for f in files)

    def _write_cubes(self) -> None:
        plain = [i for i in self.order if self.rows[i]["group"] != "mock"]
        for b0 in range(0, len(plain), _BATCH):
            part = plain[b0:b0 + _BATCH]
            refs = cubes.write_batch(self.data_dir, f"demo-{b0 // _BATCH:03d}", np.stack([self.cubes[i] for i in part]))
            for i, ref in zip(part, refs):
                self.rows[i]["cube"] = ref
        mocks = [i for i in self.order if self.rows[i]["group"] == "mock"]
        if not mocks:
            return
        bg_refs = []
        for b0 in range(0, len(self.mock_backgrounds), _BATCH):
            bg_refs += cubes.write_batch(self.data_dir, f"demo-bg-{b0 // _BATCH:03d}",
                                         self.mock_backgrounds[b0:b0 + _BATCH])
        k = [self.rows[i]["mock_index"] for i in mocks]
        arc_refs = cubes.write_batch(self.data_dir, "demo-arcs-000", self.mock_arcs[k].astype(np.float16))
        mask_refs = cubes.write_batch(self.data_dir, "demo-masks-000", self.mock_masks[k])
        for i, arc_ref, mask_ref in zip(mocks, arc_refs, mask_refs):
            row = self.rows[i]
            row["cube"] = cubes.mock_ref(arc_ref, bg_refs[row["background"]])
            row["mask"] = mask_ref

    def write_pictures(self) -> None:
        for i in self.order:
            row = self.rows[i]
            cube = cubes.load_cube(self.data_dir, row["cube"])
            data = render.encode_jpeg(render.viewer_rgb(cube))
            row["image"] = cubes.write_image(self.data_dir, row["subject"], data)
            self.bytes_images += len(data)

    # -- tables
    def subjects_frame(self) -> pd.DataFrame:
        out = []
        for i in self.order:
            r = self.rows[i]
            params = _conditions_params(r["conditions"])
            if r["group"] == "nonlens":
                params["field"] = r["field_kind"]
                params.update({k: _json_value(v) for k, v in r["central"].items() if np.isfinite(v)})
            elif r["group"] == "mock":
                params["host"] = r["field_kind"]
                params.update({k: _json_value(v) for k, v in r["mock"].items() if k != "field"})
                params["mask"] = r["mask"]
            out.append({"subject": r["subject"], "label": r["label"], "kind": _store_kind(r["field_kind"], r["group"]),
                        "ra": r["ra"], "dec": r["dec"], "image": r["image"], "cube": r["cube"],
                        "params": json.dumps(params), "source": SOURCE})
        return pd.DataFrame(out)

    def truth_frame(self) -> pd.DataFrame:
        out = []
        for i in self.order:
            r = self.rows[i]
            if r["group"] != "unknown":
                continue
            hidden = r.get("hidden") or {}
            out.append({"subject": r["subject"], "is_lens": int(bool(hidden)), "field": r["field_kind"],
                        "theta_e_arcsec": hidden.get("theta_e_arcsec"), "magnification": hidden.get("magnification"),
                        "snr_g": hidden.get("snr_g"), "snr_r": hidden.get("snr_r"), "snr_z": hidden.get("snr_z"),
                        "params": json.dumps({k: _json_value(v) for k, v in hidden.items()}) if hidden else ""})
        return pd.DataFrame(out, columns=["subject", "is_lens", "field", "theta_e_arcsec", "magnification",
                                          "snr_g", "snr_r", "snr_z", "params"])


def _sky_positions(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (ra, dec) in degrees, uniform on the sky over a Legacy-Surveys-like footprint
    (-18 < dec < 78, Galactic |b| > 20)."""
    ra, dec = np.empty(0), np.empty(0)
    while len(ra) < n:
        k = 2 * (n - len(ra)) + 16
        a = rng.uniform(0, 360, k)
        d = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(-18)), np.sin(np.radians(78)), k)))
        keep = np.abs(_galactic_latitude(a, d)) > 20
        ra, dec = np.concatenate([ra, a[keep]]), np.concatenate([dec, d[keep]])
        pos = np.round(np.stack([ra, dec], 1), 6)
        _, first = np.unique(pos, axis=0, return_index=True)
        first = np.sort(first)
        ra, dec = pos[first, 0], pos[first, 1]
    return ra[:n], dec[:n]


def _galactic_latitude(ra_deg, dec_deg):
    """Galactic latitude (deg) of ICRS positions, without importing astropy."""
    ra_p, dec_p = np.radians(192.85948), np.radians(27.12825)  # north Galactic pole
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    sin_b = np.sin(dec) * np.sin(dec_p) + np.cos(dec) * np.cos(dec_p) * np.cos(ra - ra_p)
    return np.degrees(np.arcsin(np.clip(sin_b, -1, 1)))
