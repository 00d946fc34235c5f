"""Does the machine look at the arc?  A small run of the product's recipe (paired mocks: the same
cutout with and without its arc, plus the demo's hard negatives), then two shortcut checks on fresh
mocks it never saw: removing the arc must drop the score, and arcs faded below the noise must not
score high."""

from __future__ import annotations

import numpy as np
import pytest

from lensfinder_nb.machine.data import prepare, synthetic_set
from lensfinder_nb.sim.fresh import mock_lenses

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recipe_model():
    from lensfinder_nb.machine.train import TrainConfig, fit

    train = synthetic_set(350, 200, seed=21, cluster_share=0.0, paired_share=0.75)
    # the mocks' arcs are faint (docs/realism.md: median best-band S/N ~24), so the small network
    # needs more epochs than it did with the old bright arcs (5 were enough at S/N ~100; 25 until the
    # sky of 2026-12-04, whose faint arcs inside the lens light need 35 for the faded-arc test below)
    cfg = TrainConfig(epochs=35, batch_size=64, lr=3e-3, width=8, seed=0, n_synthetic=0, time_budget_s=None,
                      threads=1)   # two test workers share two cores
    return fit(train, cfg)[0]


#: best-band arc S/N from which an arc counts as visible to a person (Rojas et al. 2023: arcs below a
#: g-band S/N of ~25 are rarely recovered)
VISIBLE_SNR = 25


@pytest.fixture(scope="module")
def fresh():
    made = mock_lenses(160, seed=31)
    arcs = made.images - made.backgrounds
    snr = made.params[["snr_g", "snr_r", "snr_z"]].max(axis=1).to_numpy()
    return made, arcs, snr


def _score(model, cubes):
    from lensfinder_nb.machine.predict import score_prepared

    return score_prepared(model, prepare(cubes))


def test_removing_the_arc_drops_the_score(recipe_model, fresh):
    made, _, snr = fresh
    with_arc, without = _score(recipe_model, made.images), _score(recipe_model, made.backgrounds)
    visible = snr >= VISIBLE_SNR
    drop = with_arc[visible] - without[visible]
    # the same pixels but the arc: a network that learnt the lens galaxy or the simulator's sky
    # would give both the same score (a drop of 0).  On the sky of 2026-12-04 (fainter lenses, arcs
    # inside the lens light) this small network's median drop is 0.26-0.30 for 350-500 mocks and 35-50
    # epochs (0.3 was the bound on the older sky); the default training's is 0.43 (benchmarks/README.md)
    assert np.median(drop) > 0.2, np.median(drop)
    assert np.mean(drop > 0) > 0.8, np.mean(drop > 0)


def test_arcs_below_the_noise_do_not_score_high(recipe_model, fresh):
    made, arcs, snr = fresh
    # the same arcs faded to a best-band S/N of 2: invisible to a person, so no evidence of a lens
    faded = made.backgrounds + arcs * (2.0 / snr)[:, None, None, None]
    s_faded = _score(recipe_model, faded)
    s_without = _score(recipe_model, made.backgrounds)
    s_bright = _score(recipe_model, made.images)[snr >= VISIBLE_SNR]
    assert np.median(s_faded) < np.median(s_without) + 0.1, (np.median(s_faded), np.median(s_without))
    assert np.median(s_faded) < np.median(s_bright) - 0.3
