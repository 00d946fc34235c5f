"""Lens models of candidates: a person's model, the automatic start, the lenstronomy fit, the consensus.

``model`` (the parameter set and its checks), ``live`` (predicted arcs for the modelling page, our
painter, fast), ``guess`` (the automatic start from the cube), ``fit`` (the cube prepared and fitted
through :mod:`lensfinder_nb.sim.lenstronomy_adapter`), ``consensus`` (one model per subject),
``run`` (one subject from the store: ``lensfinder model`` and the page's Refine).
"""
