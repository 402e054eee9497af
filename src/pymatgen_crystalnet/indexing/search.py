"""``index_pattern``: from peak positions to a ranked list of unit cells.

Kept whole: the staged search (the systems, their order and the time limit) is one
procedure that reads best in one place.

Strategy (see ``docs/indexing.md``):

1. Lines are turned into windows in ``Q = 1/d²``: ``2θ ± (tolerance + max_zero_shift)``.
2. For each lattice system, most symmetric first, a successive dichotomy over the
   parameters of its quadratic form (:mod:`~pymatgen_crystalnet.indexing.dichotomy`) finds
   every region of parameter space that explains the first ``n_search`` lines.
3. Each region's centre is refined by least squares together with the zero shift
   (:mod:`~pymatgen_crystalnet.indexing.refine`) against all lines, put into its
   conventional setting, and scored (:mod:`~pymatgen_crystalnet.indexing.evaluate`).
4. Cubic, tetragonal and hexagonal are searched first, as one group, asking for every line
   to be explained, then allowing one more unexplained line at a time up to
   ``max_unindexed``; then orthorhombic and monoclinic, each through the same levels. The
   search stops after the first stage that yields a cell with ``M20 ≥ min_merit`` leaving
   no more lines unindexed than allowed at that stage, unless ``exhaustive``; if that M20 is
   below ``2.5 × min_merit`` the same group is searched one level further first (a
   supercell can index impurity lines that the true cell leaves unexplained).
5. Cells with a lattice translation below 2 Å are dropped; cells describing the same
   lattice are merged, keeping the most symmetric description; the rest are ranked by the
   ranking merit with a 5 % preference per step of symmetry, and a more symmetric derivative
   lattice indexing as many lines is preferred (:mod:`~pymatgen_crystalnet.indexing.ranking`).
6. With a formula, a cell that holds no plausible number of formula units goes after every
   cell that does (ranking rule 4). The formula does not change the search itself: searching
   on until a cell holds the formula finds spurious low-symmetry cells on a pattern read
   with the wrong wavelength, which the solver must refuse, not solve on.
7. With a formula, each of the top :data:`SUPERCELL_CANDIDATES` cells whose primitive cell
   holds less than 0.7 of a formula unit by fitted element volumes also gets its derivative
   supercells, refined and scored (:mod:`~pymatgen_crystalnet.indexing.supercells`); one that
   holds a formula unit and indexes as many lines is ranked before the sub-cell (ranking rule 5).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.indexing.dichotomy import MAX_SEARCH_LINES, DichotomySearch
from pymatgen_crystalnet.indexing.forms import FORMS
from pymatgen_crystalnet.indexing.ranking import plausible, rank_solutions, same_lattice
from pymatgen_crystalnet.indexing.refine import tt_to_q
from pymatgen_crystalnet.indexing.shells import LAUE, MAX_LENGTH, VOLUME_FACTOR, search_system
from pymatgen_crystalnet.indexing.solution import IndexingSolution
from pymatgen_crystalnet.indexing.supercells import supercell_solutions
from pymatgen_crystalnet.indexing.zone_indexing import zone_search
from pymatgen_crystalnet.physics.formula_units import as_composition
from pymatgen_crystalnet.physics.units import resolve_wavelength

if TYPE_CHECKING:
    from pymatgen.core import Composition

__all__ = ["DEFAULT_SYSTEMS", "MIN_LINES", "index_pattern", "same_lattice"]

logger = logging.getLogger(__name__)

#: Lattice systems searched by default, most symmetric first.
DEFAULT_SYSTEMS: tuple[str, ...] = (
    "cubic",
    "tetragonal",
    "hexagonal",
    "orthorhombic",
    "monoclinic",
    "triclinic",
)
#: Fewest lines ``index_pattern`` accepts.
MIN_LINES = 6
#: Fewest lines for a search of each system (parameters + zero + a few to over-determine).
_MIN_LINES_SYSTEM = {
    "cubic": 6,
    "tetragonal": 6,
    "hexagonal": 6,
    "orthorhombic": 8,
    "monoclinic": 10,
    "triclinic": 12,
}
#: With a formula, the top cells examined for derivative supercells that hold a formula unit.
SUPERCELL_CANDIDATES = 3
#: The stage that searches by zones (monoclinic and triclinic lattices, and any other).
_ZONES = ("monoclinic", "triclinic")
def _zone_stage(
    tt: NDArray[np.float64],
    wavelength: float,
    tol: NDArray[np.float64],
    n_search: int,
    max_zero_shift: float,
    max_length: float | None,
    max_volume: float | None,
    systems: Sequence[str],
    sigma: NDArray[np.float64] | None,
    deadline: float | None,
) -> list[IndexingSolution]:
    """The zone search (:mod:`~pymatgen_crystalnet.indexing.zone_indexing`) with its limits."""
    lowest = "triclinic" if "triclinic" in systems else "monoclinic"
    if tt.size < _MIN_LINES_SYSTEM[lowest]:
        logger.info("Too few lines (%d) for a search by zones; skipped.", tt.size)
        return []
    ts = tt[:n_search]
    q_top = float(tt_to_q(np.array([min(ts[-1] + tol[ts.size - 1] + max_zero_shift, 179.9)]), wavelength)[0])
    v_est = ts.size * LAUE["monoclinic"][0] / (4.0 * np.pi / 3.0 * q_top**1.5)
    v_max = max_volume if max_volume is not None else VOLUME_FACTOR["monoclinic"] * v_est
    length = max_length if max_length is not None else MAX_LENGTH[lowest]
    return zone_search(
        tt,
        wavelength,
        tol,
        max_zero_shift=max_zero_shift,
        n_search=n_search,
        v_max=v_max,
        min_q=1.0 / length**2,
        systems=systems,
        sigma=sigma,
        deadline=deadline,
    )


def _stages(systems: Sequence[str], max_unindexed: int) -> list[tuple[tuple[str, ...], int]]:
    """(systems, allowed unexplained lines) in search order.

    1. Cubic, tetragonal and hexagonal as one group with every line explained (cheap; one
       group, so that a supercell in one of them cannot end the search before the true cell
       of another is found).
    2. The zone search (monoclinic, triclinic, and any lattice it meets; tolerant of
       unexplained lines by construction). It ends the search at once only with a cell that
       explains every line at ``M20 ≥ 2.5 × min_merit``; a cell with ``M20 ≥ min_merit``
       ends it after the orthorhombic dichotomy.
    3. The orthorhombic dichotomy with every line explained.
    4. The dichotomies again, resumed, with one, then two unexplained lines allowed: the
       higher group first, then orthorhombic.
    """
    high = tuple(s for s in systems if s in ("cubic", "tetragonal", "hexagonal"))
    ortho = "orthorhombic" in systems
    zones = tuple(s for s in _ZONES if s in systems)
    stages: list[tuple[tuple[str, ...], int]] = []
    if high:
        stages.append((high, 0))
    if zones:
        stages.append((zones, max_unindexed))
    if ortho:
        stages.append((("orthorhombic",), 0))
    for k in range(1, max_unindexed + 1):
        if high:
            stages.append((high, k))
    for k in range(1, max_unindexed + 1):
        if ortho:
            stages.append((("orthorhombic",), k))
    return stages


def _two_theta_of(peaks: ArrayLike | Any) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    if hasattr(peaks, "two_theta"):
        sig = getattr(peaks, "sigma", None)
        return np.asarray(peaks.two_theta, dtype=float), (None if sig is None else np.asarray(sig, float))
    return np.asarray(peaks, dtype=float), None


def index_pattern(
    peaks: ArrayLike | Any,
    wavelength: float | str,
    *,
    sigma: ArrayLike | None = None,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
    tolerance: float = 0.04,
    max_zero_shift: float = 0.06,
    n_search: int = 20,
    max_unindexed: int = 2,
    max_length: float | None = None,
    max_volume: float | None = None,
    min_merit: float = 20.0,
    exhaustive: bool = False,
    max_solutions: int = 10,
    max_seconds: float | None = None,
    composition: str | Composition | None = None,
) -> list[IndexingSolution]:
    """Find unit cells that index a list of powder peak positions.

    Parameters
    ----------
    peaks
        Peak positions, 2θ in degrees (any order), or an object with ``two_theta`` (and
        optionally ``sigma``) such as :class:`~pymatgen_crystalnet.indexing.peaks.PeakList`.
        Use 20–30 well-measured lines from the low-angle end of the pattern.
    wavelength
        Wavelength (Å or a name such as ``"CuKa1"``) at which the positions were measured.
    sigma
        Standard uncertainties of the positions (degrees). A line's tolerance is then
        ``max(tolerance, 3σ)`` and the refinement weights are ``1/σ²``.
    systems
        Lattice systems to search, from ``cubic``, ``tetragonal``, ``hexagonal`` (also
        finds rhombohedral lattices, in hexagonal axes), ``orthorhombic``, ``monoclinic``.
    tolerance
        Largest 2θ discrepancy (degrees) of an indexed line after the zero correction.
    max_zero_shift
        Largest zero shift (degrees) the search allows for.
    n_search
        Lines used by the search (the first ones); all lines are used in refinement and merits.
    max_unindexed
        Most lines among the first ``n_search`` a cell may leave unexplained (impurities).
        The search asks for none first, then relaxes one line at a time (see the
        module docstring for the order of stages).
    max_length, max_volume
        Longest cell edge (Å) and largest volume (Å³) searched; defaults depend on the
        system and on the data (see ``docs/indexing.md``).
    min_merit
        ``M20`` at which a cell ends the search (less symmetric systems are then not
        searched). Cells of lower merit are still returned when nothing better is found.
    exhaustive
        Search every system and relaxation level regardless of earlier successes.
    max_solutions
        Length of the returned list (with a formula, longer by the cells that supercells
        pushed beyond it: supercells never hide a cell listed without them).
    max_seconds
        Wall-clock limit of the search; when reached, the best cells found so far are
        returned (a warning is logged: the search was not exhaustive).
    composition
        The formula (string or pymatgen ``Composition``), when known. Each cell then records
        the formula units it holds (``IndexingSolution.z``); a cell whose primitive cell holds
        no ``Z`` = 1–24 formula units at 4–120 Å³ per atom is ranked after every cell that
        does (kept, not dropped: a wrong or partial formula must not hide the right cell;
        ``z`` is None and a note says why; a warning when no cell holds it). A top cell whose
        primitive cell holds less than 0.7 of a formula unit by fitted element volumes (a
        sub-cell, e.g. of a Heusler compound whose superstructure lines are too weak) gets
        its derivative supercells, and one that holds a formula unit and indexes as many
        lines goes first; the sub-cell stays in the list. The search itself is the same with
        or without a formula.

    Returns
    -------
    list of IndexingSolution
        Best first; empty when nothing indexes the lines.

    Raises
    ------
    ValueError
        On fewer than ``MIN_LINES`` distinct positions, positions outside (0°, 180°), an
        unknown system, a bad wavelength or tolerance, or a formula that cannot be read.
    """
    comp = None if composition is None else as_composition(composition)
    tt, sig_attr = _two_theta_of(peaks)
    lam = resolve_wavelength(getattr(peaks, "wavelength", None) or wavelength)
    if sigma is None:
        sigma = sig_attr
    tt = tt.ravel()
    if not np.all(np.isfinite(tt)) or np.any((tt <= 0) | (tt >= 180)):
        raise ValueError("Peak positions must be finite 2θ values in degrees within (0, 180).")
    order = np.argsort(tt)
    tt = tt[order]
    sig = None if sigma is None else np.asarray(sigma, dtype=float).ravel()[order]
    if sig is not None and (sig.size != tt.size or not np.all(np.isfinite(sig)) or np.any(sig <= 0)):
        raise ValueError("sigma must hold one positive, finite uncertainty per peak.")
    keep = np.concatenate([[True], np.diff(tt) > 1e-4])
    tt = tt[keep]
    sig = None if sig is None else sig[keep]
    if tt.size < MIN_LINES:
        raise ValueError(
            f"Indexing needs at least {MIN_LINES} distinct peak positions (20 or more for a "
            f"reliable low-symmetry cell); got {tt.size}."
        )
    if not (tolerance > 0 and max_zero_shift >= 0):
        raise ValueError("tolerance must be positive and max_zero_shift non-negative.")
    unknown = [s for s in systems if s not in FORMS]
    if unknown:
        raise ValueError(f"Unknown lattice system(s) {unknown}; choose from {sorted(FORMS)}.")
    tol = np.full(tt.size, float(tolerance)) if sig is None else np.maximum(tolerance, 3 * sig)
    n_s = min(n_search, tt.size, MAX_SEARCH_LINES)
    searches: dict[tuple[str, int], DichotomySearch] = {}
    deadline = None if max_seconds is None else time.monotonic() + float(max_seconds)
    found: list[IndexingSolution] = []
    stages = _stages(systems, max_unindexed)
    extra: set[int] | None = None  # after a success without convincing merit, the stages still run
    # best M20 of the zone search's cells by lines left unexplained: a zone cell ends the search
    # only at a stage that allows as many (the dichotomies allowing more lines still run first:
    # a sub-cell found by zones must not hide the true cell that leaves impurity lines out)
    from_zones = np.zeros(max_unindexed + 1)
    for i_stage, (group, k) in enumerate(stages):
        if extra is not None and i_stage not in extra:
            if i_stage > max(extra):
                break
            continue
        best = near = 0.0
        t_stage = time.process_time()
        by_zones = group[0] in _ZONES
        if by_zones:
            sols = _zone_stage(
                tt, lam, tol, n_s, max_zero_shift, max_length, max_volume, systems, sig, deadline
            )
            sols = [s for s in sols if plausible(s)]
            found.extend(s for s in sols if s.n_unindexed <= max_unindexed + 2)
            for s in sols:
                if s.n_unindexed <= max_unindexed:
                    from_zones[s.n_unindexed] = max(from_zones[s.n_unindexed], s.m20)
            best = max([best] + [s.m20 for s in sols if s.n_unindexed == 0])
        for system in () if by_zones else group:
            if tt.size < _MIN_LINES_SYSTEM[system]:
                logger.info("Too few lines (%d) for a %s search; skipped.", tt.size, system)
                continue
            sols = search_system(
                FORMS[system],
                tt,
                lam,
                tol,
                n_s,
                max_zero_shift,
                k,
                max_unindexed,
                max_length,
                max_volume,
                sig,
                min_merit,
                deadline,
                searches,
            )
            sols = [s for s in sols if plausible(s)]
            found.extend(s for s in sols if s.n_unindexed <= max_unindexed + 2)
            best = max([best] + [s.m20 for s in sols if s.n_unindexed <= k])
            # a convincing cell may leave one line more (a position error beyond the tolerance,
            # or an impurity that a supercell of the true cell happens to index)
            near = max([near] + [s.m20 for s in sols if s.n_unindexed == k + 1])
        logger.debug(
            "Stage %s (%d unexplained): best M20 %.1f, %.2f s CPU", "+".join(group), k, best,
            time.process_time() - t_stage,
        )  # fmt: skip
        if deadline is not None and time.monotonic() > deadline:
            break
        if exhaustive:
            continue
        if by_zones:
            # only a convincing cell that explains every line ends the search here; a lesser
            # one ends it after the next stage (the orthorhombic dichotomy) has had its say
            if best >= 2.5 * min_merit:
                break
            continue
        if best < min_merit:
            if from_zones[: k + 1].max() >= min_merit:
                break
            if extra is None and near >= 2.5 * min_merit:
                # only the next level of this group, which refines such a cell with the line
                # left out and can still find the true cell that an impurity hid; then stop
                nxt = [j for j in range(i_stage + 1, len(stages)) if stages[j][0] == group]
                if nxt:
                    extra = {nxt[0]}
            continue
        # a modest merit may be a supercell that indexes impurity lines: look one level
        # further in the same group, and run the zone search if it has not run yet
        if extra is None and best < 2.5 * min_merit:
            later = range(i_stage + 1, len(stages))
            extra = {j for j in later if stages[j][0] == group}
            extra = {min(extra)} if extra else set()
            extra |= {j for j in later if stages[j][0][0] in _ZONES}
            if extra:
                continue
        break
    ranked = rank_solutions(found, max_solutions, comp)
    if comp is not None:
        extra = [
            sup
            for sol in ranked[:SUPERCELL_CANDIDATES]
            for sup in supercell_solutions(sol, tol, comp, max_zero_shift=max_zero_shift, sigma=sig)
        ]
        if extra:
            before = ranked
            ranked = rank_solutions(found + extra, max_solutions, comp)
            # rank, never drop: a cell listed without the supercells stays listed (at the end)
            ranked += [s for s in before if all(s is not r for r in ranked)]
    if comp is not None and ranked and ranked[0].z is None:
        logger.warning(
            "No cell found holds a plausible number of %s formula units (Z = 1-24 per primitive cell "
            "at 4-120 Å³ per atom); the cells are ranked by merit alone. Check the formula and the "
            "wavelength.", comp.reduced_formula,
        )  # fmt: skip
    return ranked
