"""The views of a snapshot: the DuckDB file and the journal tails not yet folded, as one.

:meth:`Store.snapshot <lensfinder_nb.store.Store.snapshot>` attaches the file read-only as
``db``, registers the pending journal events as ``_pending_votes``, ``_pending_retractions``
and ``_pending_annotations``, then runs :data:`SNAPSHOT_VIEWS`.

The counting rule
-----------------
**A vote counts when it is not retracted, and only the first such vote of a person on a
subject counts, "first" by ``created_at`` and then ``seq`` (arrival order).**  A vote
retracted and cast again therefore counts once, as the new vote; a second opinion of the
same person on the same subject never adds weight.

In SQL it is written once, as the ``counted_votes`` view below, and every count made over
the store reads that view: the queue's votes per subject, retirement, the personal centre
(metrics, progress, the skill used to route hard subjects), the teacher's table and
activity, the notebooks' activity.  The scoring engine (aggregators and volunteer metrics)
takes votes from anywhere (a store, a CSV, a Panoptes export, a simulated crowd) and applies
the same rule in numpy (:meth:`lensfinder_nb.scoring.CodedVotes.from_codes`), several times
faster than this window at millions of votes; ``tests/store/test_counting_rule.py`` checks
that both keep the same votes.
"""

from __future__ import annotations

__all__ = ["SNAPSHOT_VIEWS", "VIEW_NAMES"]

#: the views a snapshot offers (and ``lensfinder sql`` can query)
VIEW_NAMES = ("subjects", "users", "votes", "counted_votes", "annotations", "scores", "machine_scores",
              "settings", "comments", "grades", "latest_grades", "lens_models")

SNAPSHOT_VIEWS = """
CREATE TEMP VIEW subjects AS SELECT * FROM db.subjects;
CREATE TEMP VIEW users AS SELECT * FROM db.users;
CREATE TEMP VIEW settings AS SELECT * FROM db.settings;
CREATE TEMP VIEW scores AS SELECT * FROM db.scores;
CREATE TEMP VIEW machine_scores AS SELECT * FROM db.machine_scores;
CREATE TEMP VIEW comments AS SELECT * FROM db.comments;
CREATE TEMP VIEW grades AS SELECT * FROM db.grades;
-- Expert grades that count: each grader's latest grade of a subject (regrading keeps the history).
CREATE TEMP VIEW latest_grades AS
SELECT * FROM db.grades
QUALIFY row_number() OVER (PARTITION BY user_id, subject ORDER BY created_at DESC, grade_id DESC) = 1;
CREATE TEMP VIEW lens_models AS SELECT * FROM db.lens_models;
CREATE TEMP VIEW live_swap_meta AS SELECT * FROM db.live_swap_meta;
CREATE TEMP VIEW live_swap_users AS SELECT * FROM db.live_swap_users;
CREATE TEMP VIEW live_swap_subjects AS SELECT * FROM db.live_swap_subjects;
CREATE TEMP VIEW votes AS
WITH stored AS (SELECT * FROM db.votes),
pending AS (
    SELECT p.vote_id,
           (SELECT coalesce(max(seq), 0) FROM db.votes) + row_number() OVER (ORDER BY p.created_at, p.arrival) AS seq,
           p.user_id, p.subject, p.answer::TINYINT AS answer, p.marks::JSON AS marks, p.created_at::TIMESTAMP AS created_at,
           p.time_spent_s, p.session, NULL::TIMESTAMP AS retracted_at
    FROM _pending_votes p
    WHERE NOT EXISTS (SELECT 1 FROM db.votes v WHERE v.vote_id = p.vote_id)
    QUALIFY row_number() OVER (PARTITION BY p.vote_id ORDER BY p.arrival) = 1
),
allv AS (SELECT * FROM stored UNION ALL BY NAME SELECT * FROM pending)
SELECT allv.* REPLACE (coalesce(allv.retracted_at,
        CASE WHEN r.user_id = allv.user_id THEN r.retracted_at::TIMESTAMP END) AS retracted_at)
FROM allv LEFT JOIN _pending_retractions r USING (vote_id);
-- The counting rule (module docstring): not retracted, first per (user_id, subject) by created_at, seq.
CREATE TEMP VIEW counted_votes AS
SELECT * FROM votes
WHERE retracted_at IS NULL
QUALIFY row_number() OVER (PARTITION BY user_id, subject ORDER BY created_at, seq) = 1;
CREATE TEMP VIEW annotations AS
SELECT * FROM db.annotations
UNION ALL BY NAME
SELECT event_id, user_id, subject, favourite::BOOLEAN AS favourite, comment, created_at::TIMESTAMP AS created_at
FROM _pending_annotations WHERE event_id NOT IN (SELECT event_id FROM db.annotations);
"""
