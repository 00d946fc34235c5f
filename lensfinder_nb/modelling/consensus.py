"""One lens model per subject from the models people saved (the catalogue's model columns).

The rule, per subject:

1. **whose models**: people's models; the automatic model (user :data:`AUTO_USER`, ``lensfinder model``)
   only when no person has modelled the subject;
2. **which model of each**: a person's newest *refined* model (the fit, with an error and a chi2);
   a person who never refined counts with their newest hand-made model only when nobody refined;
3. **combined**: the weighted median over those models of each parameter, weight ``1 / max(chi2_red, 1)``
   (a fit that leaves more than noise behind counts less; hand-made models weigh 1);
4. **theta_E's error**: the larger of the median of the fits' errors and the scatter between people
   (1.4826 x MAD x 1.253 / sqrt(n), the error of a median); NaN when neither is known.

Ellipticities are lenstronomy's: ``e = (1 - q) / (1 + q)``, ``e1 = e cos 2 phi``, ``e2 = e sin 2 phi``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

__all__ = ["AUTO_USER", "CONSENSUS_COLUMNS", "consensus_models"]

#: the user id under which ``lensfinder model`` stores the automatic fit
AUTO_USER = "auto"

#: the columns of :func:`consensus_models`, in order
CONSENSUS_COLUMNS = ["subject", "theta_E", "theta_E_err", "e1", "e2", "gamma1", "gamma2", "center_x", "center_y",
                     "n_models"]


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    half = 0.5 * cum[-1]
    i = int(np.searchsorted(cum, half))
    # an exact tie at the half-way point: the mean of the two middle values, like an ordinary median
    if i + 1 < len(v) and math.isclose(cum[i], half):
        return float((v[i] + v[i + 1]) / 2)
    return float(v[i])


def _chosen(group: pd.DataFrame) -> pd.DataFrame:
    people = group[group["user_id"] != AUTO_USER]
    pool = people if len(people) else group
    refined = pool[pool["refined"].astype(bool)]
    pool = refined if len(refined) else pool
    return pool.sort_values("created_at").groupby("user_id", sort=False).tail(1)


def _row(subject: str, models: pd.DataFrame) -> dict:
    params = [p if isinstance(p, dict) else json.loads(p) for p in models["params"]]
    chi2 = pd.to_numeric(models["quality"], errors="coerce").to_numpy(float)
    refined = models["refined"].astype(bool).to_numpy()
    weights = np.where(refined & np.isfinite(chi2), 1.0 / np.maximum(np.nan_to_num(chi2, nan=1.0), 1.0), 1.0)

    def get(key: str, default: float = 0.0) -> np.ndarray:
        return np.array([float(p.get(key, default)) for p in params])

    theta = pd.to_numeric(models["theta_e"], errors="coerce").to_numpy(float)
    q, phi = get("lens_q", 1.0), get("lens_phi_rad")
    e = (1 - q) / (1 + q)
    columns = {"theta_E": theta, "e1": e * np.cos(2 * phi), "e2": e * np.sin(2 * phi), "gamma1": get("gamma1"),
               "gamma2": get("gamma2"), "center_x": get("lens_x_arcsec"), "center_y": get("lens_y_arcsec")}
    out: dict = {"subject": subject}
    for name, values in columns.items():
        out[name] = _weighted_median(values, weights)
    errs = pd.to_numeric(models["theta_e_err"], errors="coerce").to_numpy(float)
    errs = errs[np.isfinite(errs)]
    fit_err = float(np.median(errs)) if errs.size else math.nan
    n = len(theta)
    scatter = (1.4826 * float(np.median(np.abs(theta - np.median(theta)))) * 1.253 / math.sqrt(n)
               if n > 1 else math.nan)
    out["theta_E_err"] = float(np.nanmax([fit_err, scatter])) if np.isfinite([fit_err, scatter]).any() else math.nan
    out["n_models"] = n
    return out


def consensus_models(models: pd.DataFrame) -> pd.DataFrame:
    """The consensus model of each subject (rule in the module docstring) from stored lens models
    (:meth:`Store.lens_models <lensfinder_nb.store.Store.lens_models>`: user_id, subject, params, theta_e,
    theta_e_err, quality, refined, created_at).  Columns :data:`CONSENSUS_COLUMNS`, one row per subject
    that has a model, sorted by subject."""
    if models is None or len(models) == 0:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "n_models" else
                                          ("object" if c == "subject" else "float64")) for c in CONSENSUS_COLUMNS})
    missing = {"user_id", "subject", "params", "theta_e", "theta_e_err", "quality", "refined", "created_at"} \
        - set(models.columns)
    if missing:
        raise ValueError(f"lens models need the columns {sorted(missing)}")
    rows = [_row(str(subject), _chosen(group)) for subject, group in models.groupby("subject", sort=True)]
    out = pd.DataFrame(rows, columns=CONSENSUS_COLUMNS)
    out["n_models"] = out["n_models"].astype("int64")
    return out
