"""Names for real objects: IAU-style names from positions, and safe file names from free text."""

from __future__ import annotations

import math
import re

__all__ = ["coordinate_name", "safe_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._+\-]+")


def coordinate_name(ra_deg: float, dec_deg: float) -> str:
    """IAU-style name from a position (truncated, not rounded), e.g. ``J095832.78+021213.5``.

    >>> coordinate_name(149.63659, 2.20375)
    'J095832.78+021213.5'
    >>> coordinate_name(0.0, -0.5)
    'J000000.00-003000.0'
    """
    ra_cs = int(math.floor((float(ra_deg) % 360.0) / 15.0 * 360000.0 + 1e-6)) % 8640000
    h, rem = divmod(ra_cs, 360000)
    m, rem = divmod(rem, 6000)
    dec_ds = int(math.floor(abs(float(dec_deg)) * 36000.0 + 1e-6))
    d, drem = divmod(dec_ds, 36000)
    dm, drem = divmod(drem, 600)
    sign = "-" if dec_deg < 0 else "+"
    return f"J{h:02d}{m:02d}{rem // 100:02d}.{rem % 100:02d}{sign}{d:02d}{dm:02d}{drem // 10:02d}.{drem % 10:d}"


def safe_name(text: str, default: str = "") -> str:
    """``text`` usable as a file name and subject id: runs of other characters become ``_``,
    at most 80 characters; ``default`` when nothing is left.

    >>> safe_name("Abell 370 / arc #2")
    'Abell_370_arc_2'
    >>> safe_name("...", "image")
    'image'
    """
    return _UNSAFE.sub("_", str(text)).strip("._")[:80] or default
