"""Training subjects in proportion: the order in which training subjects are served keeps the
share of faint arcs equal to the mock population's at every point of a volunteer's stream.

Skill measured on training mocks predicts skill on real lenses only if the faint arcs are there in
the share the population has.  Each training subject gets a key ``(i + u) / n`` where ``n`` is the
size of its stratum (mocks by arc S/N bin, non-lenses on their own), ``i`` its place inside the
stratum (fewest votes first, random among equals) and ``u`` uniform; sorting on the key interleaves
the strata so that any first ``k`` subjects hold each stratum in proportion (systematic sampling).

>>> pool = pd.DataFrame({"subject": [f"f{i}" for i in range(6)] + ["b0", "b1"], "label": [1] * 8,
...                      "snr": [11.0] * 6 + [90.0] * 2, "n_votes": [0] * 8})
>>> first = stratified_order(pool, np.random.default_rng(0))[:4]
>>> sum(s.startswith("f") for s in first)
3
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..scoring.selection import SNR_EDGES

__all__ = ["snr_stratum", "stratified_order"]


def snr_stratum(label: pd.Series, snr: pd.Series, edges=SNR_EDGES) -> np.ndarray:
    """Stratum of each training subject: -1 for non-lenses, -2 for mocks without S/N, else the S/N bin."""
    values = snr.astype(float).to_numpy()
    bins = np.clip(np.searchsorted(np.asarray(edges[1:-1], float), values, side="right"), 0, len(edges) - 2)
    out = np.where(np.isnan(values), -2, bins)
    return np.where(label.to_numpy() == 1, out, -1)


def stratified_order(training: pd.DataFrame, rng: np.random.Generator, edges=SNR_EDGES) -> list[str]:
    """Subject ids of ``training`` (columns subject, label, n_votes, optional snr) in serving order."""
    if training.empty:
        return []
    snr = training["snr"] if "snr" in training else pd.Series(np.nan, index=training.index)
    frame = training.assign(_stratum=snr_stratum(training["label"], snr, edges), _r=rng.random(len(training)))
    frame = frame.sort_values(["_stratum", "n_votes", "_r"])
    place = frame.groupby("_stratum").cumcount().to_numpy(float)
    size = frame.groupby("_stratum")["subject"].transform("size").to_numpy(float)
    frame = frame.assign(_key=(place + rng.random(len(frame))) / size)
    return frame.sort_values("_key")["subject"].tolist()
