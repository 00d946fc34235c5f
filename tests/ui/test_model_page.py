"""The modelling page without a browser: who may model what, the live update's cost, saving."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from lensfinder_nb.classify.identity import new_teacher_key, personal_link, sign_up
from lensfinder_nb.imaging.files import write_batch
from lensfinder_nb.modelling.live import LiveModel
from lensfinder_nb.sim.fresh import mock_lenses
from lensfinder_nb.ui.model import TEACHER_USER, model_page

pytestmark = pytest.mark.filterwarnings("ignore:metadata .* was set from the constructor:DeprecationWarning")


@pytest.fixture(scope="module")
def mock():
    m = mock_lenses(2, seed=3)
    return m.images[0].astype(np.float32), m.params.iloc[0]


@pytest.fixture
def model_store(store, mock):
    ref = write_batch(store.path.parent, "page-test", mock[0][None])[0]
    # M1: an unknown image; T1: a training lens (its truth must not leak to someone who has not voted)
    store.add_subjects(pd.DataFrame({"subject": ["M1", "T1"], "label": [-1, 1], "cube": [ref, ref],
                                     "params": [None, {"theta_e_arcsec": 1.234}]}))
    return store


def _fit_result(fitted: dict) -> dict:
    """What Refine hands the page for a fit that ended at ``fitted``."""
    return {"model": fitted, "theta_e_arcsec": fitted["theta_e_arcsec"], "theta_e_err_arcsec": 0.1,
            "chi2_reduced": 1.1, "seconds": 1.0, "data": np.zeros((9, 9)), "model_image": np.zeros((9, 9)),
            "residual": np.zeros((9, 9))}


def _open(store, who, subject: str, **extra):
    return model_page(personal_link("model", who, subject=subject, **extra).split("?", 1)[1], store=store)


def test_a_person_models_an_unknown_image_and_saves(model_store):
    ada = sign_up(model_store, "Ada")
    frame = _open(model_store, ada, "M1")
    view = frame.model_view
    assert "automatic guess" in view.help.value
    view.place_centre(0.4, -0.2)
    view.sliders["theta_e_arcsec"].value = 1.9
    assert view.model["lens_x_arcsec"] == 0.4 and view.model["theta_e_arcsec"] == pytest.approx(1.9)
    view._save()
    saved = model_store.lens_models(subject="M1", user=ada.user_id)
    assert len(saved) == 1 and not bool(saved["refined"].iloc[0])
    assert saved["params"].iloc[0]["lens_x_arcsec"] == 0.4
    again = _open(model_store, ada, "M1").model_view  # the page starts from the saved model
    assert "model you saved last" in again.help.value and again.model["theta_e_arcsec"] == pytest.approx(1.9)


def test_a_slider_snapping_a_refined_model_to_its_step_keeps_it_refined(model_store):
    """The browser's slider snaps a value set by the page to its step and sends it back: that is not the
    person's change, so the refined model stays refined (and is saved as the fit gave it); a real move
    of a slider is."""
    ada = sign_up(model_store, "Ada")
    view = _open(model_store, ada, "M1").model_view
    fitted = {**view.model, "theta_e_arcsec": 1.2345, "lens_phi_rad": 0.5531, "gamma1": 0.0123}
    view.finish_refine(_fit_result(fitted), dict(view.model))
    for key, snapped in (("theta_e_arcsec", 1.24), ("lens_phi_deg", 32.0), ("gamma1", 0.01)):
        view.sliders[key].value = snapped          # what the browser sends back
    assert view.model["theta_e_arcsec"] == 1.2345 and view.model["lens_phi_rad"] == 0.5531
    view._save()
    saved = model_store.lens_models(subject="M1", user=ada.user_id)
    assert bool(saved["refined"].iloc[-1]) and saved["params"].iloc[-1]["theta_e_arcsec"] == 1.2345
    view.sliders["theta_e_arcsec"].value = 1.30    # the person moves it
    assert view.model["theta_e_arcsec"] == pytest.approx(1.30)
    view._save()
    assert not bool(model_store.lens_models(subject="M1", user=ada.user_id)["refined"].iloc[-1])


def test_a_late_echo_of_an_earlier_model_does_not_unmark_the_refined_one(model_store):
    """On a loaded machine the browser's snapped echo of a value the page set before Refine can arrive
    after the fit's: it is neither the person's move nor the fit's value, so the page shows the fit's
    value again and the model stays refined."""
    ada = sign_up(model_store, "Ada")
    view = _open(model_store, ada, "M1").model_view
    view.sliders["theta_e_arcsec"].value = 1.5     # the person's model before Refine
    view.set_model({**view.model, "theta_e_arcsec": 1.5123})   # e.g. a saved model shown again
    fitted = {**view.model, "theta_e_arcsec": 1.2345}
    view.finish_refine(_fit_result(fitted), dict(view.model))
    view.sliders["theta_e_arcsec"].value = 1.51    # the late, snapped echo of 1.5123
    assert view.model["theta_e_arcsec"] == 1.2345
    assert view.sliders["theta_e_arcsec"].value == pytest.approx(1.2345)
    view._save()
    assert bool(model_store.lens_models(subject="M1", user=ada.user_id)["refined"].iloc[-1])


def test_a_fit_beyond_a_sliders_range_stays_refined(model_store):
    """A fit can end beyond a slider's range (here the source 2.6" from the lens, the sliders stop at 2"):
    the slider shows the clipped value, and an echo of another slider must not turn the clipped value
    into the person's model."""
    ada = sign_up(model_store, "Ada")
    view = _open(model_store, ada, "M1").model_view
    fitted = {**view.model, "src_x_arcsec": view.model["lens_x_arcsec"] + 2.6, "theta_e_arcsec": 1.2345}
    view.finish_refine(_fit_result(fitted), dict(view.model))
    assert view.sliders["src_dx"].value == view.sliders["src_dx"].max
    view.sliders["theta_e_arcsec"].value = 1.23     # the browser's snapped echo of 1.2345
    assert view.model["src_x_arcsec"] == pytest.approx(fitted["src_x_arcsec"])
    view._save()
    assert bool(model_store.lens_models(subject="M1", user=ada.user_id)["refined"].iloc[-1])


def test_a_fit_arriving_while_the_person_moves_a_slider_is_applied_whole(model_store):
    """Refine's result is applied on a background thread while the kernel's thread handles the browser:
    a slider move that arrives meanwhile waits until the fit is shown, then counts as the person's
    change (the fit is not saved as refined with the person's value in it)."""
    import threading

    ada = sign_up(model_store, "Ada")
    view = _open(model_store, ada, "M1").model_view
    fitted = {**view.model, "theta_e_arcsec": 1.2345}
    inside, redraw = threading.Event(), view._redraw

    def slow_redraw():   # the fit's redraw takes a while; the person moves a slider meanwhile
        if threading.current_thread() is not threading.main_thread():
            inside.set()
            time.sleep(0.3)
        redraw()

    view._redraw = slow_redraw
    failed = []

    def show_fit():   # as the page's waiting thread does; an error there must fail the test
        try:
            view.finish_refine(_fit_result(fitted), dict(view.model))
        except Exception as exc:  # noqa: BLE001
            failed.append(exc)

    worker = threading.Thread(target=show_fit)
    worker.start()
    assert inside.wait(10)
    view.sliders["theta_e_arcsec"].value = 1.9      # the person's move, while the fit is being shown
    worker.join(10)
    assert not worker.is_alive() and failed == []
    assert view.refined_model["theta_e_arcsec"] == 1.2345     # the fit was shown whole, then the move
    assert view.model["theta_e_arcsec"] == pytest.approx(1.9)
    view._save()
    saved = model_store.lens_models(subject="M1", user=ada.user_id)
    assert not bool(saved["refined"].iloc[-1]) and saved["params"].iloc[-1]["theta_e_arcsec"] == pytest.approx(1.9)


def test_a_training_image_needs_a_vote_first(model_store):
    bob = sign_up(model_store, "Bob")
    frame = _open(model_store, bob, "T1")
    text = " ".join(c.value for c in frame.body.children if hasattr(c, "value"))
    assert "classify it first" in text and "1.234" not in text and not hasattr(frame, "model_view")
    model_store.add_vote(bob.user_id, "T1", 1)
    assert _open(model_store, bob, "T1").model_view.subject == "T1"


def test_the_teacher_models_with_the_teacher_key(model_store):
    key = new_teacher_key(model_store)
    frame = model_page(f"key={key}&subject=T1", store=model_store)
    frame.model_view._save()
    assert model_store.lens_models(subject="T1")["user_id"].tolist() == [TEACHER_USER]
    nobody = model_page("key=wrong&subject=T1", store=model_store)
    assert not hasattr(nobody, "model_view")


def test_bad_links_and_unknown_subjects_show_a_message(model_store):
    ada = sign_up(model_store, "Ada")
    frame = _open(model_store, ada, "NOPE")
    assert "no image" in frame.body.children[0].value and not hasattr(frame, "model_view")
    xss = _open(model_store, ada, "<img src=x onerror=alert(1)>")
    assert "<img" not in xss.body.children[0].value
    bad = model_page("user=" + ada.user_id + "&key=wrong&subject=M1", store=model_store)
    assert not hasattr(bad, "model_view") and "key does not match" in bad.errors.value


def test_chinese_page(model_store):
    ada = sign_up(model_store, "Ada")
    view = _open(model_store, ada, "M1", lang="zh").model_view
    assert view.refine_button.description == "优化" and "透镜中心" in view.status.value


def test_a_live_update_costs_well_under_50_ms(model_store, mock):
    """The page's whole redraw (ray tracing, overlay PNG, markers) against the issue's 50 ms, measured
    here with a 2x margin for a busy machine, and against the bare ray tracing in the same run."""
    ada = sign_up(model_store, "Ada")
    view = _open(model_store, ada, "M1").model_view
    live = LiveModel(mock[0])
    rng = np.random.default_rng(0)
    view.update_ms.clear()
    bare = []
    for _ in range(40):
        view.sliders["theta_e_arcsec"].value = float(rng.uniform(0.8, 2.5))
        t = time.perf_counter()
        live.update(view.model)
        bare.append((time.perf_counter() - t) * 1e3)
    page_ms, bare_ms = float(np.median(view.update_ms)), float(np.median(bare))
    assert len(view.update_ms) == 40
    assert page_ms < 100, f"page update p50 {page_ms:.1f} ms"
    assert page_ms < 3 * bare_ms + 15, (page_ms, bare_ms)  # the widgets add little to the ray tracing


def test_refine_defaults_are_the_fits():
    from lensfinder_nb.modelling.fit import PSO_ITERATIONS, PSO_PARTICLES
    from lensfinder_nb.settings import Settings
    s = Settings.from_env({})
    assert (s.refine_particles, s.refine_iterations) == (PSO_PARTICLES, PSO_ITERATIONS)
    assert Settings.from_env({"LENSFINDER_MODEL_ITERATIONS": "4"}).refine_iterations == 4
