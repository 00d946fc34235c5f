"""The teacher's dashboard, expert-grading part: make an expert (their link), the grading settings, the
graded catalogue with its agreement, and each grader against the others."""

from __future__ import annotations

import math

import ipywidgets as w
import pandas as pd

from ..classify.grading import GradingSettings
from ..classify.identity import IdentityError, add_expert, personal_link
from ..scoring.grading import SOURCES, catalogue_from_store, grader_agreement
from ..store import queries
from .common import escape

__all__ = ["GradingPanel"]

_CATALOGUE_COLUMNS = ("subject", "grade_class", "mean_grade", "n_graders", "crowd_score", "machine_score",
                      "known_lens", "theta_E")
_GRADER_COLUMNS = ("grader", "n_compared", "mean_abs_diff", "within_one", "bias")


def _cell(x: object) -> object:
    if isinstance(x, float):
        return None if math.isnan(x) else round(x, 3)
    if hasattr(x, "item"):  # numpy scalars
        return _cell(x.item())
    return x


def _grid(frame: pd.DataFrame, columns: tuple[str, ...], t, css: str) -> w.Widget:
    from ipyaggrid.community import Grid

    from .teacher import GRID_OPTIONS
    records = [{c: _cell(v) for c, v in zip(columns, row)} for row in frame[list(columns)].itertuples(index=False)]
    options = dict(GRID_OPTIONS, columnDefs=[{"field": c, "headerName": t(f"teacher.col.{c}")} for c in columns])
    grid = Grid(grid_data=records, grid_options=options, theme="ag-theme-balham",
                height=min(420, 60 + 30 * len(records)), columns_fit="size_to_fit")
    grid.add_class(css)
    return grid


class GradingPanel(w.VBox):
    """The grading section of :class:`~lensfinder_nb.ui.teacher.TeacherView` (its ``frame``); the view calls
    :meth:`load` with its own."""

    def __init__(self, frame) -> None:
        self.frame, self.t, self.store = frame, frame.t, frame.store
        t = self.t
        self.name = w.Text(placeholder=t("teacher.grading.name"), continuous_update=False)
        self.make = w.Button(description=t("teacher.grading.make"), icon="user-plus")
        self.made = w.HTML()
        self.made.add_class("lf-expert-link")
        current = GradingSettings.load(self.store)
        self.source = w.Dropdown(description=t("teacher.grading.source"), value=current.source,
                                 options=[(t(f"teacher.grading.source.{s}"), s) for s in SOURCES],
                                 style={"description_width": "initial"})
        self.threshold = w.BoundedFloatText(description=t("teacher.grading.threshold"), value=current.score_cut,
                                            min=0.0, max=0.999, step=0.001, style={"description_width": "initial"})
        self.n_graders = w.BoundedIntText(description=t("teacher.grading.n_graders"), value=current.n_graders,
                                          min=1, max=50, style={"description_width": "initial"})
        self.blind = w.Checkbox(description=t("teacher.grading.blind"), value=current.blind, indent=False,
                                layout=w.Layout(width="auto"))
        self.save = w.Button(description=t("teacher.grading.save"))
        self.status = w.HTML()
        self.summary = w.HTML()
        self.catalogue_box = w.VBox()
        self.graders_box = w.VBox()
        self.make.on_click(frame.guard("what.teacher_expert")(lambda _b: self.make_expert()))
        self.name.observe(frame.guard("what.teacher_expert")(lambda _c: self.make_expert()), names="value")
        self.save.on_click(frame.guard("what.teacher_grading")(lambda _b: self.save_settings()))
        super().__init__([
            w.HTML(f"<small>{t('teacher.grading.help')}</small>"), w.HBox([self.name, self.make]), self.made,
            w.HBox([self.source, self.threshold, self.n_graders]), self.blind, self.save, self.status,
            w.HTML(f"<h4>{escape(t('teacher.grading.catalogue'))}</h4>"), self.summary, self.catalogue_box,
            w.HTML(f"<h4>{escape(t('teacher.grading.graders'))}</h4>"), self.graders_box,
        ])

    def make_expert(self) -> None:
        """Create the expert named in the box and show their personal grading link."""
        name = self.name.value.strip()
        if not name:
            return
        try:
            who = add_expert(self.store, name)
        except IdentityError as exc:
            key = "signin.name_taken" if str(exc) == "name_taken" else "signin.name_invalid"
            self.made.value = f"<span class='lf-wrong'>{escape(self.t(key))}</span>"
            return
        link = escape(personal_link("grade", who))
        self.made.value = self.t("teacher.grading.link", name=escape(who.display_name), link=link)
        self.name.value = ""

    def save_settings(self) -> None:
        """Store the grading settings (checked by :class:`GradingSettings`)."""
        GradingSettings(source=self.source.value, threshold=self.threshold.value, n_graders=self.n_graders.value,
                        blind=self.blind.value).save(self.store)
        self.status.value = escape(self.t("teacher.grading.saved"))

    def load(self) -> None:
        """Read the grades again: the catalogue, its agreement and the graders' table."""
        t = self.t
        catalogue = catalogue_from_store(self.store)
        self.catalogue = catalogue
        if catalogue.empty:
            self.summary.value = escape(t("teacher.grading.empty"))
            self.catalogue_box.children = self.graders_box.children = []
            return
        alpha = catalogue["agreement_alpha"].iloc[0]
        counts = catalogue["grade_class"].value_counts()
        self.summary.value = escape(t("teacher.grading.summary", n=len(catalogue), n_a=int(counts.get("A", 0)),
                                      n_b=int(counts.get("B", 0)), n_c=int(counts.get("C", 0)),
                                      alpha="-" if math.isnan(alpha) else f"{alpha:.2f}"))
        self.catalogue_box.children = [_grid(catalogue, _CATALOGUE_COLUMNS, t, "lf-catalogue")]
        graders = grader_agreement(queries.grades(self.store))
        names = queries.people_with_role(self.store, "expert").set_index("user_id")["display_name"]
        graders["grader"] = [str(names.get(u, u)) for u in graders["user_id"]]
        self.graders_box.children = [_grid(graders, _GRADER_COLUMNS, t, "lf-graders")]
