"""Scoring: volunteer metrics, subject scores by several aggregators, retirement, candidates.

Every function is pure: DataFrames (or :class:`CodedVotes`) in, DataFrames out.  See
``docs/scoring.md`` for the formulas and conventions.

>>> from lensfinder_nb.scoring import simulate_crowd, score
>>> crowd = simulate_crowd(n_votes=5_000, n_users=50, n_subjects=1_000, seed=1)
>>> scores = score(crowd.votes, crowd.subjects, "swap")
>>> list(scores.columns)
['subject', 'probability', 'n_votes', 'status']
"""

from ._votes import CodedVotes, assign_status, code_votes
from .candidates import candidates, write_table
from .crowd_sim import SimulatedCrowd, simulate_crowd, training_rate
from .dawid_skene import dawid_skene
from .evaluation import completeness_at_fpr, completeness_purity, evaluate, roc_auc
from .fraction import majority, vote_weights, weighted
from .load import load_votes
from .methods import METHODS, default_thresholds, score
from .metrics import confusion_matrices, skill_bits, swap_agent, volunteer_metrics
from .classroom import SimulatedClass, demo_truth, simulate_class
from .retirement import (Thresholds, matched_training_scores, retired_subjects, retirement, tune_thresholds,
                         tune_thresholds_matched)
from .swap import swap, swap_offline, swap_reference, swap_trajectories

__all__ = [
    "CodedVotes", "code_votes", "load_votes", "assign_status",
    "METHODS", "score", "default_thresholds",
    "majority", "weighted", "vote_weights", "swap", "swap_offline", "swap_reference", "swap_trajectories",
    "dawid_skene",
    "volunteer_metrics", "confusion_matrices", "skill_bits", "swap_agent",
    "retirement", "retired_subjects", "tune_thresholds", "tune_thresholds_matched", "matched_training_scores",
    "Thresholds",
    "candidates", "write_table",
    "simulate_crowd", "SimulatedCrowd", "training_rate", "simulate_class", "SimulatedClass", "demo_truth",
    "roc_auc", "completeness_at_fpr", "completeness_purity", "evaluate",
]
