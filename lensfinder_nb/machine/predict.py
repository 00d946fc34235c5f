"""Saving, loading and running the lens scorer; machine scores into the store.

A model file is ``torch.save`` of a plain dict ``{"state_dict", "metadata"}`` (loaded with
``weights_only=True``: no code runs on load).  The metadata records the data snapshot (subject
count and a hash of the ids), the training parameters, the validation ROC AUC and TPR at 1 %
and 0.1 % FPR, the torch version, and which subjects were trained on.

Machine scores are written for every subject to the ``machine_scores`` table, with
``in_training`` true for the subjects the model was trained on.  They are for teachers and
analysts only: never shown on a volunteer's page (docs/machine.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import UserError
from .data import dihedral, load_prepared

__all__ = ["save_model", "load_model", "score_prepared", "predict_store",
           "default_model_path", "model_id", "ModelMissing"]


class ModelMissing(UserError, FileNotFoundError):
    """No model file where one was asked for; the message says how to make one."""


def default_model_path(store) -> Path:
    """``<data folder>/models/lensfinder-cnn.pt``."""
    return Path(store.settings.data_dir) / "models" / "lensfinder-cnn.pt"


def model_id(path: str | os.PathLike, metadata: dict) -> str:
    """The id stored in ``machine_scores.model``: file stem plus the data snapshot hash."""
    return f"{Path(path).stem}-{metadata['data']['snapshot'][:8]}"


def save_model(path: str | os.PathLike, model, metadata: dict) -> Path:
    """Write the model and its metadata atomically; returns the path."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"state_dict": model.state_dict(), "metadata": metadata}, tmp)
    os.replace(tmp, path)
    return path


def load_model(path: str | os.PathLike):
    """(model in eval mode, metadata) from a file written by :func:`save_model`."""
    import torch

    from .model import SlimResNet

    path = Path(path)
    if not path.exists():
        raise ModelMissing(f"no model file {path}; train one with `lensfinder train`")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    meta = blob["metadata"]
    n_in = 3 * len(meta["input"]["scales"])
    model = SlimResNet(in_channels=n_in, width=meta["config"]["width"],
                       point_residual=bool(meta["config"].get("point_residual", False)),   # older files: none
                       residual_space=meta["config"].get("residual_space", "scaled"))     # older files: scaled
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model, meta


def score_prepared(model, x: np.ndarray, *, tta: bool = True, batch: int = 512, threads: int = 2) -> np.ndarray:
    """Scores in [0, 1] for prepared inputs (n, c, h, w): sigmoid of the logit, averaged in
    logit over the 8 flips/rotations when ``tta``."""
    import torch

    torch.set_num_threads(threads)
    out = np.empty(len(x), np.float64)
    ks = range(8) if tta else range(1)
    with torch.no_grad():
        for s in range(0, len(x), batch):
            xb = torch.from_numpy(np.ascontiguousarray(x[s:s + batch]))
            logit = sum(model(dihedral(xb, k)).double() for k in ks) / len(ks)
            out[s:s + len(xb)] = torch.sigmoid(logit).numpy()
    return out


def predict_store(store, model_path: str | os.PathLike | None = None, progress: Callable | None = None,
                  write: bool = True) -> pd.DataFrame:
    """Score every subject of ``store``; returns subject, label, score, in_training (and writes them).

    Subjects without a cube are skipped.
    """
    path = Path(model_path) if model_path is not None else default_model_path(store)
    model, meta = load_model(path)
    subjects = store.subjects()
    subjects = subjects[subjects["cube"].notna()].reset_index(drop=True)
    x = load_prepared(store, subjects, progress)
    score = score_prepared(model, x, threads=meta["config"].get("threads", 2))
    trained = set(meta["data"]["train_subjects"])
    frame = pd.DataFrame({"subject": subjects["subject"], "label": subjects["label"].astype(int),
                          "score": score, "in_training": subjects["subject"].isin(trained)})
    if write:
        store.write_machine_scores(frame, model_id(path, meta))
    return frame
