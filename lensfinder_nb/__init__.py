"""lensfinder: find strong gravitational lenses together, people and machines.

All logic lives in this package; the Voilà pages in ``apps/`` and the notebooks only wire it.
"""

__version__ = "0.1.0"
