"""Training the lens scorer: a seeded run on the store's labelled subjects (plus simulated ones).

:func:`train_from_store` is what ``lensfinder train`` calls:

1. label 1 (mock lenses) and label 0 (non-lenses) subjects of the store, optionally with the
   unknowns the crowd detected, are split (stratified, seeded) into training and a held-out
   validation part (``val_fraction``); the training part's mocks bring their backgrounds (the
   same cutout without the arc) as non-lenses;
2. ``n_synthetic`` freshly simulated images join the *training* part only: 40 % mock lenses, 30 %
   the same cutouts without their arcs, 30 % the demo's mix of non-lenses (look-alikes, artefacts,
   plain fields); real lens cubes of ``real_lenses`` (a folder) join as lenses;
3. the slim ResNet is trained with flips/rotations, a wider PSF, extra sky noise and flux/colour
   changes on the raw fluxes (:func:`~lensfinder_nb.machine.inputs.augment_raw`), AdamW and a
   one-cycle learning rate; options (off by default): the point-symmetric residual input
   (``point_residual``), extra noise that never drowns a lens's arc below S/N ``snr_floor`` (the
   non-lenses then draw the same noise factors) and per-band depth jitter (``band_jitter``);
4. the validation part is scored (mean over the 8 flips/rotations): ROC AUC and the share of
   lenses kept at 1 % and 0.1 % false positives go into the model's metadata.

A run repeats exactly for a given seed and number of threads.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..scoring.evaluation import completeness_at_fpr, roc_auc
from .data import (CROP_PIX, SCALES, LabelledSet, data_hash, paired_backgrounds, real_lens_set, store_training_set,
                   synthetic_chunks)
from .inputs import augment_raw, views

__all__ = ["TrainConfig", "TrainResult", "fit", "train_from_store", "split", "validation_metrics",
           "short_run_warning"]


@dataclass
class TrainConfig:
    """Everything that defines a training run (stored in the model file)."""

    epochs: int = 32
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_fraction: float = 0.25
    #: simulated training images added to the store's (half lenses, half non-lenses); 0 for none
    n_synthetic: int = 5000
    width: int = 16
    #: the network also sees the centre view minus itself turned 180 degrees about the lens (model.py);
    #: off: no gain beyond run-to-run scatter was measured (benchmarks/README.md), and it costs ~20 % a step
    point_residual: bool = False
    #: where that residual is taken: "flux" (the scaling undone) or "scaled" (models before 2026-12-05)
    residual_space: str = "flux"
    #: half the simulated lenses get their arc up to this many times brighter (1: none).  4 keeps a
    #: network from learning that arcs are faint (mocks with 8x arcs: 0.59 / 0.41 pass against 0.26 / 0.32)
    #: but the held-out real lenses came out 0.03-0.04 lower in AUC on both seeds, so off (benchmarks/README.md)
    arc_boost: float = 1.0
    threads: int = 2
    include_confirmed: bool = False
    #: a folder of real lens cubes (FITS, g r z nanomaggies) to train on as lenses; None for none
    real_lenses: str | None = None
    #: copies of each real lens per epoch (each augmented differently)
    real_repeat: int = 8
    #: share of simulated mocks that also give their cutout without the arc as a non-lens
    paired_share: float = 0.75
    augment: bool = True
    #: extra noise never pushes a lens's arc below this best-band S/N (None: no cap; measured together
    #: with ``point_residual`` and ``band_jitter``: no gain beyond run-to-run scatter, so off)
    snr_floor: float | None = None
    #: per-band spread (natural log) of the extra-noise factor: surveys differ in relative depth
    band_jitter: float = 0.0
    #: seconds for the whole run (data + fit): fewer epochs when the machine is slow (busy);
    #: None = always ``epochs``.  A time-limited run is repeated exactly by passing the epochs it
    #: used (``epochs_run`` in the metadata) with no budget.
    time_budget_s: float | None = 240.0


@dataclass
class TrainResult:
    """A trained model, its metadata (what is saved with it) and the validation scores."""

    model: object
    metadata: dict
    validation: pd.DataFrame           # subject, y, score (held-out store subjects)
    history: list[dict] = field(default_factory=list)


def split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, validation) indices; ``fraction`` of each class goes to validation."""
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        val.append(idx[:int(round(fraction * len(idx)))])
    val = np.sort(np.concatenate(val)) if val else np.array([], int)
    train = np.setdiff1d(np.arange(len(y)), val)
    return train, val


def validation_metrics(score: np.ndarray, y: np.ndarray) -> dict:
    """ROC AUC and true-positive rates at 1 % and 0.1 % false positives, with the class counts."""
    y = np.asarray(y).astype(int)
    return {"auc": roc_auc(score, y), "tpr_at_fpr_1pc": completeness_at_fpr(score, y, 0.01),
            "tpr_at_fpr_0.1pc": completeness_at_fpr(score, y, 0.001),
            "n_lenses": int(y.sum()), "n_nonlenses": int((1 - y).sum())}


def short_run_warning(epochs_run: int, config: TrainConfig) -> str | None:
    """A warning when the time budget stopped training before half of the planned epochs (a busy
    machine: measured 2026-12-04, a default run cut to 2 of 16 epochs was at chance on real lenses),
    else None.

    >>> short_run_warning(30, TrainConfig()) is None, short_run_warning(2, TrainConfig())[:30]
    (True, 'the time budget stopped traini')
    """
    if config.time_budget_s is None or epochs_run * 2 >= config.epochs:
        return None
    return (f"the time budget stopped training after {epochs_run} of {config.epochs} planned epochs (the "
            f"machine was busy?): the model may be weak. Train again on a quieter machine, or give "
            f"--epochs {config.epochs} to run them all however long it takes.")


def fit(train: LabelledSet, config: TrainConfig, progress: Callable | None = None):
    """Train a fresh :class:`~lensfinder_nb.machine.model.SlimResNet` on ``train``; returns (model, history)."""
    import torch

    from .model import SlimResNet

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = SlimResNet(in_channels=3 * len(SCALES), width=config.width, point_residual=config.point_residual,
                       residual_space=config.residual_space)
    x_all = torch.from_numpy(train.x)
    y_all = torch.from_numpy(train.y.astype(np.float32))
    snr_all = (train.info["snr"].to_numpy(float) if "snr" in train.info and config.snr_floor is not None
               else None)
    n = len(train)
    steps_per_epoch = max(1, n // config.batch_size)   # the last partial batch is dropped
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    planned = config.epochs   # with a time budget, shortened after each epoch if the rest would not fit
    history = []
    model.train()
    t_start, step, epoch = time.perf_counter(), 0, 0
    bar = progress(iter(int, 1), total=planned, desc="training", unit="epoch") if progress is not None else None
    while epoch < planned:
        order = rng.permutation(n)
        total = 0.0
        for b in range(steps_per_epoch):
            for group in opt.param_groups:   # one-cycle: the fraction of the *planned* steps done
                group["lr"] = _one_cycle(step / (planned * steps_per_epoch), config.lr)
            idx = torch.from_numpy(order[b * config.batch_size:(b + 1) * config.batch_size])
            xb = views(_augment(x_all[idx], idx.numpy(), train.y, snr_all, config, rng) if config.augment
                       else x_all[idx].float())
            opt.zero_grad()
            loss = loss_fn(model(xb), y_all[idx])
            loss.backward()
            opt.step()
            step += 1
            total += float(loss.detach())
        epoch += 1
        history.append({"epoch": epoch, "loss": round(total / steps_per_epoch, 5)})
        if bar is not None:
            next(bar)
        if config.time_budget_s is not None:   # the learning-rate schedule follows the shortened plan
            elapsed = time.perf_counter() - t_start
            more = int((config.time_budget_s - elapsed) / (elapsed / epoch))
            planned = min(planned, epoch + max(0, more))
    model.eval()
    return model, history


def _augment(xb, idx: np.ndarray, y: np.ndarray, snr: np.ndarray | None, config: TrainConfig, rng):
    """:func:`augment_raw` with the run's settings (the S/N cap when ``config.snr_floor`` is set)."""
    if snr is None:
        return augment_raw(xb, rng, band_jitter=config.band_jitter)
    return augment_raw(xb, rng, snr=snr[idx], y=y[idx], snr_floor=config.snr_floor, band_jitter=config.band_jitter)


def _one_cycle(fraction: float, max_lr: float) -> float:
    """Learning rate at ``fraction`` of the run: cosine warm-up from max_lr / 25 over the first 30 %,
    then cosine annealing to max_lr / 25e4 (the shape of torch's OneCycleLR)."""
    f = min(max(fraction, 0.0), 1.0)
    lo, end = max_lr / 25.0, max_lr / 25e4
    if f < 0.3:
        return lo + (max_lr - lo) * (1 - math.cos(math.pi * f / 0.3)) / 2
    return end + (max_lr - end) * (1 + math.cos(math.pi * (f - 0.3) / 0.7)) / 2


def _training_array(store, store_part: LabelledSet, config: TrainConfig, progress) -> LabelledSet:
    """The store's training subjects, their mocks' backgrounds, real lenses and the simulated images in
    one preallocated float16 array of raw crops (no concatenation copies; batches become float32)."""
    extra = [paired_backgrounds(store, store_part.info[store_part.y == 1], progress)]
    if config.real_lenses:
        extra.append(real_lens_set(config.real_lenses, config.real_repeat))
    fixed = LabelledSet.concat([store_part, *extra])
    n_lens, n_other = int(0.4 * config.n_synthetic), int(0.3 * config.n_synthetic)
    n_max = len(fixed) + n_lens + n_other + int(np.ceil(config.paired_share * n_lens)) + 64
    x = np.empty((n_max, *fixed.x.shape[1:]), np.float16)
    y = np.empty(n_max, np.float32)
    snr = np.full(n_max, np.nan)
    x[:len(fixed)], y[:len(fixed)] = fixed.x, fixed.y
    if "snr" in fixed.info:
        snr[:len(fixed)] = pd.to_numeric(fixed.info["snr"], errors="coerce").to_numpy(float)
    k = len(fixed)
    if config.n_synthetic > 0:
        for part in synthetic_chunks(n_lens, n_other, seed=config.seed + 1, progress=progress, dtype=np.float16,
                                     paired_share=config.paired_share, arc_boost=config.arc_boost):
            take = min(len(part), n_max - k)   # pairs are random in number: never past the array
            x[k:k + take], y[k:k + take] = part.x[:take], part.y[:take]
            snr[k:k + take] = part.info["snr"].to_numpy(float)[:take]
            k += take
    ids = np.concatenate([fixed.ids, np.array([""] * (k - len(fixed)), object)])
    return LabelledSet(x[:k], y[:k], ids, pd.DataFrame({"snr": snr[:k]}))


def train_from_store(store, config: TrainConfig | None = None, progress: Callable | None = None) -> TrainResult:
    """Train on the store's labelled subjects (see the module docstring); nothing is written."""
    import torch

    from .predict import score_prepared

    config = config or TrainConfig()
    t0 = time.perf_counter()
    labelled = store_training_set(store, config.include_confirmed, progress)
    tr, va = split(labelled.y, config.val_fraction, config.seed)
    if len(va) == 0 or len(np.unique(labelled.y[va])) < 2:
        raise InvalidInput("too few labelled subjects for a validation split with both classes")
    train = _training_array(store, labelled.subset(tr), config, progress)
    t_data = time.perf_counter() - t0
    fit_config = config
    if config.time_budget_s is not None:   # the fit gets what the data step left (at least 30 s)
        fit_config = replace(config, time_budget_s=max(30.0, config.time_budget_s - t_data - 10.0))
    model, history = fit(train, fit_config, progress)
    t_fit = time.perf_counter() - t0 - t_data
    val = labelled.subset(va)
    val_score = score_prepared(model, views(val.x.astype(np.float32)), threads=config.threads)
    metrics = validation_metrics(val_score, val.y)
    train_ids = labelled.ids[tr].tolist()
    snapshot = data_hash(labelled.ids)
    metadata = {
        "kind": "lensfinder slim-resnet lens scorer",
        "created_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds"),
        "torch_version": str(torch.__version__),
        "config": asdict(config),
        "input": {"crop_pix": CROP_PIX, "scales": list(SCALES), "bands": ["g", "r", "z"],
                  "scaling": "sky-subtracted; asinh(flux / (3 * sky sigma)) / 3"},
        "data": {"n_subjects": int(len(labelled)), "snapshot": snapshot, "n_train_store": len(tr),
                 "n_validation": len(va), "n_train_images": int(len(train)),
                 "train_subjects": train_ids, "validation_subjects": labelled.ids[va].tolist()},
        "epochs_run": len(history),
        "validation": metrics,
        "seconds": {"data": round(t_data, 1), "fit": round(t_fit, 1)},
        "history": history,
    }
    validation = pd.DataFrame({"subject": labelled.ids[va], "y": val.y.astype(int), "score": val_score})
    validation = pd.concat([validation, val.info[["kind", "theta_e_arcsec", "src_mag_r", "snr"]]], axis=1)
    return TrainResult(model, metadata, validation, history)
