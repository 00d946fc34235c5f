"""One subject from the store, fitted from the automatic guess (``lensfinder model``)."""

from __future__ import annotations

from ..errors import UserError
from .fit import AUTOMATIC_SPREAD, PSO_ITERATIONS, PSO_PARTICLES, refine
from .guess import automatic_guess

__all__ = ["ModelError", "model_subject"]


class ModelError(UserError):
    """A subject that cannot be modelled: unknown, or without a readable cube."""


def model_subject(store, subject: str, *, n_particles: int = PSO_PARTICLES, n_iterations: int = PSO_ITERATIONS,
                  seed: int = 0) -> dict:
    """Guess and refine the lens model of ``subject``; returns the start, the fit's summary and the subject."""
    from ..imaging import files as cubes

    frame = store.subjects().set_index("subject")
    if subject not in frame.index:
        raise ModelError(f"no subject {subject!r} in the store (see `lensfinder data` to load subjects)")
    ref = frame.loc[subject, "cube"]
    if not isinstance(ref, str) or not ref:
        raise ModelError(f"subject {subject!r} has no cube (only a picture): a model needs the g, r, z cube")
    try:
        cube = cubes.load_cube(store.settings.data_dir, ref)
    except (OSError, ValueError, IndexError) as exc:
        raise ModelError(f"the cube of subject {subject!r} cannot be read ({ref}): {exc}") from None
    start = automatic_guess(cube)
    fit = refine(cube, start, n_particles=n_particles, n_iterations=n_iterations, seed=seed,
                 theta_e_spread=AUTOMATIC_SPREAD)
    return {"subject": subject, "start": start, **fit.summary()}
