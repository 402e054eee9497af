"""Powder indexing: unit cells from peak positions, for cubic to triclinic lattices.

``index_pattern(two_theta, wavelength)`` returns a ranked list of
:class:`IndexingSolution`; ``peaks_from_pattern`` and ``peaks_from_profile`` prepare peak
lists from a pymatgen ``DiffractionPattern`` or a measured profile. Method, tolerances and
limits: ``docs/indexing.md``.
"""

from pymatgen_crystalnet.indexing.peaks import PeakList, peaks_from_pattern, peaks_from_profile
from pymatgen_crystalnet.indexing.search import DEFAULT_SYSTEMS, MIN_LINES, index_pattern, same_lattice
from pymatgen_crystalnet.indexing.solution import IndexingSolution

__all__ = [
    "DEFAULT_SYSTEMS",
    "MIN_LINES",
    "IndexingSolution",
    "PeakList",
    "index_pattern",
    "peaks_from_pattern",
    "peaks_from_profile",
    "same_lattice",
]
