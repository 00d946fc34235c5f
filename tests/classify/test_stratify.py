"""Training mocks are served stratified by arc S/N: the faint share a volunteer is measured on is the
mock population's, bin by bin, on a real demo store's subject pool."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.classify.order import plan_queue
from lensfinder_nb.classify.stratify import snr_stratum, stratified_order
from lensfinder_nb.scoring.selection import SNR_EDGES
from lensfinder_nb.sim.demo import build_demo
from lensfinder_nb.store import open_store, queries


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    store = open_store(tmp_path_factory.mktemp("strat") / "lf.duckdb")
    build_demo(store, seed=5, n_mocks=60, n_nonlens=20, n_unknown=10, hidden_lens_fraction=0.0)
    out = queries.subject_pool(store, "swap").assign(retired=False)
    store.close()
    return out


def _bin_shares(snr: np.ndarray) -> np.ndarray:
    bins = snr_stratum(pd.Series(np.ones(len(snr), int)), pd.Series(snr), SNR_EDGES)
    return np.bincount(bins, minlength=len(SNR_EDGES) - 1) / len(snr)


def test_served_training_mocks_match_the_populations_snr_bins(pool):
    mocks = pool[pool["label"] == 1].set_index("subject")["snr"]
    population = _bin_shares(mocks.to_numpy(float))
    assert population[:3].sum() > 0.4, population          # the demo population has many arcs below S/N 40
    for seed in range(5):                                  # five volunteers, each on their own
        served = plan_queue(pool, set(), 80, 0, np.random.default_rng(seed), rate_scale=2.0)
        got = mocks.reindex([s for s in served if s in mocks.index]).to_numpy(float)
        assert len(got) >= 20
        shares = _bin_shares(got[:20])                     # a third of the mocks already in proportion
        assert np.abs(shares - population).max() <= 0.1, (seed, shares, population)


def test_the_comparison_fails_when_only_bright_arcs_are_served(pool):
    mocks = pool[pool["label"] == 1].sort_values("snr", ascending=False)
    population = _bin_shares(mocks["snr"].to_numpy(float))
    bright_first = _bin_shares(mocks["snr"].to_numpy(float)[:20])
    assert np.abs(bright_first - population).max() > 0.1


def test_stratified_order_keeps_every_subject_once_and_fewest_votes_first_within_a_bin(pool):
    training = pool[pool["label"] != -1].assign(n_votes=0)
    busy = training[training["label"] == 0]["subject"].iloc[0]
    training.loc[training["subject"] == busy, "n_votes"] = 9
    order = stratified_order(training, np.random.default_rng(0))
    assert sorted(order) == sorted(training["subject"])
    non_lenses = [s for s in order if s in set(training.loc[training["label"] == 0, "subject"])]
    assert non_lenses[-1] == busy
