"""Subject ids for ingested cutouts, and the duplicate checks that go with them.

A cutout with a position gets its IAU-style coordinate name; one without gets ``img-<stem>``
(with a short hash if two files share a stem).  A cutout is left out when its id is already
stored, or when it lies within :data:`~lensfinder_nb.realdata.crossmatch.DUPLICATE_RADIUS_ARCSEC`
of a stored subject or of an earlier cutout of the same run.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from .crossmatch import DUPLICATE_RADIUS_ARCSEC, pairs_within
from .names import coordinate_name, safe_name
from .readers import Cutout

__all__ = ["IdResult", "assign_ids"]


@dataclass
class IdResult:
    """``new`` cutouts to add (``subject`` set), ``existing`` ids already stored, and
    ``duplicates`` as ``(file, reason)``."""

    new: list[Cutout] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)


def assign_ids(stored, items: Sequence[Cutout]) -> IdResult:
    """Give every cutout its subject id and sort out what is new.

    ``stored`` is the store's subjects table (columns subject, ra, dec).
    """
    ids = set(stored["subject"])
    known = stored.dropna(subset=["ra", "dec"])
    known_ids = known["subject"].to_numpy()
    placed = [k for k, it in enumerate(items) if it.ra is not None]
    ra, dec = [items[k].ra for k in placed], [items[k].dec for k in placed]
    vs_store = pairs_within(ra, dec, known["ra"], known["dec"], DUPLICATE_RADIUS_ARCSEC)
    vs_run = pairs_within(ra, dec, ra, dec, DUPLICATE_RADIUS_ARCSEC)
    slot = {k: n for n, k in enumerate(placed)}
    taken: dict[str, str] = {}
    kept: set[int] = set()  # slots of accepted cutouts with a position
    out = IdResult()
    for k, item in enumerate(items):
        if item.ra is not None:
            sid = coordinate_name(item.ra, item.dec)
        else:
            sid = "img-" + safe_name(item.stem, "image")
            if taken.get(sid, item.name) != item.name:
                sid += "-" + uuid.uuid5(uuid.NAMESPACE_URL, item.name).hex[:6]
        taken.setdefault(sid, item.name)
        item.subject = sid
        if sid in ids:
            out.existing.append(sid)
            continue
        if item.ra is not None:
            n = slot[k]
            near = vs_store.get(n)
            if near:
                out.duplicates.append((item.name, f"duplicate position: {near[0][0]:.2f} arcsec from subject "
                                                  f"{known_ids[near[0][1]]} already in the store"))
                continue
            twin = next(((d, m) for d, m in vs_run.get(n, []) if m in kept), None)
            if twin is not None:
                out.duplicates.append((item.name, f"duplicate position: {twin[0]:.2f} arcsec from "
                                                  f"{items[placed[twin[1]]].name}"))
                continue
            kept.add(n)
        out.new.append(item)
    return out
