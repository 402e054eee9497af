"""Small crystals with literature coordinates, built with ``Structure.from_spacegroup``.

Cells and coordinates: NaCl, CsCl, Si, SrTiO3 (ICSD-standard values); corundum Al2O3
(Lewis, Schwarzenbach & Flack 1982); calcite CaCO3 (Maslen, Streltsov & Streltsova 1993).
"""

from __future__ import annotations

from pymatgen.core import Lattice, Structure


def nacl() -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.6402), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def cscl() -> Structure:
    return Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(4.123), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def si() -> Structure:
    return Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]])


def srtio3() -> Structure:
    return Structure.from_spacegroup(
        "Pm-3m", Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]
    )


def corundum() -> Structure:
    return Structure.from_spacegroup(
        "R-3c", Lattice.hexagonal(4.7589, 12.991), ["Al", "O"], [[0, 0, 0.35216], [0.30624, 0, 0.25]]
    )


def calcite() -> Structure:
    return Structure.from_spacegroup(
        "R-3c",
        Lattice.hexagonal(4.9896, 17.0610),
        ["Ca", "C", "O"],
        [[0, 0, 0], [0, 0, 0.25], [0.25706, 0, 0.25]],
    )


ALL = {"NaCl": nacl, "CsCl": cscl, "Si": si, "SrTiO3": srtio3, "corundum": corundum, "calcite": calcite}
