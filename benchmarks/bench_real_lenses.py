"""Benchmark the default machine on real lenses it never saw.

The product as a new user runs it: ``lensfinder demo`` then the default ``lensfinder train`` (a
child process, unless ``--model`` is given).  The threshold lets 1 % of the demo's non-lens
unknowns through (the hidden lenses of ``demo_truth.csv`` left out); the held-out half of a folder
of real lenses (``realism.reference.split_reference``) is scored against it: recall and ROC AUC by
image separation.  Also printed: the calibration half (which ``--include-confirmed``-style training
may use), real non-lens objects from the lens fields (``recentred_neighbours``), the pixel probe
(mocks vs real lenses), real lenses against those real non-lenses (one survey: the guard against
learning a survey's look), and shortcut checks on fresh mocks: the score with the arc removed,
mocks whose arc is below the noise, the same mocks with their arcs brightened (a brighter source must
not lower the score), and the share passed by the lens galaxy's brightness.

    python benchmarks/bench_real_lenses.py [--real DIR] [--keep DIR] [--model MODEL] [--train-args ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lensfinder_nb.machine.data import prepare
from lensfinder_nb.machine.predict import load_model, score_prepared
from lensfinder_nb.realism.evaluate import recall_by_separation, recentred_neighbours, threshold_at_fpr
from lensfinder_nb.realism.measure import lens_photometry
from lensfinder_nb.realism.population import mock_lenses
from lensfinder_nb.realism.reference import load_real_lenses
from lensfinder_nb.scoring.evaluation import roc_auc
from lensfinder_nb.sim.demo import TRUTH_FILE, build_demo
from lensfinder_nb.store import open_store

def _reference() -> Path:
    """``shared/reference/real_lenses/cubes`` beside the nearest ancestor that has it (the main checkout
    or a worktree two levels further down)."""
    here = Path(__file__).resolve()
    for up in here.parents[1:]:
        cand = up / "shared" / "reference" / "real_lenses" / "cubes"
        if cand.is_dir():
            return cand
    return here.parents[2] / "shared" / "reference" / "real_lenses" / "cubes"


REFERENCE = _reference()


def _scores(model, cubes: np.ndarray) -> np.ndarray:
    return score_prepared(model, prepare(cubes)) if len(cubes) else np.empty(0)


def _calibration_folder(real: Path, out: Path) -> Path:
    """A folder holding only the calibration half of ``real`` (links and the manifest's rows)."""
    table = load_real_lenses(real).table
    keep = table.loc[table["part"] == "calibration", "file"]
    out.mkdir(parents=True, exist_ok=True)
    for name in keep:
        link = out / name
        if not link.exists():
            link.symlink_to((real / name).resolve())
    manifest = real / "manifest.csv"
    if manifest.exists():
        m = pd.read_csv(manifest)
        m[m["file"].isin(set(keep))].to_csv(out / "manifest.csv", index=False)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REFERENCE, help="folder of real lens cubes (+ manifest.csv)")
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    ap.add_argument("--model", type=Path, default=None, help="score with this model instead of training one")
    ap.add_argument("--seed", type=int, default=0, help="demo seed (default 0, as `lensfinder demo`)")
    ap.add_argument("--mocks", type=int, default=300, help="fresh mocks for the shortcut checks")
    ap.add_argument("--train-on-calibration", action="store_true",
                    help="also train on the calibration half of --real (`lensfinder train --real-lenses`)")
    ap.add_argument("--calibration-only", action="store_true",
                    help="print only the calibration half (for choosing settings without looking at the held-out half)")
    ap.add_argument("--train-args", nargs=argparse.REMAINDER, default=[],
                    help="extra arguments for `lensfinder train` (last on the line)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="lf-bench-real-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "lf.duckdb"
    store = open_store(db)
    t0 = time.perf_counter()
    if not (work / TRUTH_FILE).exists():
        build_demo(store, seed=args.seed)
    t_demo = time.perf_counter() - t0
    model_path = args.model or work / "models" / "lensfinder-cnn.pt"
    t_train = 0.0
    if args.model is None:
        extra = list(args.train_args)
        if args.train_on_calibration:
            extra += ["--real-lenses", str(_calibration_folder(args.real, work / "calibration"))]
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lensfinder_nb.cli", "train", "--db", str(db), "--out",
                        str(model_path), *extra], check=True, stdout=subprocess.DEVNULL)
        t_train = time.perf_counter() - t0
    model, meta = load_model(model_path)
    v = meta["validation"]
    print(f"demo {t_demo:.0f} s, train {t_train:.0f} s ({meta['epochs_run']} epochs); mock validation AUC "
          f"{v['auc']:.3f}, TPR at 1 % FPR {v['tpr_at_fpr_1pc']:.3f}")

    # negatives: the demo's unknowns that are not hidden lenses
    from lensfinder_nb.imaging.files import load_cube
    truth = pd.read_csv(work / TRUTH_FILE).set_index("subject")["is_lens"]
    subjects = store.subjects().set_index("subject")
    negatives = [s for s in truth.index[truth == 0]]
    neg_cubes = np.stack([load_cube(store.settings.data_dir, subjects.at[s, "cube"]) for s in negatives])
    neg = _scores(model, neg_cubes)
    t = threshold_at_fpr(neg, 0.01)
    print(f"threshold passing 1 % of the demo's {len(neg)} non-lens unknowns: {t:.4f}")

    real = load_real_lenses(args.real)
    real_scores = _scores(model, real.cubes)
    out = {}
    for part in (("calibration",) if args.calibration_only else ("held_out", "calibration")):
        sel = (real.table["part"] == part).to_numpy()
        table = recall_by_separation(real_scores[sel], real.table["image_sep_arcsec"].to_numpy()[sel], neg)
        print(f"\n== real lenses, {part} part ({int(sel.sum())} cubes): recall at that threshold and AUC "
              "against the demo's non-lens unknowns")
        print(table.drop(columns="threshold").to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        out[part] = table.set_index("separation")[["n", "recall", "auc"]].round(3).to_dict("index")

    nb = recentred_neighbours(real.cubes)
    nb_scores = _scores(model, nb)
    print(f"\n== real non-lens objects from the lens fields (re-centred neighbours): {len(nb)}, "
          f"{int((nb_scores > t).sum())} above the threshold; scores {np.round(np.sort(nb_scores)[::-1][:5], 3)}")
    # within one survey: real lenses against real non-lenses of the same cutouts.  A change that lifts real
    # lenses against the demo's negatives but not against these only teaches the survey's look
    big = (real.table["image_sep_arcsec"] >= 1.5).to_numpy()
    within = roc_auc(np.r_[real_scores[big], nb_scores], np.r_[np.ones(int(big.sum())), np.zeros(len(nb_scores))])
    print(f"real lenses >= 1.5\" (both halves, {int(big.sum())}) against these real non-lenses: AUC {within:.3f}; "
          f"median score {np.median(real_scores[big]):.3f} against {np.median(nb_scores):.3f}")

    # shortcuts: the same fresh mock with and without its arc; arcs below the noise
    fresh = mock_lenses(args.mocks, seed=123)
    with_arc, without = _scores(model, fresh.images), _scores(model, fresh.backgrounds)
    snr = fresh.params[["snr_g", "snr_r", "snr_z"]].max(axis=1).to_numpy()
    print(f"\n== shortcuts on {len(with_arc)} fresh mocks: median score {np.median(with_arc):.3f} with the arc, "
          f"{np.median(without):.3f} with it removed; above threshold {np.mean(with_arc > t):.3f} vs "
          f"{np.mean(without > t):.3f}")
    faint = snr < 8
    if faint.any():
        print(f"mocks with arc S/N < 8: {int(faint.sum())}, above threshold {np.mean(with_arc[faint] > t):.3f}")
    # a brighter source must not make a lens less of a lens
    arc = fresh.images - fresh.backgrounds
    brighter = [f"x{f} {np.mean(_scores(model, fresh.backgrounds + f * arc) > t):.3f}" for f in (2, 4, 8)]
    print(f"arcs brightened (a brighter source), above threshold: x1 {np.mean(with_arc > t):.3f}, " + ", ".join(brighter))
    # and by the lens galaxy's brightness (realism.measure's lens r within 2", as the reference manifests give it)
    lens_r = np.array([lens_photometry(b)["lens_mag_r"] for b in fresh.backgrounds])
    bins = [(0, 18.0), (18.0, 19.0), (19.0, 20.0), (20.0, 99)]
    print("above threshold by the lens galaxy's r (within 2\"): " + ", ".join(
        f"{lo:g}-{hi:g}: {np.mean(with_arc[(lens_r >= lo) & (lens_r < hi)] > t):.2f} "
        f"({int(((lens_r >= lo) & (lens_r < hi)).sum())})" for lo, hi in bins))

    from lensfinder_nb.realism.probe import probe_auc
    probe_mocks = mock_lenses(len(real), seed=7)  # folds grouped by background, lenses recentred (docs/realism.md)
    auc = probe_auc(probe_mocks.images, real.cubes, groups=probe_mocks.params["background"].to_numpy())
    print(f"\n== pixel probe, fresh mocks vs real lenses: AUC {auc:.3f}")
    print(json.dumps({"work": str(work), "threshold": t, "real": out, "neighbours_above": int((nb_scores > t).sum()),
                      "neighbours": len(nb), "within_survey_auc": round(within, 3), "probe_auc": round(auc, 3)}))


if __name__ == "__main__":
    main()
