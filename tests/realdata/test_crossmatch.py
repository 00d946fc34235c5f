"""Sky cross-matching (astropy underneath): nearest within a radius and close pairs, across RA = 0 and near a pole."""

from __future__ import annotations

import numpy as np
import pytest

from lensfinder_nb.realdata.crossmatch import nearest_within, pairs_within, sky_coords


def _offset(ra, dec, east_arcsec=0.0, north_arcsec=0.0):
    """A position ``east_arcsec`` east and ``north_arcsec`` north of (ra, dec), exactly, via astropy."""
    from astropy import units as u
    c = sky_coords([ra], [dec])[0]
    moved = c.spherical_offsets_by(east_arcsec * u.arcsec, north_arcsec * u.arcsec)
    return float(moved.ra.deg), float(moved.dec.deg)


def test_nearest_within_finds_the_nearest_across_ra_zero_and_near_the_pole():
    cat_ra, cat_dec = zip(_offset(0.0, 10.0, east_arcsec=0.4), _offset(0.0, 10.0, east_arcsec=-0.7),
                          (45.0, 89.9999), (200.0, -30.0))
    # positions: on RA = 0 (catalogue rows on both sides of 360/0), near the pole, far from anything,
    # NaN, and |dec| > 90
    idx, sep = nearest_within([0.0, 225.0, 100.0, np.nan, 10.0], [10.0, 89.9999, 0.0, 1.0, 95.0],
                              (cat_ra, cat_dec), radius_arcsec=1.0)
    assert cat_ra[1] > 359.9 and idx.tolist() == [0, 2, -1, -1, -1]
    assert sep[0] == pytest.approx(0.4, abs=1e-6)
    # RA 45 and 225 deg, both 0.36" from the pole on opposite sides: 0.72" apart
    assert sep[1] == pytest.approx(0.72, abs=1e-3)
    assert np.isnan(sep[2:]).all()


def test_catalogue_rows_without_positions_keep_their_index():
    idx, sep = nearest_within([150.0, 151.0], [2.0, 2.0], ([np.nan, 151.0, np.nan, 150.0], [np.nan, 2.0, 1.0, 2.0]), 1.0)
    assert idx.tolist() == [3, 1] and sep.tolist() == [0.0, 0.0]


def test_a_catalogue_function_is_called_only_when_something_can_match():
    calls = []

    def catalogue():
        calls.append(1)
        return sky_coords([10.0], [0.0])

    assert nearest_within([np.nan], [np.nan], catalogue, 5.0)[0].tolist() == [-1] and calls == []
    assert nearest_within([10.0], [0.0], catalogue, 5.0)[0].tolist() == [0] and calls == [1]
    with pytest.raises(ValueError, match="one length"):
        nearest_within([1.0, 2.0], [1.0], catalogue, 5.0)


def test_pairs_within_lists_every_close_pair_nearest_first():
    a = [(0.0, 0.0), _offset(0.0, 0.0, east_arcsec=-0.8), (120.0, -45.0)]
    b = [_offset(0.0, 0.0, east_arcsec=0.5), (0.0, 0.0), _offset(120.0, -45.0, north_arcsec=2.0), (300.0, 60.0)]
    pairs = pairs_within(*zip(*a), *zip(*b), radius_arcsec=1.0)
    assert pairs == {0: [(0.0, 1), (0.5, 0)], 1: [(0.8, 1)]}
    assert pairs_within([], [], [1.0], [1.0], 1.0) == {}
