"""The teacher's dashboard, expert-grading part: make an expert (their link), the grading settings, the
graded catalogue with its agreement, and each grader against the others."""

from __future__ import annotations

import math

import ipywidgets as w
import pandas as pd

from ..classify.grading import GradingSettings
from ..classify.identity import EXPERT_ROLE, IdentityError, add_expert, make_hub_expert, personal_link, remove_expert
from ..scoring.grading import SOURCES, catalogue_from_store, grader_agreement
from ..store import queries
from .common import escape

__all__ = ["GradingPanel", "hub_grading_link"]

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


def hub_grading_link(hub_prefix: str, hub_user: str) -> str:
    """The grading page of whoever follows the link, on their own server: JupyterHub's ``user-redirect``
    under the hub's base URL (``hub_prefix`` is this server's ``<base>user/<hub_user>/``)."""
    own = f"user/{hub_user}/"
    base = hub_prefix[:-len(own)] if hub_prefix.endswith(own) else "/"
    return f"{base}hub/user-redirect/voila/render/grade.ipynb"


class GradingPanel(w.VBox):
    """The grading section of :class:`~lensfinder_nb.ui.teacher.TeacherView` (its ``frame``); the view calls
    :meth:`load` with its own."""

    def __init__(self, frame) -> None:
        self.frame, self.t, self.store = frame, frame.t, frame.store
        t = self.t
        # on JupyterHub the hub's user is the person and a key link would be ignored: an expert is a
        # hub user the teacher names here (docs/grading.md, "Experts on JupyterHub")
        self.on_hub = bool(frame.settings.hub_user)
        self.name = w.Text(placeholder=t("teacher.grading.hub_name" if self.on_hub else "teacher.grading.name"),
                           continuous_update=False)
        self.make = w.Button(description=t("teacher.grading.make"), icon="user-plus")
        self.remove = w.Button(description=t("teacher.grading.remove"), icon="user-times")
        self.made = w.HTML()
        self.made.add_class("lf-expert-link")
        self.experts = w.HTML()
        self.experts.add_class("lf-experts")
        # removal picks from the list: typing a name in the box and leaving it would make that expert
        self.pick = w.Dropdown(options=[], value=None, layout=w.Layout(width="auto"))
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
        self.remove.on_click(frame.guard("what.teacher_expert")(lambda _b: self.remove_expert()))
        self.save.on_click(frame.guard("what.teacher_grading")(lambda _b: self.save_settings()))
        super().__init__([
            w.HTML(f"<small>{t('teacher.grading.help_hub' if self.on_hub else 'teacher.grading.help')}</small>"),
            w.HBox([self.name, self.make]), self.made, self.experts, w.HBox([self.pick, self.remove]),
            w.HBox([self.source, self.threshold, self.n_graders]), self.blind, self.save, self.status,
            w.HTML(f"<h4>{escape(t('teacher.grading.catalogue'))}</h4>"), self.summary, self.catalogue_box,
            w.HTML(f"<h4>{escape(t('teacher.grading.graders'))}</h4>"), self.graders_box,
        ])

    def make_expert(self) -> None:
        """Make the person named in the box an expert: off the hub a new expert with a personal grading
        link (shown); on JupyterHub the hub user of that name (their grading page on their own server)."""
        name = self.name.value.strip()
        if not name:
            return
        try:
            if self.on_hub:
                who, new = make_hub_expert(self.store, name)
            else:
                who = add_expert(self.store, name)
        except IdentityError as exc:
            key = {"name_taken": "signin.name_taken", "hub_name_invalid": "teacher.grading.hub_name_invalid"}.get(
                str(exc), "signin.name_invalid")
            self.made.value = f"<span class='lf-wrong'>{escape(self.t(key))}</span>"
            return
        if self.on_hub:
            link = escape(hub_grading_link(self.frame.settings.hub_prefix, self.frame.settings.hub_user))
            key = "teacher.grading.made_hub" if new else "teacher.grading.already_hub"
            self.made.value = self.t(key, name=escape(who.display_name), link=link)
        else:
            link = escape(personal_link("grade", who))
            self.made.value = self.t("teacher.grading.link", name=escape(who.display_name), link=link)
        self.name.value = ""
        self.show_experts()

    def remove_expert(self) -> None:
        """The expert picked in the list stops being one (a hub user stays a hub user); their grades stay."""
        if self.pick.value is None:
            return
        name = self.pick.label
        key = "teacher.grading.removed" if remove_expert(self.store, self.pick.value) else "teacher.grading.not_expert"
        self.made.value = escape(self.t(key, name=name))
        self.show_experts()

    def show_experts(self) -> None:
        """The experts' names, as the pages show them (hub users by their hub name), also in the removal list."""
        people = queries.people_with_role(self.store, EXPERT_ROLE)
        names = people["display_name"].tolist()
        self.experts.value = escape(self.t("teacher.grading.experts", names=", ".join(names)) if names
                                    else self.t("teacher.grading.no_experts"))
        self.pick.options = list(zip(names, people["user_id"]))
        self.pick.value = None
        self.remove.disabled = not names

    def save_settings(self) -> None:
        """Store the grading settings (checked by :class:`GradingSettings`)."""
        GradingSettings(source=self.source.value, threshold=self.threshold.value, n_graders=self.n_graders.value,
                        blind=self.blind.value).save(self.store)
        self.status.value = escape(self.t("teacher.grading.saved"))

    def load(self) -> None:
        """Read the grades again: the catalogue, its agreement and the graders' table."""
        t = self.t
        self.show_experts()
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
