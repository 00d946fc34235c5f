"""The teacher's dashboard: the class table, activity, top candidates, settings, vote imports and expert
grading (:mod:`.teacher_grading`).

The page shows nothing but a "teacher key required" message unless ``?key=`` matches the
teacher key (:func:`lensfinder_nb.classify.identity.is_teacher`; ``lensfinder serve`` prints the link),
or the page runs on JupyterHub for a hub admin (``Settings.hub_admin``, set by the hub's spawner).

The switches edit the class settings (:class:`~lensfinder_nb.settings.ClassSettings`: feedback,
training_rate_scale, routing; defaults and limits are written there), which the classify and
tutorial pages read through their page settings.
"""

from __future__ import annotations

import math
import tempfile
import urllib.parse
from dataclasses import replace
from pathlib import Path

import ipywidgets as w
import pandas as pd

from ..classify.identity import is_teacher
from ..settings import ClassSettings, Settings
from ..store import Store, StoreError, queries
from .common import escape
from .frame import PageFrame, open_page

__all__ = ["teacher_page", "TeacherView", "class_table", "activity", "top_candidates", "import_vote_file",
           "tagged_comments_html"]
GRID_OPTIONS = {"defaultColDef": {"sortable": True, "filter": True, "resizable": True},
                "animateRows": True}
_CSS = """<style>
.lf-cand { border: 1px solid #ddd; border-radius: 4px; padding: 4px; font-size: 12px; line-height: 1.3; }
</style>"""


# ---------------------------------------------------------------------- data (no widgets)
def class_table(store: Store) -> pd.DataFrame:
    """One row per volunteer with counted votes, most contributing first.

    Columns: name (display name, else the user id), user_id, n_votes, n_training,
    last_active (UTC, ISO minutes), accuracy, F1, skill, contribution (NaN: no evidence).
    """
    from ..scoring import load_votes, volunteer_metrics

    metrics = volunteer_metrics(load_votes(store))
    df = metrics.merge(queries.volunteer_activity(store), on="user_id", how="left")
    df["name"] = df["name"].where(df["name"].notna() & (df["name"] != ""), df["user_id"])
    df["last_active"] = pd.to_datetime(df["last_active"]).dt.strftime("%Y-%m-%d %H:%M")
    df = df.sort_values(["contribution", "n_votes", "user_id"], ascending=[False, False, True], kind="stable")
    return df[["name", "user_id", "n_votes", "n_training", "last_active", "accuracy", "F1", "skill",
               "contribution"]].reset_index(drop=True)


def activity(store: Store, per: str = "auto") -> tuple[pd.DataFrame, str]:
    """Counted classifications per time bin, empty bins as 0, and the bin used.

    ``per``: "minute", "hour" or "auto" (minutes for up to 3 hours of activity, else hours;
    minutes are also replaced by hours beyond 2,000 bins).  Frame columns: start, n.
    """
    t0, t1 = queries.counted_vote_span(store)
    if t0 is None:
        return pd.DataFrame({"start": pd.Series(dtype="datetime64[us]"), "n": pd.Series(dtype="int64")}), \
            ("hour" if per == "hour" else "minute")
    minutes = (t1 - t0).total_seconds() / 60
    if per == "auto":
        per = "minute" if minutes <= 180 else "hour"
    if per == "minute" and minutes > 2000:
        per = "hour"
    if per not in ("minute", "hour"):
        raise ValueError(f"per must be 'minute', 'hour' or 'auto', got {per!r}")
    counts = queries.activity_counts(store, minutes=1 if per == "minute" else 60)
    full = pd.date_range(counts["start"].iloc[0], counts["start"].iloc[-1], freq="min" if per == "minute" else "h")
    n = counts.set_index("start")["votes"].reindex(full, fill_value=0)
    return pd.DataFrame({"start": full, "n": n.to_numpy(dtype="int64")}), per


def top_candidates(store: Store, method: str = "swap", n: int = 12) -> tuple[pd.DataFrame, bool]:
    """The ``n`` most probable unknown subjects with votes, and whether stored scores were used.

    Uses the scores stored for ``method`` (``lensfinder score``) if any, otherwise scores
    the current votes now.  Columns: subject, probability, n_votes, status, image,
    machine_score (latest model score from ``machine_scores``, NaN if none).
    """
    stored = queries.stored_scores(store, method)
    used_stored = not stored.empty
    if not used_stored:
        from ..scoring import load_votes, score
        stored = score(load_votes(store), None, method)
    machine = queries.latest_machine_scores(store).rename(columns={"score": "machine_score"})
    info = store.subjects()[["subject", "label", "image"]].merge(machine, on="subject", how="left")
    df = stored.merge(info, on="subject", how="inner")
    df = df[(df["label"] == -1) & (df["n_votes"] > 0)]
    df = df.sort_values(["probability", "n_votes", "subject"], ascending=[False, False, True], kind="stable")
    return df.head(n)[["subject", "probability", "n_votes", "status", "image", "machine_score"]] \
        .reset_index(drop=True), used_stored


def import_vote_file(store: Store, name: str, content: bytes) -> tuple[int, int]:
    """Merge one uploaded votes CSV into ``store``, all or nothing.

    Returns (new votes, votes already stored).  Raises :class:`StoreError` (naming the file
    and line, never a temporary path) and writes nothing when any row is bad.
    """
    from ..store.tables import read_votes_csv

    shown = Path(str(name)).name or "votes.csv"
    with tempfile.TemporaryDirectory(prefix="lf-import-") as tmp:
        path = Path(tmp) / "upload.csv"
        path.write_bytes(bytes(content))
        try:
            frame = read_votes_csv(path, store.subject_ids(refresh=True))
        except StoreError as exc:
            raise StoreError(str(exc).replace(str(path), shown)) from None
    store.fold()  # votes still in this process's journals count as already stored
    n_new = store.import_votes(frame)
    return n_new, int(frame["vote_id"].nunique()) - n_new


def tagged_comments_html(found: pd.DataFrame, t, thread_link) -> str:
    """Posts found by a hashtag search as an escaped list: subject (a link to its thread), name, text."""
    items = []
    for r in found.itertuples(index=False):
        when = pd.Timestamp(r.created_at).strftime("%Y-%m-%d %H:%M")
        items.append(f"<li><b>{escape(str(r.subject))}</b> (<a href=\"{escape(thread_link(str(r.subject)))}\" "
                     f"target='_blank'>{escape(t('teacher.discussion.open'))}</a>) · "
                     f"<span class='lf-name'>{escape(str(r.name))}</span> · {escape(when)}: "
                     f"<span class='lf-body'>{escape(str(r.body))}</span></li>")
    return "<ul class='lf-found'>" + "".join(items) + "</ul>"


# ---------------------------------------------------------------------- page
def teacher_page(query_string: str | None = None, store: Store | None = None,
                 settings: Settings | None = None) -> PageFrame:
    """The teacher's dashboard (``apps/teacher.ipynb``); needs ``?key=<teacher key>``, or a JupyterHub admin.

    Defaults as for every page (:func:`~lensfinder_nb.ui.frame.open_page`).
    """
    return open_page("teacher", _render, query_string=query_string, store=store, settings=settings,
                     identify_person=False)


def _is_hub_admin(settings: Settings) -> bool:
    """A JupyterHub admin: the hub itself vouches for the user and the flag (set per server by the hub)."""
    return bool(settings.hub_user) and settings.hub_admin


def _render(frame: PageFrame) -> None:
    if not (_is_hub_admin(frame.settings) or is_teacher(frame.store, frame.params.get("key"))):
        frame.body.children = [w.HTML(f"<p class='lf-error' role='alert'>{frame.t('teacher.key_required')}</p>")]
        return
    frame.body.children = [TeacherView(frame)]


def _fmt(x: object, digits: int) -> object:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


class TeacherView(w.VBox):
    """The dashboard's parts; build it only after the teacher key was checked."""

    def __init__(self, frame: PageFrame) -> None:
        self.frame, self.t, self.store = frame, frame.t, frame.store
        self._syncing = False
        t = self.t
        h = lambda key: w.HTML(f"<h3>{escape(t(key))}</h3>")  # noqa: E731
        self.class_summary = w.HTML()
        self.grid_box = w.VBox()
        self.per = w.ToggleButtons(options=[(t("teacher.activity.per_minute"), "minute"),
                                            (t("teacher.activity.per_hour"), "hour")], value=None)
        self.plot_box = w.VBox()
        self.method = w.Dropdown(description=t("teacher.candidates.method"), value="swap",
                                 options=["swap", "swap-offline", "dawid-skene", "weighted", "majority"])
        self.candidates_note = w.HTML()
        self.gallery = w.GridBox(layout=w.Layout(grid_template_columns="repeat(auto-fill, 150px)", grid_gap="6px"))
        self.settings_status = w.HTML()
        self.feedback = w.Checkbox(description=t("teacher.settings.feedback"), indent=False)
        low, high = ClassSettings.TRAINING_RATE_RANGE
        self.rate = w.FloatSlider(description=t("teacher.settings.training_rate_scale"), min=low,
                                  max=high, step=0.1, readout_format=".1f",
                                  style={"description_width": "initial"})
        self.routing = w.Checkbox(description=t("teacher.settings.routing"), indent=False,
                                  layout=w.Layout(width="auto"))
        self.uploader = w.FileUpload(accept=".csv,text/csv", multiple=False, description=t("teacher.import.button"))
        self.import_status = w.HTML()
        self.refresh_button = w.Button(description=t("teacher.refresh"), icon="refresh")
        self.tag_counts = w.HTML()
        self.tag_box = w.Text(description=t("teacher.discussion.search"),
                              placeholder=t("teacher.discussion.placeholder"), continuous_update=False)
        self.tag_button = w.Button(description=t("teacher.discussion.button"), icon="search")
        self.tag_results = w.HTML()
        search = frame.guard("what.discuss_search")(lambda _=None: self.search_tag(self.tag_box.value))
        self.tag_button.on_click(search)
        self.tag_box.observe(search, names="value")
        self._load_settings()
        for widget, key in ((self.feedback, "feedback"), (self.rate, "training_rate_scale"),
                            (self.routing, "routing")):
            widget.observe(frame.guard("what.teacher_setting")(
                lambda change, key=key: self.save_setting(key, change["new"])), names="value")
        self.per.observe(frame.guard("what.teacher_activity")(lambda _c: self._draw_activity()), names="value")
        self.method.observe(frame.guard("what.teacher_candidates")(lambda _c: self._draw_candidates()),
                            names="value")
        self.uploader.observe(frame.guard("what.teacher_import")(self._on_upload), names="value")
        self.refresh_button.on_click(frame.guard("what.teacher_refresh")(lambda _b: self.load()))
        from .teacher_grading import GradingPanel
        self.grading = GradingPanel(frame)
        super().__init__([
            w.HTML(_CSS),
            w.HBox([h("teacher.section.class"), self.refresh_button]), self.class_summary, self.grid_box,
            h("teacher.section.activity"), self.per, self.plot_box,
            h("teacher.section.candidates"), self.method, self.candidates_note, self.gallery,
            h("teacher.section.discussion"), self.tag_counts, w.HBox([self.tag_box, self.tag_button]),
            self.tag_results,
            h("teacher.section.settings"), self.feedback, self.rate, self.routing, self.settings_status,
            h("teacher.section.import"), w.HTML(f"<small>{t('teacher.import.help')}</small>"),
            self.uploader, self.import_status,
            h("teacher.section.grading"), self.grading,
        ])
        self.load()

    # ------------------------------------------------------------------ parts
    def load(self) -> None:
        """Read the store again and redraw the table, the plot and the candidates."""
        self._draw_class()
        self._draw_activity()
        self._draw_candidates()
        self._draw_tag_counts()
        self.grading.load()

    def _draw_tag_counts(self) -> None:
        counts = self.store.hashtag_counts().head(15)
        if counts.empty:
            self.tag_counts.value = escape(self.t("teacher.discussion.none_yet"))
            return
        tags = ", ".join(f"#{r.tag} ({r.n_comments})" for r in counts.itertuples(index=False))
        self.tag_counts.value = escape(self.t("teacher.discussion.counts", tags=tags))

    def thread_link(self, subject: str) -> str:
        """The teacher's link to ``subject``'s discussion (the teacher key opens every thread)."""
        query = urllib.parse.urlencode({"key": self.frame.params.get("key", ""), "subject": subject,
                                        "lang": self.t.lang})
        return f"/voila/render/discuss.ipynb?{query}"

    def search_tag(self, text: str) -> None:
        """List the visible posts carrying the hashtag ``text`` (a clear message for a bad tag)."""
        from ..classify.discussion import CommentError, normalise_tag

        t = self.t
        if not str(text).strip():
            self.tag_results.value = ""
            return
        try:
            tag = normalise_tag(text)
        except CommentError:
            self.tag_results.value = f"<span class='lf-wrong'>{escape(t('discuss.error.bad_tag'))}</span>"
            return
        found = self.store.search_comments(tag)
        if found.empty:
            self.tag_results.value = escape(t("teacher.discussion.nothing", tag=tag))
            return
        self.tag_results.value = (escape(t("teacher.discussion.found", n=len(found), tag=tag))
                                  + tagged_comments_html(found, t, self.thread_link))

    def _draw_class(self) -> None:
        from ipyaggrid.community import Grid

        t = self.t
        table = class_table(self.store)
        self.table = table
        self.class_summary.value = escape(t("teacher.class.summary", n_people=len(table),
                                            n_votes=int(table["n_votes"].sum())))
        if table.empty:
            self.grid_box.children = [w.HTML(escape(t("teacher.class.empty")))]
            return
        records = [{"name": str(r.name), "user_id": str(r.user_id), "n_votes": int(r.n_votes),
                    "n_training": int(r.n_training), "last_active": str(r.last_active),
                    "accuracy": _fmt(r.accuracy, 3), "F1": _fmt(r.F1, 3), "skill": _fmt(r.skill, 3),
                    "contribution": _fmt(r.contribution, 2)} for r in table.itertuples(index=False)]
        columns = [("name", "teacher.col.name"), ("user_id", "teacher.col.user_id"), ("n_votes", "teacher.col.votes"),
                   ("n_training", "teacher.col.training"), ("last_active", "teacher.col.last_active"),
                   ("accuracy", "teacher.col.accuracy"), ("F1", "teacher.col.f1"), ("skill", "teacher.col.skill"),
                   ("contribution", "teacher.col.contribution")]
        options = dict(GRID_OPTIONS, columnDefs=[{"field": f, "headerName": t(k)} for f, k in columns])
        self.grid = Grid(grid_data=records, grid_options=options, theme="ag-theme-balham",
                         height=min(420, 60 + 30 * len(records)), columns_fit="size_to_fit")
        self.grid_box.children = [self.grid]

    def _draw_activity(self) -> None:
        t = self.t
        if self._syncing:
            return
        bins, per = activity(self.store, self.per.value or "auto")
        if self.per.value != per:  # show the bin actually used, without drawing twice
            self._syncing = True
            try:
                self.per.value = per
            finally:
                self._syncing = False
        if bins.empty:
            self.plot_box.children = [w.HTML(escape(t("teacher.activity.empty")))]
            return
        import bqplot as bq

        xs, ys = bq.DateScale(), bq.LinearScale(min=0.0)
        bars = bq.Bars(x=bins["start"].to_numpy(dtype="datetime64[ms]"), y=bins["n"].to_numpy(dtype=float),
                       scales={"x": xs, "y": ys}, colors=["#1f77b4"], padding=0.1)
        fig = bq.Figure(marks=[bars], axes=[bq.Axis(scale=xs, label=t("teacher.activity.time")),
                                            bq.Axis(scale=ys, orientation="vertical",
                                                    label=t("teacher.activity.count"))],
                        layout=w.Layout(width="760px", height="280px"),
                        fig_margin={"top": 20, "bottom": 50, "left": 60, "right": 20})
        self.plot_box.children = [fig]

    def _draw_candidates(self) -> None:
        from ..classify import personal

        t = self.t
        top, stored = top_candidates(self.store, self.method.value)
        if stored:
            self.candidates_note.value = t("teacher.candidates.stored", method=escape(self.method.value))
        else:
            n_votes = queries.count_counted_votes(self.store)
            self.candidates_note.value = t("teacher.candidates.live", method=escape(self.method.value),
                                           n_votes=n_votes)
        if top.empty:
            self.gallery.children = [w.HTML(escape(t("teacher.candidates.empty")))]
            return
        cards = []
        for r in top.itertuples(index=False):
            lines = [f"<b>{escape(str(r.subject))}</b>",
                     escape(t("teacher.candidates.card", probability=f"{r.probability:.3g}", n_votes=int(r.n_votes),
                              status=t(f"teacher.status.{r.status}")))]
            if not pd.isna(r.machine_score):
                lines.append(escape(t("teacher.candidates.machine", score=f"{r.machine_score:.2f}")))
            lines.append(f"<a class='lf-discuss' href=\"{escape(self.thread_link(str(r.subject)))}\" "
                         f"target='_blank'>{escape(t('teacher.discussion.open'))}</a>")
            data = personal.thumbnail(self.store.settings.data_dir, r.image)
            pic = (w.Image(value=data, format="jpeg", layout=w.Layout(width="140px", height="140px")) if data
                   else w.HTML("<div style='width:140px;height:140px'></div>"))
            card = w.VBox([pic, w.HTML("<br>".join(lines))], layout=w.Layout(width="150px"))
            card.add_class("lf-cand")
            cards.append(card)
        self.gallery.children = cards

    # ------------------------------------------------------------------ settings
    def _load_settings(self) -> None:
        classroom = self.frame.settings.classroom
        self.feedback.value = classroom.feedback
        self.rate.value = classroom.training_rate_scale
        self.routing.value = classroom.routing

    def save_setting(self, key: str, value: object) -> None:
        """Store one class setting (a :class:`ClassSettings` field, checked and clamped there) and say so."""
        classroom = self.frame.settings.classroom.with_value(key, value)
        classroom.save(self.store, key)
        self.frame.settings = replace(self.frame.settings, classroom=classroom)
        value = getattr(classroom, key)
        self.settings_status.value = escape(self.t("teacher.settings.saved", setting=key, value=value))

    # ------------------------------------------------------------------ import
    def _on_upload(self, change) -> None:
        files = change["new"]
        if not files:
            return
        for f in files:
            self.import_file(f["name"], bytes(f["content"]))
        self.uploader.value = ()  # ready for the next file (re-enters with no files)

    def import_file(self, name: str, content: bytes) -> None:
        """Merge one CSV of votes and report the result on the page (all or nothing)."""
        t = self.t
        try:
            n_new, n_known = import_vote_file(self.store, name, content)
        except StoreError as exc:
            self.import_status.value = (f"<span class='lf-wrong'>"
                                        f"{escape(t('teacher.import.refused', name=name, reason=str(exc)))}</span>")
            return
        self.import_status.value = (f"<span class='lf-right'>"
                                    f"{escape(t('teacher.import.done', name=name, n_new=n_new, n_known=n_known))}"
                                    "</span>")
        self.load()
