"""The selection function: which lenses the search finds, as a function of what makes them hard.

Mock lenses know their truth: Einstein radius, seeing and arc S/N.  For each mock we ask whether
the volunteers found it (the share of counted votes saying "lens", or the SWAP status) and whether
the machine did (its score above the threshold that lets ``fpr`` of the non-lenses through), then
bin by ``theta_E / seeing`` (how resolved the arc is) and by arc S/N (how bright against the sky).
A user reads off where the search is complete and where it is blind.

>>> mocks = pd.DataFrame({"theta_e_arcsec": [1.0, 2.0, 3.0, 2.5], "psf_fwhm_r": [1.2] * 4,
...                       "snr": [5.0, 30.0, 80.0, 12.0], "found": [False, True, True, False]})
>>> t = completeness(mocks, "found", by="snr", edges=(0, 10, 50, 1e9))
>>> t[["bin", "n", "completeness"]].values.tolist()
[['0-10', 1, 0.0], ['10-50', 2, 0.5], ['50-1e+09', 1, 1.0]]
"""

from __future__ import annotations

import json
import math

import pandas as pd

__all__ = ["mock_truth", "completeness", "found_by_search", "SNR_EDGES", "RESOLUTION_EDGES", "THETA_E_EDGES"]

#: arc S/N bins (best band); people rarely see arcs below about 25 in g (Rojas et al. 2023)
SNR_EDGES = (0.0, 10.0, 20.0, 40.0, 80.0, math.inf)
#: theta_E / seeing bins; below about 1.2 people rarely resolve the arc (Rojas et al. 2023)
RESOLUTION_EDGES = (0.0, 0.8, 1.2, 1.6, 2.4, math.inf)
#: Einstein radius bins (arcsec): below ~0.75" (image separation 1.5") ground-based arcs blend with the lens
THETA_E_EDGES = (0.0, 0.75, 1.0, 1.5, 2.5, math.inf)


def mock_truth(subjects: pd.DataFrame) -> pd.DataFrame:
    """One row per mock subject (label 1 with simulation parameters): subject, theta_e_arcsec,
    psf_fwhm_r (arcsec), theta_e_over_seeing, snr (best band), src_mag_r, scale."""
    rows = []
    for subject, label, params in zip(subjects["subject"], subjects["label"], subjects["params"]):
        if label != 1 or not isinstance(params, str) or not params:
            continue
        p = json.loads(params)
        if "theta_e_arcsec" not in p:
            continue
        seeing = p.get("psf_fwhm_r") or p.get("seeing_r_arcsec") or math.nan
        snr = [p[k] for k in ("snr_g", "snr_r", "snr_z") if p.get(k) is not None]
        rows.append({"subject": subject, "theta_e_arcsec": float(p["theta_e_arcsec"]), "psf_fwhm_r": float(seeing),
                     "snr": max(snr) if snr else math.nan, "src_mag_r": p.get("src_mag_r", math.nan),
                     "scale": p.get("scale", "galaxy")})
    out = pd.DataFrame(rows, columns=["subject", "theta_e_arcsec", "psf_fwhm_r", "snr", "src_mag_r", "scale"])
    out["theta_e_over_seeing"] = out["theta_e_arcsec"] / out["psf_fwhm_r"]
    return out


def _label(lo: float, hi: float) -> str:
    return f"{lo:g}-{hi:g}" if math.isfinite(hi) else f">={lo:g}"


def completeness(mocks: pd.DataFrame, found: str, by: str = "snr", edges=SNR_EDGES) -> pd.DataFrame:
    """Share of ``mocks`` with ``found`` true per bin of column ``by``: bin, lo, hi, n, n_found,
    completeness (NaN for an empty bin) and its binomial standard error."""
    mocks = mocks[mocks[found].notna()]   # mocks nobody (or no model) has looked at count for nothing
    values = mocks[by].to_numpy(float)
    hit = mocks[found].astype(bool).to_numpy()
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (values >= lo) & (values < hi)
        n, k = int(sel.sum()), int(hit[sel].sum())
        p = k / n if n else math.nan
        rows.append({"bin": _label(lo, hi), "lo": lo, "hi": hi, "n": n, "n_found": k, "completeness": p,
                     "error": math.sqrt(p * (1 - p) / n) if n else math.nan})
    return pd.DataFrame(rows)


def found_by_search(store, fpr: float = 0.01, crowd_share: float = 0.5) -> pd.DataFrame:
    """:func:`mock_truth` of the store's mocks with what found them.

    ``crowd``: the share of counted "lens" votes is at least ``crowd_share`` (NaN without votes);
    ``machine``: the newest model's score is above the threshold that lets ``fpr`` of the known
    non-lenses (label 0) through (NaN without a score, or when the model trained on that mock, so
    the curve is not flattered by the training set).  Also ``n_votes`` and ``machine_score``.
    """
    from ..store import queries
    from .load import load_votes
    from .methods import score

    truth = mock_truth(store.subjects())
    crowd = score(load_votes(store), None, "majority").set_index("subject")
    share = crowd["probability"].reindex(truth["subject"]).to_numpy(float)
    votes = crowd["n_votes"].reindex(truth["subject"]).fillna(0).to_numpy(int)
    truth["n_votes"] = votes
    truth["crowd"] = pd.array([None if n == 0 else bool(s >= crowd_share) for s, n in zip(share, votes)],
                              dtype="boolean")
    machine = queries.newest_model_scores(store)
    negatives = machine.loc[machine["label"] == 0, "score"].to_numpy(float)
    held = machine[(machine["label"] == 1) & ~machine["in_training"].astype(bool)].set_index("subject")["score"]
    truth["machine_score"] = held.reindex(truth["subject"]).to_numpy(float)
    if len(negatives):
        from ..realism.evaluate import threshold_at_fpr
        threshold = threshold_at_fpr(negatives, fpr)
        truth["machine"] = pd.array([None if math.isnan(s) else bool(s > threshold) for s in truth["machine_score"]],
                                    dtype="boolean")
    else:
        truth["machine"] = pd.array([None] * len(truth), dtype="boolean")
    return truth
