"""The personal centre: one person's history, training scores, progress, rank, notes and CSV.

Nothing is shown until :meth:`PageFrame.resolve_identity` has checked the person (JupyterHub
user, or ``?user=..&key=..`` whose key matches).  Every query then uses that checked
``user_id`` only (see :mod:`lensfinder_nb.classify.personal`); a wrong key shows the message and no data.
"""

from __future__ import annotations

import math

import ipywidgets as w
import pandas as pd

from ..classify import personal
from ..settings import Settings
from ..store import Store, queries
from .common import escape
from .frame import PageFrame, open_page

__all__ = ["me_page", "MeView"]

_CSS = """<style>
.lf-card { border: 1px solid #ddd; border-radius: 4px; padding: 4px; font-size: 12px; line-height: 1.3; }
.lf-card.lf-retracted { opacity: 0.55; }
.lf-metrics td, .lf-metrics th { padding: 2px 10px; text-align: right; }
.lf-metrics th:first-child, .lf-metrics td:first-child { text-align: left; }
</style>"""


def me_page(query_string: str | None = None, store: Store | None = None,
            settings: Settings | None = None) -> PageFrame:
    """The personal centre page (``apps/me.ipynb``).

    ``query_string``, ``store`` and ``settings`` default to the request's, the settings' store
    and the environment's (:func:`~lensfinder_nb.ui.frame.open_page`).
    """
    return open_page("me", _render, query_string=query_string, store=store, settings=settings)


def _render(frame: PageFrame) -> None:
    t = frame.t
    if frame.identity is None:
        if "user" in frame.params:  # a user was named but the key did not match: show nothing
            frame.errors.show(t("signin.key_invalid"))
            frame.body.children = [w.HTML(escape(t("me.bad_link")))]
            return
        frame.body.children = [w.HTML(escape(t("me.need_identity"))),
                               frame.sign_in_form(lambda _who: frame.refresh())]
        return
    frame.body.children = [frame.signed_in_banner(), MeView(frame)]


def _pct(x: float, t) -> str:
    return t("me.metric.none") if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


class MeView(w.VBox):
    """Everything the personal centre shows for ``frame.identity`` (must be set)."""

    def __init__(self, frame: PageFrame) -> None:
        if frame.identity is None:
            raise ValueError("MeView needs a checked identity")
        self.frame = frame
        self.t = frame.t
        self.user_id = frame.identity.user_id
        self.page = 0
        self.summary = w.HTML()
        self.scores = w.HTML()
        self.skill = w.HTML()
        self.plot_box = w.VBox()
        self.history_label = w.HTML()
        self.newer = w.Button(description=self.t("me.history.newer"), icon="arrow-left")
        self.older = w.Button(description=self.t("me.history.older"), icon="arrow-right")
        self.history = w.GridBox(layout=w.Layout(grid_template_columns="repeat(auto-fill, 132px)",
                                                 grid_gap="6px"))
        self.notes = w.HTML()
        self.download = w.HTML()
        self.refresh_button = w.Button(description=self.t("me.refresh"), icon="refresh")
        self.newer.on_click(frame.guard("what.me_page")(lambda _b: self.show_page(self.page - 1)))
        self.older.on_click(frame.guard("what.me_page")(lambda _b: self.show_page(self.page + 1)))
        self.refresh_button.on_click(frame.guard("what.me_refresh")(lambda _b: self.load()))
        h = lambda key: w.HTML(f"<h3>{escape(self.t(key))}</h3>")  # noqa: E731
        super().__init__([
            w.HTML(_CSS), w.HBox([self.summary, self.refresh_button]),
            h("me.section.scores"), self.scores, self.skill,
            h("me.section.progress"), self.plot_box,
            h("me.section.history"), w.HBox([self.newer, self.history_label, self.older]), self.history,
            h("me.section.notes"), self.notes,
            h("me.section.download"), self.download,
        ])
        self.load()

    # ------------------------------------------------------------------ data
    def load(self) -> None:
        """Read this person's data again and redraw every part."""
        store = self.frame.store
        self.votes = personal.my_votes(store, self.user_id)
        self.metrics = personal.my_metrics(self.votes)
        self.rank = personal.contribution_rank(store, self.user_id)
        self.annotations = personal.my_annotations(store, self.user_id)
        self.posts = queries.comments_by_user(store, self.user_id)
        self._draw_summary()
        self._draw_scores()
        self._draw_plot()
        self.show_page(self.page)
        self._draw_notes()
        self._draw_download()

    # ------------------------------------------------------------------ parts
    def _draw_summary(self) -> None:
        m = self.metrics
        n_retracted = int(self.votes["retracted_at"].notna().sum())
        self.summary.value = self.t("me.summary", n_votes=int(m["n_votes"]), n_training=int(m["n_training"]),
                                    n_test=int(m["n_test"]), n_retracted=n_retracted)

    def _draw_scores(self) -> None:
        t, m = self.t, self.metrics
        cells = "".join(f"<tr><td>{escape(t(k))}</td><td>{_pct(m[col], t)}</td></tr>"
                        for k, col in (("me.metric.accuracy", "accuracy"), ("me.metric.precision", "precision"),
                                       ("me.metric.recall", "recall"), ("me.metric.f1", "F1")))
        confusion = (
            f"<table class='lf-metrics lf-confusion'><caption>{escape(t('me.confusion.title'))}</caption>"
            f"<tr><th></th><th>{escape(t('me.confusion.said_lens'))}</th><th>{escape(t('me.confusion.said_not'))}</th></tr>"
            f"<tr><th>{escape(t('me.confusion.true_lens'))}</th><td>{int(m['TP'])}</td><td>{int(m['FN'])}</td></tr>"
            f"<tr><th>{escape(t('me.confusion.true_not'))}</th><td>{int(m['FP'])}</td><td>{int(m['TN'])}</td></tr>"
            "</table>")
        self.scores.value = (f"<div style='display:flex;gap:3em;align-items:flex-start'>"
                             f"<table class='lf-metrics lf-ratios'>{cells}</table>{confusion}</div>"
                             f"<p><small>{escape(t('me.metrics_help'))}</small></p>")
        rank = (t("me.rank", place=self.rank.place, of=self.rank.of) if self.rank.place is not None
                else t("me.rank_none"))
        self.skill.value = "<br>".join([
            t("me.skill", skill=f"{m['skill']:.2f}"),
            t("me.contribution", contribution=f"{m['contribution']:.1f}", n_test=int(m["n_test"])),
            rank])

    def _draw_plot(self) -> None:
        prog = personal.progress(self.votes)
        if prog.empty:
            self.plot_box.children = [w.HTML(escape(self.t("me.plot.empty")))]
            return
        import bqplot as bq

        t = self.t
        x = prog["created_at"].to_numpy(dtype="datetime64[ms]")
        xs = bq.DateScale()
        ys_count, ys_acc = bq.LinearScale(min=0.0), bq.LinearScale(min=0.0, max=1.0)
        count = bq.Lines(x=x, y=prog["n_classified"].to_numpy(dtype=float), scales={"x": xs, "y": ys_count},
                         colors=["#1f77b4"], labels=[t("me.plot.count")], display_legend=True)
        acc = prog["accuracy"].to_numpy(dtype=float)
        ok = ~pd.isna(acc)
        marks = [count]
        if ok.any():
            marks.append(bq.Lines(x=x[ok], y=acc[ok], scales={"x": xs, "y": ys_acc}, colors=["#d62728"],
                                  labels=[t("me.plot.accuracy")], display_legend=True))
        axes = [bq.Axis(scale=xs, label=t("me.plot.time")),
                bq.Axis(scale=ys_count, orientation="vertical", label=t("me.plot.count"), color="#1f77b4"),
                bq.Axis(scale=ys_acc, orientation="vertical", side="right", label=t("me.plot.accuracy"),
                        tick_format=".0%", color="#d62728")]
        fig = bq.Figure(marks=marks, axes=axes, legend_location="top-left",
                        layout=w.Layout(width="760px", height="300px"),
                        fig_margin={"top": 20, "bottom": 50, "left": 60, "right": 70})
        self.plot_box.children = [fig]

    def show_page(self, page: int) -> None:
        """Show page ``page`` of the history (0 = newest)."""
        rows, pages = personal.history_page(self.votes, page)
        self.page = min(max(page, 0), pages - 1)
        self.history_label.value = escape(self.t("me.history.page", page=self.page + 1, pages=pages))
        self.newer.disabled = self.page == 0
        self.older.disabled = self.page >= pages - 1
        if rows.empty:
            self.history.children = [w.HTML(escape(self.t("me.history.empty")))]
            return
        self.history.children = [self._card(r) for r in rows.itertuples(index=False)]

    def _card(self, r) -> w.Widget:
        t = self.t
        lines = [f"<b>{escape(str(r.subject))}</b>",
                 escape(t("me.history.said_lens" if r.answer == 1 else "me.history.said_not"))]
        if r.label in (0, 1):  # truth only for training subjects, never for unknowns
            right = int(r.answer) == int(r.label)
            verdict = (f"<span class='lf-right'>{escape(t('me.history.right'))}</span>" if right
                       else f"<span class='lf-wrong'>{escape(t('me.history.wrong'))}</span>")
            lines.append(escape(t("me.history.truth_lens" if r.label == 1 else "me.history.truth_not"))
                         + " · " + verdict)
        if not pd.isna(r.retracted_at):
            lines.append(f"<i>{escape(t('me.history.retracted'))}</i>")
        else:  # after a vote, the image's thread is open to its voter
            lines.append(f"<a class='lf-discuss' href=\"{escape(self.frame.link('discuss', subject=str(r.subject)))}\" "
                         f"target='_blank'>{escape(t('me.history.discuss'))}</a>")
        lines.append(f"<small>{escape(pd.Timestamp(r.created_at).strftime('%Y-%m-%d %H:%M'))}</small>")
        data = personal.thumbnail(self.frame.store.settings.data_dir, r.image)
        pic = (w.Image(value=data, format="jpeg", layout=w.Layout(width="120px", height="120px")) if data
               else w.HTML(f"<div style='width:120px;height:120px'>{escape(t('me.history.no_image'))}</div>"))
        card = w.VBox([pic, w.HTML("<br>".join(lines))], layout=w.Layout(width="132px"))
        card.add_class("lf-card")
        if not pd.isna(r.retracted_at):
            card.add_class("lf-retracted")
        return card

    def _draw_notes(self) -> None:
        t, notes = self.t, self.annotations
        keep = notes[notes["favourite"] | (notes["comment"].str.len() > 0)]
        if keep.empty and self.posts.empty:
            self.notes.value = escape(t("me.notes.empty"))
            return
        items = []
        for r in keep.itertuples(index=False):
            star = f" ★ {escape(t('me.notes.favourite'))}" if r.favourite else ""
            comment = f": {escape(str(r.comment))}" if r.comment else ""
            items.append(f"<li><b>{escape(str(r.subject))}</b>{star}{comment}</li>")
        for r in self.posts.itertuples(index=False):  # posts in discussions (a hidden one stays hidden)
            text = (f"<i>{escape(t('discuss.hidden_placeholder'))}</i>" if not pd.isna(r.hidden_at)
                    else escape(str(r.body)))
            href = escape(self.frame.link("discuss", subject=str(r.subject)))
            items.append(f"<li><b>{escape(str(r.subject))}</b> (<a href=\"{href}\" target='_blank'>"
                         f"{escape(t('me.history.discuss'))}</a>): {text}</li>")
        self.notes.value = "<ul class='lf-notes'>" + "".join(items) + "</ul>"

    def _draw_download(self) -> None:
        text = personal.votes_csv(self.votes)
        n = len(text.splitlines()) - 1
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.user_id)[:60]
        self.download.value = (
            f'<a class="lf-download" download="lensfinder-votes-{escape(safe)}.csv" '
            f'href="{personal.csv_data_url(text)}">{escape(self.t("me.download.link"))}</a>'
            f"<br><small>{escape(self.t('me.download.help', n=n))}</small>")
