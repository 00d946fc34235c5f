"""``lensfinder train`` and ``lensfinder predict``: the machine lens scorer."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import CliError, open_store_from, progress

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train the CNN lens scorer on the store's mock lenses and non-lenses",
        description="Train a slim ResNet on label 1 (mock lenses) against label 0 (non-lenses), plus freshly "
                    "simulated images, keep a held-out validation split, and save the model with its metadata "
                    "(data snapshot, parameters, validation ROC AUC and TPR at 1 %% / 0.1 %% FPR).")
    p.add_argument("--epochs", type=int, default=None, metavar="N",
                   help="passes over the training set, exactly (default: up to 16, fewer if the whole run "
                        "would not fit in 4 minutes on a busy machine)")
    p.add_argument("--out", type=Path, default=None, metavar="MODEL",
                   help="model file to write (default: <data folder>/models/lensfinder-cnn.pt)")
    p.add_argument("--seed", type=int, default=0, help="random seed: split, simulation, weights (default 0)")
    p.add_argument("--synthetic", type=int, default=None, metavar="N",
                   help="simulated training images to add, half lenses (default 5000; 0 for the store's only)")
    p.add_argument("--include-confirmed", action="store_true",
                   help="also train on unknown subjects the crowd detected (online SWAP status 'detected')")
    p.add_argument("--real-lenses", type=Path, default=None, metavar="FOLDER",
                   help="also train on the real lens cubes of FOLDER (FITS g, r, z in nanomaggies, as `lensfinder "
                        "ingest` reads them; each copied 8 times, every copy augmented differently)")
    p.set_defaults(func=_train)

    p = subparsers.add_parser(
        "predict", help="score every subject with a trained model into the machine_scores table",
        description="Write one machine score per subject (in_training marks the subjects the model saw). "
                    "Machine scores are for teachers and analysts; volunteers never see them.")
    p.add_argument("--model", type=Path, default=None, metavar="MODEL",
                   help="model file (default: <data folder>/models/lensfinder-cnn.pt)")
    p.set_defaults(func=_predict)


def _train(args: argparse.Namespace) -> int:
    from ..machine.predict import default_model_path, save_model
    from ..machine.train import TrainConfig, short_run_warning, train_from_store

    config = TrainConfig(seed=args.seed, include_confirmed=args.include_confirmed,
                         real_lenses=str(args.real_lenses) if args.real_lenses else None)
    if args.epochs is not None:
        if args.epochs < 1:
            raise CliError("--epochs must be at least 1")
        config.epochs = args.epochs
        config.time_budget_s = None    # asked for N epochs: run exactly N
    if args.synthetic is not None:
        if args.synthetic < 0:
            raise CliError("--synthetic must be 0 or more")
        config.n_synthetic = args.synthetic
    store = open_store_from(args)
    result = train_from_store(store, config, progress=progress)
    path = save_model(args.out or default_model_path(store), result.model, result.metadata)
    m = result.metadata
    warning = short_run_warning(m["epochs_run"], config)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    print(json.dumps({"model": str(path), "epochs": m["epochs_run"], "validation": m["validation"],
                      "seconds": m["seconds"],
                      "data": {k: v for k, v in m["data"].items()
                               if k not in ("train_subjects", "validation_subjects")}}, indent=1))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ..machine.predict import predict_store

    frame = predict_store(open_store_from(args), args.model, progress=progress)
    print(f"{len(frame)} subjects scored ({int(frame['in_training'].sum())} seen in training)", file=sys.stderr)
    return 0
