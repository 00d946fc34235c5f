"""The modelling page (``apps/model.ipynb?subject=<id>&user=..&key=..``): a person builds a lens model.

The person clicks the image to place the lens centre (or drags the red cross), and sets the Einstein
radius, ellipticity, shear and the source's offset with sliders (or drags the yellow source point);
the predicted arcs (cyan) and image positions are redrawn on every change by
:class:`lensfinder_nb.modelling.live.LiveModel` (our own ray tracing, a few ms).  "Refine" fits the
cube with lenstronomy in a worker process (:func:`lensfinder_nb.modelling.run.refine_in_background`),
with a progress bar, and shows the data, the model, the residual and theta_E with its error;
"Save" stores the model per person (refined when it is the fit's, unchanged).

Who may model what: anyone identified (personal link or JupyterHub) and the teacher (teacher key,
stored as user ``teacher``); a training image (label 0 or 1) only after the person has classified it,
so that the page never tells its answer before they voted.  The page shows the person's own models
only, never a mock's parameters.

The swarm's size is the page's settings (``refine_particles``, ``refine_iterations``; environment
``LENSFINDER_MODEL_PARTICLES`` / ``LENSFINDER_MODEL_ITERATIONS``), shorter in the browser test.
"""

from __future__ import annotations

import io
import math
import threading
import time

import ipywidgets as w
import numpy as np

from ..classify.identity import is_teacher
from ..settings import Settings
from ..store import Store, queries
from .common import escape
from .frame import PageFrame, open_page

__all__ = ["model_page", "ModelView", "may_model", "TEACHER_USER"]

#: the user id under which the teacher's models are stored
TEACHER_USER = "teacher"

_CSS = """<style>
.lf-model-result td, .lf-model-result th { padding: 2px 8px; }
</style>"""


def may_model(label: int, has_voted: bool, teacher: bool) -> bool:
    """Whether a person may open the modelling page of a subject: unknown images (label -1) always;
    training images (0, 1) only after voting on them (or as the teacher), so the page cannot give
    their answer away.

    >>> may_model(-1, False, False), may_model(1, False, False), may_model(1, True, False), may_model(0, False, True)
    (True, False, True, True)
    """
    return teacher or has_voted or int(label) not in (0, 1)


def model_page(query_string: str | None = None, store: Store | None = None,
               settings: Settings | None = None) -> PageFrame:
    """The modelling page (``apps/model.ipynb``); arguments default to the request's and the environment's."""
    return open_page("model", _render, query_string=query_string, store=store, settings=settings)


def _render(frame: PageFrame) -> None:
    t = frame.t
    teacher = frame.identity is None and "user" not in frame.params and is_teacher(frame.store, frame.params.get("key"))
    if frame.identity is None and not teacher:
        if "user" in frame.params:
            frame.body.children = [w.HTML(escape(t("model.bad_link")))]
            return
        frame.body.children = [w.HTML(escape(t("model.need_identity"))),
                               frame.sign_in_form(lambda _who: frame.refresh())]
        return
    user = TEACHER_USER if teacher else frame.identity.user_id
    subject = frame.params.get("subject", "")
    subjects = frame.store.subjects().set_index("subject")
    if subject not in subjects.index:
        frame.body.children = [w.HTML(escape(t("model.unknown_subject", subject=subject)))]
        return
    voted = subject in set(queries.votes_of_user(frame.store, user)["subject"])
    if not may_model(int(subjects.loc[subject, "label"]), voted, teacher):
        link = frame.link("classify")
        frame.body.children = [w.HTML(f"<p>{escape(t('model.vote_first'))} "
                                      f"<a href=\"{escape(link)}\">{escape(t('nav.classify'))}</a></p>")]
        return
    view = getattr(frame, "model_view", None)
    if view is None or view.subject != subject:
        from ..modelling.run import ModelError
        try:
            view = frame.model_view = ModelView(frame, subject, user)
        except ModelError as exc:
            frame.body.children = [w.HTML(escape(t("model.no_cube", detail=str(exc))))]
            return
    else:
        view.relabel()
    banner = frame.signed_in_banner() if frame.identity is not None else w.HTML(escape(t("model.as_teacher")))
    frame.body.children = [banner, view]


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG")
    return buf.getvalue()


def _grey(img: np.ndarray, lo: float, hi: float) -> bytes:
    """An asinh-stretched grey PNG of ``img`` between ``lo`` and ``hi`` (north up)."""
    span = max(hi - lo, 1e-12)
    x = np.arcsinh(np.clip((np.asarray(img, float) - lo) / span, 0, None) * 10) / math.asinh(10)
    return _png((np.clip(x, 0, 1) * 255).astype(np.uint8)[::-1])


class ModelView(w.VBox):
    """The image with the live model over it, the parameter sliders, Refine and Save."""

    def __init__(self, frame: PageFrame, subject: str, user: str) -> None:
        import bqplot as bq

        from ..imaging.render import encode_png, render
        from ..imaging.survey import PIXSCALE_ARCSEC
        from ..modelling.guess import automatic_guess
        from ..modelling.live import LiveModel
        from ..modelling.model import checked_model
        from ..modelling.run import load_subject, subject_psf

        self.frame, self.subject, self.user = frame, subject, user
        self.cube, row = load_subject(frame.store, subject)
        self.psf = subject_psf(row)
        self.live = LiveModel(self.cube, self.psf)
        ny, nx = self.cube.shape[1:]
        self.half = (nx - 1) / 2 * PIXSCALE_ARCSEC
        edge = self.half + PIXSCALE_ARCSEC / 2
        mine = frame.store.lens_models(subject=subject, user=user)
        if len(mine):
            start = checked_model(mine["params"].iloc[-1])
            self.status_key = "model.start_saved"
        else:
            start = automatic_guess(self.cube)
            self.status_key = "model.start_guess"
        self.model = dict(start)
        self.refined: dict | None = None
        self._busy = False
        # Refine's result arrives on a background thread while the kernel's thread handles the browser's
        # messages: every change of the model, the sliders or the marks holds this lock, so the two never
        # interleave (one did, under load: a fit's model half applied, then un-marked by its own echoes)
        self._lock = threading.RLock()
        self.update_ms: list[float] = []

        sx, sy = bq.LinearScale(min=-edge, max=edge), bq.LinearScale(min=-edge, max=edge)
        scales = {"x": sx, "y": sy}
        picture = w.Image(value=encode_png(render(self.cube)), format="png")
        self.image_mark = bq.Image(image=picture, x=[-edge, edge], y=[-edge, edge], scales=scales)
        self.overlay = w.Image(value=b"", format="png")
        self.overlay_mark = bq.Image(image=self.overlay, x=[-edge, edge], y=[-edge, edge], scales=scales)
        self.images_mark = bq.Scatter(x=[], y=[], scales=scales, colors=["#00ffff"], marker="circle",
                                      default_size=40, stroke="black")
        self.source_mark = bq.Scatter(x=[0.0], y=[0.0], scales=scales, colors=["#ffd700"], marker="diamond",
                                      default_size=70, enable_move=True, stroke="black")
        self.centre_mark = bq.Scatter(x=[0.0], y=[0.0], scales=scales, colors=["#ff3030"], marker="cross",
                                      default_size=120, enable_move=True, stroke="black")
        for mark in (self.image_mark, self.overlay_mark):
            mark.interactions = {"click": "select"}
            mark.on_element_click(self._on_image_click)
        self.figure = bq.Figure(marks=[self.image_mark, self.overlay_mark, self.images_mark, self.source_mark,
                                       self.centre_mark],
                                axes=[], fig_margin={"top": 5, "bottom": 5, "left": 5, "right": 5},
                                min_aspect_ratio=1, max_aspect_ratio=1,
                                layout=w.Layout(width="420px", height="420px"))
        self.figure.add_class("lf-model-figure")

        def slider(lo, hi, step, value, cls):
            s = w.FloatSlider(min=lo, max=hi, step=step, value=value, continuous_update=True, readout_format=".2f",
                              layout=w.Layout(width="420px"), style={"description_width": "11em"})
            s.add_class(cls)
            return s

        m = self.model
        self.sliders = {
            "theta_e_arcsec": slider(0.3, 6.0, 0.02, float(np.clip(m["theta_e_arcsec"], 0.3, 6.0)), "lf-theta"),
            "lens_q": slider(0.3, 1.0, 0.01, float(np.clip(m["lens_q"], 0.3, 1.0)), "lf-q"),
            "lens_phi_deg": slider(0.0, 180.0, 1.0, math.degrees(m["lens_phi_rad"]) % 180.0, "lf-phi"),
            "gamma1": slider(-0.2, 0.2, 0.005, float(np.clip(m["gamma1"], -0.2, 0.2)), "lf-gamma1"),
            "gamma2": slider(-0.2, 0.2, 0.005, float(np.clip(m["gamma2"], -0.2, 0.2)), "lf-gamma2"),
            "src_dx": slider(-2.0, 2.0, 0.01, float(np.clip(m["src_x_arcsec"] - m["lens_x_arcsec"], -2, 2)),
                             "lf-src-x"),
            "src_dy": slider(-2.0, 2.0, 0.01, float(np.clip(m["src_y_arcsec"] - m["lens_y_arcsec"], -2, 2)),
                             "lf-src-y"),
        }
        self.status = w.HTML()
        self.status.add_class("lf-model-status")
        self.refine_button = w.Button(button_style="primary")
        self.refine_button.add_class("lf-refine")
        self.save_button = w.Button(button_style="success")
        self.save_button.add_class("lf-save")
        self.progress = w.FloatProgress(min=0.0, max=1.0, value=0.0, layout=w.Layout(width="300px", visibility="hidden"))
        self.result = w.HTML()
        self.result.add_class("lf-model-result")
        self.pictures = w.HBox([])
        self.help = w.HTML()

        #: per slider, the last values set from here (a slider's echo of one can arrive late, see _on_slider)
        self._pushed: dict[str, list[float]] = {}
        guard = frame.guard
        self._on_slider = guard("what.model_update")(self._on_slider)
        self._on_drag = guard("what.model_update")(self._on_drag)
        self._on_image_click = guard("what.model_update")(self._on_image_click)
        for s in self.sliders.values():
            s.observe(self._on_slider, names="value")
        self.centre_mark.observe(self._on_drag, names=["x", "y"])
        self.source_mark.observe(self._on_drag, names=["x", "y"])
        self.refine_button.on_click(guard("what.model_refine")(self._refine))
        self.save_button.on_click(guard("what.model_save")(self._save))
        self.relabel()
        self._redraw()
        super().__init__([w.HTML(_CSS), self.help, w.HBox([self.figure, w.VBox(list(self.sliders.values()))]),
                          w.HBox([self.refine_button, self.save_button, self.progress]), self.status,
                          self.result, self.pictures])

    # ------------------------------------------------------------------ text
    def relabel(self) -> None:
        """Every text in the page's current language (a language switch keeps the model)."""
        t = self.frame.t
        self.help.value = (f"<p>{escape(t('model.help', subject=self.subject))}</p>"
                           f"<p><i>{escape(t(self.status_key))}</i></p>")
        for key, s in self.sliders.items():
            s.description = t(f"model.param.{key}")
        self.refine_button.description = t("model.refine")
        self.save_button.description = t("model.save")
        self._show_status()
        if self.refined is not None:
            self._show_result()

    def _show_status(self, extra: str = "") -> None:
        t, m = self.frame.t, self.model
        text = t("model.status", x=f"{m['lens_x_arcsec']:+.2f}", y=f"{m['lens_y_arcsec']:+.2f}",
                 theta=f"{m['theta_e_arcsec']:.2f}", n=len(self.images_mark.x))
        self.status.value = escape(text) + (f"<br>{extra}" if extra else "")

    # ------------------------------------------------------------------ the live model
    def _model_from_controls(self) -> dict:
        from ..modelling.model import checked_model
        s = {k: float(v.value) for k, v in self.sliders.items()}
        # a slider that shows the model's value as it can (snapped to its step, or clipped to its range: a
        # fit may go beyond a slider's range) stands for the model's own value
        for key, v in _slider_values(self.model).items():
            slider = self.sliders[key]
            if abs(s[key] - float(np.clip(v, slider.min, slider.max))) <= float(slider.step) / 2 + 1e-9:
                s[key] = v
        x, y = float(self.centre_mark.x[0]), float(self.centre_mark.y[0])
        return checked_model({**self.model, "theta_e_arcsec": s["theta_e_arcsec"], "lens_q": s["lens_q"],
                              "lens_phi_rad": math.radians(s["lens_phi_deg"]), "gamma1": s["gamma1"],
                              "gamma2": s["gamma2"], "lens_x_arcsec": x, "lens_y_arcsec": y,
                              "src_x_arcsec": x + s["src_dx"], "src_y_arcsec": y + s["src_dy"]})

    def _redraw(self) -> None:
        """Predicted arcs and images of ``self.model`` over the picture, and the markers."""
        from ..modelling.live import arc_overlay
        t0 = time.perf_counter()
        m = self.model
        arcs, positions = self.live.update(m)
        # bqplot redraws an Image mark when it gets a new picture widget, not when the old one's bytes change
        old, self.overlay = self.overlay, w.Image(value=_png(arc_overlay(arcs)), format="png")
        self.overlay_mark.image = self.overlay
        old.close()
        with self.images_mark.hold_sync():
            self.images_mark.x, self.images_mark.y = positions[:, 0], positions[:, 1]
        self._busy = True  # setting the markers must not feed back into the model
        try:
            with self.centre_mark.hold_sync():
                self.centre_mark.x, self.centre_mark.y = [m["lens_x_arcsec"]], [m["lens_y_arcsec"]]
            with self.source_mark.hold_sync():
                self.source_mark.x, self.source_mark.y = [m["src_x_arcsec"]], [m["src_y_arcsec"]]
        finally:
            self._busy = False
        self.update_ms.append((time.perf_counter() - t0) * 1e3)
        self._show_status()

    def set_model(self, model: dict) -> None:
        """Show ``model`` (a person's or the fit's): sliders, markers and the live picture."""
        from ..modelling.model import checked_model
        with self._lock:
            self.model = checked_model(model)
            self._busy = True
            try:
                for key, v in _slider_values(self.model).items():
                    s = self.sliders[key]
                    value = float(np.clip(v, s.min, s.max))
                    self._pushed[key] = (self._pushed.get(key, []) + [value])[-_ECHO_MEMORY:]
                    s.value = value
            finally:
                self._busy = False
            self._redraw()

    def _on_slider(self, change) -> None:
        with self._lock:
            self._slider_moved(change)

    def _slider_moved(self, change) -> None:
        if self._busy:
            return
        key = next((k for k, s in self.sliders.items() if s is change.get("owner")), None)
        pushed, new = self._pushed.get(key, []), float(change["new"])
        half = float(self.sliders[key].step) / 2 + 1e-9 if key is not None else 0.0
        if pushed and abs(new - pushed[-1]) > half and any(abs(new - p) <= half for p in pushed[:-1]):
            # the browser's snapped echo of an earlier value set from here, arriving after a newer one (a
            # loaded machine delays it): not the person's doing; show the newest value again
            self._busy = True
            try:
                self.sliders[key].value = pushed[-1]
            finally:
                self._busy = False
            return
        self._take_controls()

    def _take_controls(self) -> None:
        """The person's model is what the controls show, unless they only differ from it by a slider's
        rounding: a slider snaps a value set from here (a refined or saved model) to its step and sends
        the snapped value back, which is not the person's doing (and would un-mark a refined model)."""
        new = self._model_from_controls()
        if not _moved(self.model, new, self._tolerances()):
            return
        self.model = new
        self._redraw()

    def _tolerances(self) -> dict[str, float]:
        step = {key: float(s.step) / 2 + 1e-9 for key, s in self.sliders.items()}
        return {"theta_e_arcsec": step["theta_e_arcsec"], "lens_q": step["lens_q"],
                "lens_phi_rad": math.radians(step["lens_phi_deg"]), "gamma1": step["gamma1"],
                "gamma2": step["gamma2"], "src_x_arcsec": step["src_dx"] + 1e-6, "src_y_arcsec": step["src_dy"] + 1e-6,
                "lens_x_arcsec": 1e-6, "lens_y_arcsec": 1e-6}

    def _on_drag(self, _change) -> None:
        with self._lock:
            self._marks_moved()

    def _marks_moved(self) -> None:
        if self._busy or not len(self.centre_mark.x) or not len(self.source_mark.x):
            return
        moved_source = (float(self.source_mark.x[0]) != self.model["src_x_arcsec"]
                        or float(self.source_mark.y[0]) != self.model["src_y_arcsec"])
        x, y = float(self.centre_mark.x[0]), float(self.centre_mark.y[0])
        if moved_source:
            self._busy = True
            try:
                self.sliders["src_dx"].value = float(np.clip(float(self.source_mark.x[0]) - x, -2, 2))
                self.sliders["src_dy"].value = float(np.clip(float(self.source_mark.y[0]) - y, -2, 2))
            finally:
                self._busy = False
        self._take_controls()

    def _on_image_click(self, _mark, event) -> None:
        data = event.get("data", {}) if isinstance(event, dict) else {}
        x, y = data.get("click_x"), data.get("click_y")
        if x is None or y is None:
            return
        x, y = float(np.clip(x, -self.half, self.half)), float(np.clip(y, -self.half, self.half))
        self.place_centre(x, y)

    def place_centre(self, x: float, y: float) -> None:
        """Move the lens centre to (x, y) arcsec, the source with it."""
        m = self.model
        dx, dy = m["src_x_arcsec"] - m["lens_x_arcsec"], m["src_y_arcsec"] - m["lens_y_arcsec"]
        self.set_model({**m, "lens_x_arcsec": x, "lens_y_arcsec": y, "src_x_arcsec": x + dx, "src_y_arcsec": y + dy})

    # ------------------------------------------------------------------ refine and save
    def _refine(self, _button=None) -> None:
        from ..modelling.run import refine_in_background
        if self.refine_button.disabled:
            return
        n_particles, n_iterations = self.frame.settings.refine_particles, self.frame.settings.refine_iterations
        start = dict(self.model)
        future = refine_in_background(self.cube, start, self.psf, n_particles=n_particles, n_iterations=n_iterations)
        self.refine_button.disabled = True
        self.progress.layout.visibility = "visible"
        self.progress.value = 0.0
        expected = 2.0 + n_particles * n_iterations * 1.5e-3  # seconds, for the bar only
        self.status.value = escape(self.frame.t("model.refining"))
        threading.Thread(target=self._wait, args=(future, start, expected), daemon=True,
                         name="lensfinder-refine").start()

    def _wait(self, future, start: dict, expected: float) -> None:
        t0 = time.perf_counter()
        while not future.done():
            elapsed = time.perf_counter() - t0
            self.progress.value = min(0.95, elapsed / (elapsed + expected))  # creeps, never claims done
            time.sleep(0.3)
        try:
            self.finish_refine(future.result(), start)
        except Exception as exc:  # noqa: BLE001 - shown to the person; the page goes on
            t = self.frame.t
            self.frame.errors.show(t("error.generic", what=t("what.model_refine"), detail=f"{type(exc).__name__}: {exc}"))
        finally:
            self.progress.value = 1.0
            self.progress.layout.visibility = "hidden"
            self.refine_button.disabled = False

    def finish_refine(self, result: dict, start: dict) -> None:
        """Show a finished fit: its model on the image and in the sliders, the three pictures, theta_E +- error."""
        with self._lock:
            self.refined = result
            self.set_model(result["model"])
            self.refined_model = dict(self.model)
        self._show_result()

    def _show_result(self) -> None:
        t, r = self.frame.t, self.refined
        err = r["theta_e_err_arcsec"]
        err_text = f"{err:.3f}" if err is not None and math.isfinite(err) else t("model.unknown")
        text = t("model.result", theta=f"{r['theta_e_arcsec']:.3f}", err=err_text, chi2=f"{r['chi2_reduced']:.2f}",
                 seconds=f"{r['seconds']:.1f}")
        self.result.value = f"<p class='lf-theta-result'>{escape(text)}</p>"
        data, model, resid = r["data"], r["model_image"], r["residual"]
        lo, hi = float(np.percentile(data, 5)), float(np.percentile(data, 99.5))
        sigma = float(np.std(resid)) or 1.0
        pics = []
        for key, png in (("model.data", _grey(data, lo, hi)), ("model.model", _grey(model, lo, hi)),
                         ("model.residual", _grey(resid, -3 * sigma, 3 * sigma))):
            img = w.Image(value=png, format="png", layout=w.Layout(width="180px", height="180px"))
            img.add_class("lf-image")
            pics.append(w.VBox([w.HTML(f"<b>{escape(t(key))}</b>"), img]))
        self.pictures.children = pics

    def _save(self, _button=None) -> str:
        with self._lock:
            model = dict(self.model)
            refined = self.refined is not None and getattr(self, "refined_model", None) == model
            r = self.refined if refined else {}
        model_id = self.frame.store.add_lens_model(
            self.user, self.subject, model, theta_e_err=r.get("theta_e_err_arcsec"),
            quality=r.get("chi2_reduced"), refined=refined)
        key = "model.saved_refined" if refined else "model.saved"
        self._show_status(f"<b class='lf-saved'>{escape(self.frame.t(key))}</b>")
        return model_id


def _slider_values(m: dict) -> dict[str, float]:
    """A model's values in the sliders' units (degrees, source offset from the lens centre)."""
    return {"theta_e_arcsec": m["theta_e_arcsec"], "lens_q": m["lens_q"],
            "lens_phi_deg": math.degrees(m["lens_phi_rad"]) % 180.0, "gamma1": m["gamma1"],
            "gamma2": m["gamma2"], "src_dx": m["src_x_arcsec"] - m["lens_x_arcsec"],
            "src_dy": m["src_y_arcsec"] - m["lens_y_arcsec"]}


#: how many values set from here each slider remembers, to tell their late echoes from a person's moves
_ECHO_MEMORY = 4


def _moved(old: dict, new: dict, tolerance: dict[str, float]) -> bool:
    """Whether ``new`` differs from ``old`` by more than ``tolerance`` in any key (angles modulo 180 degrees)."""
    for key, tol in tolerance.items():
        d = abs(float(new[key]) - float(old[key]))
        if key.endswith("_phi_rad"):
            d = min(d % math.pi, math.pi - d % math.pi)
        if d > tol:
            return True
    return any(new[key] != old[key] for key in new if key not in tolerance)
