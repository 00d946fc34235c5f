"""Aggregators: one shared base test class, plus method-specific checks (SWAP == its loop)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.scoring import (METHODS, code_votes, confusion_matrices, dawid_skene, default_thresholds,
                                   majority, score,
                                   skill_bits, swap, swap_offline, swap_reference, swap_trajectories,
                                   volunteer_metrics, weighted)
from lensfinder_nb.scoring.metrics import swap_agent


def perfect_crowd(seed: int = 0, n_users: int = 12) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Volunteers who always answer the truth: all training subjects first, then every unknown."""
    rng = np.random.default_rng(seed)
    n_sims, n_duds, n_test = 10, 10, 40
    names = [f"T{i:03d}" for i in range(n_sims + n_duds + n_test)]
    label = [1] * n_sims + [0] * n_duds + [-1] * n_test
    truth = np.array([1] * n_sims + [0] * n_duds + list((np.arange(n_test) % 8 == 0).astype(int)))
    rows = []
    for u in range(n_users):
        order = np.concatenate([rng.permutation(n_sims + n_duds), n_sims + n_duds + rng.permutation(n_test)])
        for k, s in enumerate(order):
            rows.append((f"u{u}", names[s], int(truth[s]), pd.Timestamp("2024-01-01") + pd.Timedelta(seconds=u + 10 * k)))
    votes = pd.DataFrame(rows, columns=["user_id", "subject", "answer", "created_at"])
    votes["seq"] = np.arange(1, len(votes) + 1)
    subjects = pd.DataFrame({"subject": names, "label": label})
    return votes, subjects, pd.Series(truth, index=names)


def random_crowd(seed: int, n_votes: int = 600) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random votes with many created_at ties (3 distinct times) and duplicate votes."""
    rng = np.random.default_rng(seed)
    subjects = pd.DataFrame({"subject": [f"R{i:02d}" for i in range(30)],
                             "label": rng.choice([1, 0, -1], size=30, p=[0.3, 0.2, 0.5])})
    votes = pd.DataFrame({
        "user_id": rng.choice([f"v{i}" for i in range(12)], n_votes),
        "subject": rng.choice(subjects["subject"], n_votes),
        "answer": rng.integers(0, 2, n_votes).astype("int8"),
        "created_at": pd.Timestamp("2024-05-01") + pd.to_timedelta(rng.integers(0, 3, n_votes), unit="h"),
        "seq": rng.permutation(n_votes) + 1,
    })
    return votes, subjects


def adversary_crowd(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Five reliable people (5 % slips) on every subject, and one who always answers the opposite:
    on 4 training subjects, the 60 unknowns everybody saw, and 4 unknowns only they saw (X0-X3)."""
    rng = np.random.default_rng(seed)
    train = [(f"L{i}", 1) for i in range(10)] + [(f"N{i}", 0) for i in range(10)]
    shared = [(f"U{i:02d}", int(i % 3 == 0)) for i in range(60)]         # 20 lenses among 60 unknowns
    solo = [("X0", 1), ("X1", 1), ("X2", 0), ("X3", 0)]
    rows = []
    for u in range(5):
        for s, truth in train + shared:
            rows.append((f"good{u}", s, truth if rng.random() > 0.05 else 1 - truth))
    for s, truth in train[:2] + train[10:12] + shared + solo:
        rows.append(("adversary", s, 1 - truth))
    votes = pd.DataFrame(rows, columns=["user_id", "subject", "answer"])
    votes["created_at"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(votes)), unit="s")
    subjects = pd.DataFrame({"subject": [s for s, _ in train + shared + solo],
                             "label": [label for _, label in train] + [-1] * (len(shared) + len(solo))})
    return votes, subjects, pd.Series(dict(shared + solo))


class AggregatorContract:
    """What every aggregator promises; subclasses set ``method``."""

    method: str

    def run(self, votes: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
        return score(votes, subjects, self.method)

    def test_perfect_voters_recover_the_truth(self):
        votes, subjects, truth = perfect_crowd()
        s = self.run(votes, subjects).set_index("subject")
        chosen = subjects["subject"][subjects["label"] == -1]
        assert (s.loc[chosen, "n_votes"] == 12).all() and truth[chosen].sum() == 5
        got = s.loc[chosen, "status"]
        assert (got[truth[chosen] == 1] == "detected").all()
        assert (got[truth[chosen] == 0] == "rejected").all()

    def test_columns_counts_and_status_follow_the_thresholds(self):
        votes, subjects = random_crowd(1)
        s = self.run(votes, subjects).set_index("subject")
        assert list(s.reset_index().columns) == ["subject", "probability", "n_votes", "status"]
        assert sorted(s.index) == sorted(subjects["subject"])
        assert np.isfinite(s["probability"]).all()
        # n_votes: one per person and subject, counted here with pandas
        people = votes.groupby("subject")["user_id"].nunique()
        assert s["n_votes"].to_dict() == people.reindex(s.index, fill_value=0).to_dict()
        t = default_thresholds(self.method)
        enough = s["n_votes"] >= t["min_votes"]
        expected = np.where(enough & (s["probability"] > t["detect"]), "detected",
                            np.where(enough & (s["probability"] < t["reject"]), "rejected", "undecided"))
        assert s["status"].tolist() == expected.tolist()

    def test_independent_of_row_order(self):
        votes, subjects = random_crowd(2)
        a = self.run(votes, subjects)
        b = self.run(votes.sample(frac=1, random_state=5), subjects.sample(frac=1, random_state=6))
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)

    def test_retracted_votes_and_repeat_votes_never_count(self):
        votes, subjects, _ = perfect_crowd()
        base = self.run(votes, subjects)
        target = votes["subject"].iloc[0]
        wrong = votes[votes["subject"] == target].copy()
        wrong["answer"] = 1 - wrong["answer"]
        later = wrong.assign(created_at=wrong["created_at"] + pd.Timedelta(days=1), seq=wrong["seq"] + 10**6)
        retracted = wrong.assign(user_id="someone-else", seq=wrong["seq"] + 2 * 10**6,
                                 retracted_at=pd.Timestamp("2024-02-01"))
        noisy = pd.concat([votes.assign(retracted_at=pd.NaT), later.assign(retracted_at=pd.NaT), retracted],
                          ignore_index=True)
        pd.testing.assert_frame_equal(self.run(noisy, subjects), base)


class TestMajority(AggregatorContract):
    method = "majority"

    def test_fraction(self):
        votes = pd.DataFrame({"user_id": ["a", "b", "c", "d"], "subject": ["x"] * 4, "answer": [1, 1, 1, 0],
                              "created_at": pd.Timestamp("2024-01-01")})
        s = majority(votes, pd.DataFrame({"subject": ["x", "y"], "label": [-1, -1]}), min_votes=4)
        assert s["probability"].tolist() == [0.75, 0.0]
        assert s["status"].tolist() == ["detected", "undecided"]


class TestWeighted(AggregatorContract):
    method = "weighted"

    def test_a_volunteer_at_chance_has_no_say(self):
        subjects = pd.DataFrame({"subject": ["sim1", "dud1", "x"], "label": [1, 0, -1]})
        t = pd.Timestamp("2024-01-01")
        votes = pd.DataFrame({
            "user_id": ["good"] * 3 + ["bad"] * 3,
            "subject": ["sim1", "dud1", "x"] * 2,
            "answer": [1, 0, 1, 0, 1, 0],     # "bad" gets both training subjects wrong
            "created_at": t,
        })
        s = weighted(votes, subjects, min_votes=1).set_index("subject")
        assert s.loc["x", "probability"] == 1.0


class TestSwap(AggregatorContract):
    method = "swap"

    @pytest.mark.parametrize("seed", range(6))
    def test_vectorised_equals_reference_loop(self, seed):
        votes, subjects = random_crowd(seed)
        fast = swap(votes, subjects)
        ref = swap_reference(votes, subjects)
        np.testing.assert_allclose(fast["probability"], ref["probability"], rtol=1e-9, atol=1e-12)
        assert fast["n_votes"].tolist() == ref["n_votes"].tolist()
        assert fast["subject"].tolist() == ref["subject"].tolist()
        lo = lambda p: np.log(p) - np.log1p(-p)  # noqa: E731
        np.testing.assert_allclose(lo(fast["probability"]), lo(ref["probability"]), rtol=1e-9, atol=1e-9)

    def test_one_vote_by_hand(self):
        # A volunteer right on 2 sims then voting "lens": PL = 4/6, PD = 0.5.
        subjects = pd.DataFrame({"subject": ["a", "b", "x"], "label": [1, 1, -1]})
        votes = pd.DataFrame({"user_id": "u", "subject": ["a", "b", "x"], "answer": [1, 1, 1],
                              "created_at": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01",
                                                            "2024-01-01 00:02"])})
        p = swap(votes, subjects, prior=0.1).set_index("subject").loc["x", "probability"]
        odds = 0.1 / 0.9 * (4 / 6) / 0.5
        assert p == pytest.approx(odds / (1 + odds), rel=1e-12)
        # The first sim is scored with the prior agent (PL = PD = 0.5): no information.
        assert swap(votes, subjects, prior=0.1).set_index("subject").loc["a", "probability"] == pytest.approx(0.1)

    def test_tie_on_time_follows_seq(self):
        subjects = pd.DataFrame({"subject": ["sim", "x"], "label": [1, -1]})
        t = pd.Timestamp("2024-01-01")
        votes = pd.DataFrame({"user_id": "u", "subject": ["sim", "x"], "answer": [1, 1], "created_at": t,
                              "seq": [2, 1]})
        # x arrived first, so its vote used the untrained agent: probability = prior.
        assert swap(votes, subjects, prior=0.2).set_index("subject").loc["x", "probability"] == pytest.approx(0.2)
        votes["seq"] = [1, 2]
        assert swap(votes, subjects, prior=0.2).set_index("subject").loc["x", "probability"] > 0.2

    def test_trajectories_end_at_the_scores(self):
        votes, subjects = random_crowd(3)
        scores, traj = swap(votes, subjects, trajectories=True)
        last = traj.groupby("subject")["probability"].last()
        np.testing.assert_allclose(last, scores.set_index("subject").loc[last.index, "probability"], rtol=1e-12)
        assert (traj.groupby("subject")["k"].max() == scores.set_index("subject").loc[last.index, "n_votes"]).all()
        pd.testing.assert_frame_equal(traj, swap_trajectories(votes, subjects))


class TestSwapOffline(AggregatorContract):
    method = "swap-offline"

    def test_uses_all_training_votes(self):
        subjects = pd.DataFrame({"subject": ["x", "sim"], "label": [-1, 1]})
        votes = pd.DataFrame({"user_id": "u", "subject": ["x", "sim"], "answer": [1, 1],
                              "created_at": pd.to_datetime(["2024-01-01", "2024-01-02"])})
        # Offline, the later training vote already counts for x: PL = 3/5, PD = 0.5.
        p = swap_offline(votes, subjects, prior=0.5).set_index("subject").loc["x", "probability"]
        assert p == pytest.approx((3 / 5) / (3 / 5 + 0.5), rel=1e-12)


class TestDawidSkene(AggregatorContract):
    method = "dawid-skene"

    def test_learns_who_to_trust_from_unknowns(self):
        votes, subjects, truth = adversary_crowd()
        scores, model = dawid_skene(votes, subjects, return_model=True)
        pl, pdd = (dict(zip(model["users"], model[k])) for k in ("PL", "PD"))
        # From its 4 training votes alone the adversary looks merely poor (SWAP's agent: 2 / 6);
        # its ~60 votes on unknowns, against 5 reliable people, show it answers the opposite.
        assert swap_agent(np.array(0.0), np.array(2.0)) == pytest.approx(1 / 3)
        assert pl["adversary"] < 0.1 and pdd["adversary"] < 0.1            # an inverted confusion matrix
        assert all(pl[f"good{u}"] > 0.8 and pdd[f"good{u}"] > 0.8 for u in range(5))
        p = scores.set_index("subject")["probability"]
        shared = truth.index[truth.index.str.startswith("U")]
        lens = truth[shared] == 1
        assert p[shared][lens].min() > 0.99 and p[shared][~lens].max() < 1e-3   # the reliable people decide
        # Subjects only the adversary saw: its "not" means lens, its "lens" means not.  One vote by
        # Bayes: P(lens | "not") = prior (1 - PL) / (prior (1 - PL) + (1 - prior) PD).
        prior, a_pl, a_pd = model["prior"], pl["adversary"], pdd["adversary"]
        by_hand = {"not": prior * (1 - a_pl) / (prior * (1 - a_pl) + (1 - prior) * a_pd),
                   "lens": prior * a_pl / (prior * a_pl + (1 - prior) * (1 - a_pd))}
        for x in ("X0", "X1"):                                              # true lenses, voted "not"
            assert p[x] == pytest.approx(by_hand["not"], rel=1e-9) and p[x] > 0.9
        for x in ("X2", "X3"):                                              # non-lenses, voted "lens"
            assert p[x] == pytest.approx(by_hand["lens"], rel=1e-9) and p[x] < 0.05
        # the case is a real test: counting votes believes the adversary
        naive = majority(votes, subjects, min_votes=1).set_index("subject")["probability"]
        assert naive[["X0", "X1"]].tolist() == [0.0, 0.0] and naive[["X2", "X3"]].tolist() == [1.0, 1.0]

    def test_fixed_prior_is_kept(self):
        votes, subjects = random_crowd(5)
        subjects = pd.concat([subjects, pd.DataFrame({"subject": ["nobody-voted"], "label": [-1]})])
        scores, model = dawid_skene(votes, subjects, prior=2e-4, return_model=True)
        assert model["prior"] == 2e-4
        # without votes the posterior is the prior itself; with votes it moves from it
        p = scores.set_index("subject")["probability"]
        assert p["nobody-voted"] == pytest.approx(2e-4, rel=1e-12)
        free = dawid_skene(votes, subjects, return_model=True)[1]["prior"]
        assert abs(free - 2e-4) > 0.01 and p.drop("nobody-voted").sub(2e-4).abs().min() > 0


def test_methods_registry_and_unknown_method():
    assert set(METHODS) == {"majority", "weighted", "swap", "swap-offline", "dawid-skene"}
    votes, subjects = random_crowd(0)
    with pytest.raises(ValueError, match="unknown scoring method"):
        score(votes, subjects, "vibes")
    with pytest.raises(ValueError, match="above the detection"):
        score(votes, subjects, "swap", detect=0.1, reject=0.5)


def test_votes_on_unknown_subjects_are_an_error():
    votes, subjects = random_crowd(0)
    with pytest.raises(ValueError, match="unknown subject"):
        code_votes(votes, subjects.iloc[1:])


def test_volunteer_metrics_by_hand():
    subjects = pd.DataFrame({"subject": ["s1", "s2", "d1", "d2", "x"], "label": [1, 1, 0, 0, -1]})
    t = pd.Timestamp("2024-01-01")
    votes = pd.DataFrame({
        "user_id": ["a"] * 5 + ["b"],
        "subject": ["s1", "s2", "d1", "d2", "x", "x"],
        "answer": [1, 0, 1, 0, 1, 1],
        "created_at": t,
    })
    m = volunteer_metrics(votes, subjects).set_index("user_id")
    a, b = m.loc["a"], m.loc["b"]
    assert (a.TP, a.FN, a.FP, a.TN) == (1, 1, 1, 1)
    assert a.accuracy == 0.5 and a.precision == 0.5 and a.recall == 0.5 and a.F1 == 0.5
    assert a.PL == 0.5 and a.PD == 0.5 and a.skill == 0.0
    assert (a.n_votes, a.n_training, a.n_test) == (5, 4, 1)
    # b has no training: ratios are undefined (NaN), the agent is the prior, skill 0.
    assert np.isnan(b.accuracy) and np.isnan(b.precision) and np.isnan(b.F1)
    assert b.PL == 0.5 and b.contribution == 0.0
    cm = confusion_matrices(m.reset_index())
    assert cm.shape == (2, 2, 2) and cm[0].tolist() == [[1, 1], [1, 1]]


def test_skill_is_information_in_bits():
    assert skill_bits(np.array(0.99), np.array(0.99)) == pytest.approx(1 - 0.0807931, abs=1e-6)
    assert skill_bits(np.array(0.8), np.array(0.5)) > 0
    # symmetric in swapping PL and PD at p = 0.5
    assert skill_bits(np.array(0.9), np.array(0.6)) == pytest.approx(skill_bits(np.array(0.6), np.array(0.9)))
