"""Benchmark the machine lens scorer end to end on a fresh demo store.

Prints: training time and peak memory of the default ``lensfinder train`` run (a child
process, measured with resource.getrusage), validation ROC AUC and TPR at 1 % / 0.1 % FPR,
recall by source magnitude, arc S/N and theta_E on an independent simulated test set, the
machine on the demo's hidden lenses, crowd vs machine vs combined at the same false-positive
rate, and routed vs random classification order.

    python benchmarks/bench_machine.py [--epochs N] [--synthetic N] [--crowd-seeds K] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lensfinder_nb.sim.demo import TRUTH_FILE, build_demo
from lensfinder_nb.machine.combine import combine, machine_llr, skill_from_store
from lensfinder_nb.machine.data import synthetic_set
from lensfinder_nb.machine.inputs import views
from lensfinder_nb.machine.predict import load_model, score_prepared
from lensfinder_nb.machine.routing import simulate_routing, simulate_votes
from lensfinder_nb.scoring import completeness_at_fpr, roc_auc, swap
from lensfinder_nb.store import open_store


def _run(cmd: list[str]) -> tuple[float, float]:
    """Run a child process; returns (seconds, its peak resident memory in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024.0


def _recall_table(score: np.ndarray, info: pd.DataFrame, y: np.ndarray, fpr: float = 0.01) -> pd.DataFrame:
    """Recall of simulated lenses by bins, at the threshold passing ``fpr`` of simulated non-lenses."""
    neg = np.sort(score[y == 0])[::-1]
    t = neg[int(np.floor(fpr * len(neg)))]
    lens = info[y == 1].assign(hit=score[y == 1] > t)
    rows = []
    for col, edges in (("src_mag_r", [21.5, 22.5, 23.5, 24.5]), ("snr", [0, 30, 60, 120, 1e9]),
                       ("theta_e_arcsec", [1.0, 1.5, 2.0, 3.0, 6.0, 12.0])):
        b = pd.cut(lens[col], edges, right=False)
        g = lens.groupby(b, observed=False)["hit"].agg(["size", "mean"])
        for interval, r in g.iterrows():
            rows.append({"by": col, "bin": str(interval).replace("inf", "").replace("1000000000.0", "inf"),
                         "n": int(r["size"]), "recall": round(float(r["mean"]), 3) if r["size"] else float("nan")})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default: the CLI default)")
    ap.add_argument("--synthetic", type=int, default=None, help="simulated training images (default: CLI default)")
    ap.add_argument("--test-size", type=int, default=1000, help="simulated test lenses (and as many non-lenses)")
    ap.add_argument("--crowd-seeds", type=int, default=5, help="simulated crowds to average over")
    ap.add_argument("--crowd-votes", type=int, nargs="+", default=[4000, 10000], help="votes per simulated crowd")
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="lf-bench-machine-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "lf.duckdb"
    store = open_store(db)
    if not (work / TRUTH_FILE).exists():
        build_demo(store, seed=0)
    lf = [sys.executable, "-m", "lensfinder_nb.cli"]
    model_path = work / "models" / "lensfinder-cnn.pt"
    extra = (["--epochs", str(args.epochs)] if args.epochs else []) + \
            (["--synthetic", str(args.synthetic)] if args.synthetic is not None else [])
    t_train, mem_train = _run([*lf, "train", "--db", str(db), "--out", str(model_path), *extra])
    t_pred, mem_pred = _run([*lf, "predict", "--db", str(db), "--model", str(model_path)])
    model, meta = load_model(model_path)
    v = meta["validation"]
    print("== training (default `lensfinder train` on the demo: 320 mocks, 320 non-lenses)")
    print(f"wall time {t_train:.0f} s (data {meta['seconds']['data']:.0f} s, fit {meta['seconds']['fit']:.0f} s), "
          f"peak memory {mem_train:.0f} MB; predict {t_pred:.0f} s, peak {mem_pred:.0f} MB")
    print(f"training images: {meta['data']['n_train_images']} ({meta['data']['n_train_store']} store subjects, "
          f"their mocks' backgrounds, simulated), {meta['epochs_run']} of {meta['config']['epochs']} epochs (time budget "
          f"{meta['config']['time_budget_s']} s); torch {meta['torch_version']}")
    print(f"validation (held-out store subjects: {v['n_lenses']} mocks, {v['n_nonlenses']} non-lenses): "
          f"AUC {v['auc']:.3f}, TPR at 1 % FPR {v['tpr_at_fpr_1pc']:.3f}, at 0.1 % FPR {v['tpr_at_fpr_0.1pc']:.3f}")

    # -- independent simulated test set (a seed the training never used)
    test = synthetic_set(args.test_size, args.test_size, seed=987654)
    s_test = score_prepared(model, views(test.x))
    y = test.y.astype(int)
    print(f"\n== simulated test set ({int(y.sum())} lenses, {int((1 - y).sum())} non-lenses of the demo's mix)")
    print(f"AUC {roc_auc(s_test, y):.3f}, TPR at 1 % FPR {completeness_at_fpr(s_test, y, 0.01):.3f}, "
          f"at 0.1 % FPR {completeness_at_fpr(s_test, y, 0.001):.3f}")
    print("recall at the threshold passing 1 % of the simulated non-lenses:")
    print(_recall_table(s_test, test.info, y).to_string(index=False))
    neg_kind = test.info[y == 0].assign(score=s_test[y == 0])
    t1 = np.sort(s_test[y == 0])[::-1][int(0.01 * (y == 0).sum())]
    print("non-lenses passing that threshold, by kind:",
          neg_kind.assign(p=neg_kind["score"] > t1).groupby("kind")["p"].mean().round(3).to_dict())

    # -- the demo's hidden lenses (unknowns; truth from demo_truth.csv, never in the store)
    truth_df = pd.read_csv(work / TRUTH_FILE)
    truth = truth_df.set_index("subject")["is_lens"]
    ms = store.sql("SELECT subject, score FROM machine_scores")
    unk = ms.set_index("subject")["score"].reindex(truth.index)
    print(f"\n== demo unknowns: {int(truth.sum())} hidden lenses among {len(truth)}")
    print(f"machine AUC {roc_auc(unk.to_numpy(), truth.to_numpy()):.3f}, hidden lenses kept at 1 % FPR "
          f"{completeness_at_fpr(unk.to_numpy(), truth.to_numpy(), 0.01):.3f}")

    # -- combination: machine skill from held-out training subjects, crowd simulated
    skill = skill_from_store(store)
    print(f"\n== machine as a SWAP participant (skill on {skill.n_lenses} + {skill.n_nonlenses} held-out training "
          f"subjects): PL {skill.pl:.3f}, PD {skill.pd:.3f} at score > {skill.threshold}, "
          f"{skill.skill_bits:.2f} bits; graded log-LR by bin {[round(x, 2) for x in skill.llr]}")
    subjects = store.subjects()[["subject", "label"]]
    raw = ms.rename(columns={"score": "probability"})   # machine alone: its own (finest) ranking
    for n_votes in args.crowd_votes:
        rows = []
        for seed in range(args.crowd_seeds):
            votes = simulate_votes(subjects, truth, n_votes, seed=seed)
            crowd = swap(votes, subjects)
            for name, frame in (("crowd alone", crowd), ("machine alone (raw score)", raw),
                                ("crowd + machine (graded)", combine(crowd, ms, skill)),
                                ("crowd + machine (threshold vote)", combine(crowd, ms, skill, mode="threshold"))):
                f = frame.set_index("subject").reindex(truth.index)
                p, t = f["probability"].to_numpy(), truth.to_numpy()
                det = f["status"].to_numpy() == "detected" if "status" in f else np.zeros(len(f), bool)
                rows.append({"method": name, "lenses@1%FPR": completeness_at_fpr(p, t, 0.01) * t.sum(),
                             "lenses@0.5%FPR": completeness_at_fpr(p, t, 0.005) * t.sum(),
                             "detected (P>0.95)": int((det & (t == 1)).sum()),
                             "false detections": int((det & (t == 0)).sum())})
        res = pd.DataFrame(rows).groupby("method", sort=False).mean()
        print(f"hidden lenses (of {int(truth.sum())}) recovered among the demo unknowns, mean of {args.crowd_seeds} "
              f"simulated crowds of {n_votes} votes (~{n_votes * 0.8 / len(truth):.1f} per unknown):")
        print(res.round(2).to_string())

    # -- routing
    llr = pd.Series(machine_llr(unk.to_numpy(), skill), index=truth.index)
    rrows = []
    for seed in range(3):
        for name, order, evidence in (("random order, crowd alone", "random", None),
                                      ("random order, crowd + machine", "random", llr),
                                      ("routed, crowd + machine", "routed", llr)):
            r = simulate_routing(truth, evidence, order=order, seed=seed, max_votes=30_000)
            rrows.append({"setup": name, **r})
    rr = pd.DataFrame(rrows).groupby("setup", sort=False).mean(numeric_only=True)
    print("\n== routing: classifications until every hidden lens is decided (mean of 3 crowds; 30,000 = cap)")
    print(rr[["votes_90pc", "votes_all_lenses_decided", "lenses_detected", "lenses_rejected",
              "nonlenses_detected"]].round(1).to_string())
    print(json.dumps({"work": str(work)}))


if __name__ == "__main__":
    main()
