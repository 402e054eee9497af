"""Symmetry-constrained random search: random crystals in a space group on the GIVEN lattice.

For each space-group hypothesis and each Z, pyxtal places the composition on random Wyckoff
positions of the group in the conventional cell of the given lattice, with pyxtal's "atomic"
tolerance matrix (no two atoms closer than half the sum of their covalent radii). Every trial's
stick pattern (:func:`trial_sticks`) is binned into the model's 1024-vector on the Mo Kα axis
(:mod:`pymatgen_crystalnet.featurize.xrd_vector`) and compared with the input's by cosine
similarity over the bins the input covers, as the solver's verification does. The best trials
become :class:`~.candidate_pool.StructureCandidate` objects (``source="search"``) on the given
lattice.

Each group is used in its standard setting (pyxtal's), on the conventional cell spglib finds for
the lattice metric; hypotheses in another setting of the same group (orthorhombic axis
permutations, monoclinic cell choices) are searched in the standard one.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.featurize.xrd_vector import N_BINS, bin_index, sticks_to_vector
from pymatgen_crystalnet.physics.agreement import cosine_similarity
from pymatgen_crystalnet.physics.iam import DEFAULT_B_FACTOR
from pymatgen_crystalnet.physics.units import MO_KA, convert_two_theta, resolve_wavelength
from pymatgen_crystalnet.structure.candidate_pool import StructureCandidate, min_distance_violation
from pymatgen_crystalnet.structure.extinction import crystal_system_of
from pymatgen_crystalnet.structure.formula_units import candidate_z, formula_unit
from pymatgen_crystalnet.structure.spacegroups import SpaceGroupHypothesis, conventional_setting

if TYPE_CHECKING:
    from pymatgen.core import Composition, Lattice

__all__ = [
    "SearchResult",
    "StickTarget",
    "composition_fits",
    "stick_target",
    "symmetry_search",
    "trial_sticks",
]

logger = logging.getLogger(__name__)


def trial_sticks(
    lattice: Lattice,
    species: Sequence[str],
    frac_coords: ArrayLike,
    wavelength: float,
    two_theta_range: tuple[float, float],
    debye_waller_b: float,
    scaled: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Stick patterns of T trial crystals sharing a lattice and species list.

    The one place the search computes patterns: the vectorised structure-factor path
    :func:`pymatgen_crystalnet.physics.powder_batch.batch_sticks` (pymatgen's ``XRDCalculator``
    physics, all reflections and trials at once).

    Returns
    -------
    tuple
        ``(two_theta (M,), intensities (T, M))``: the reflections of the lattice, each trial's
        intensity (0 where it has none), scaled to a maximum of 100 per trial.
    """
    from pymatgen_crystalnet.physics.powder_batch import batch_sticks

    return batch_sticks(
        lattice,
        list(species),
        np.asarray(frac_coords, dtype=float),
        wavelength=float(wavelength),
        two_theta_range=two_theta_range,
        debye_waller_b=float(debye_waller_b) if debye_waller_b else None,
        scaled=scaled,
    )


@dataclass(frozen=True)
class StickTarget:
    """The input pattern as the model's 1024-vector (Mo Kα axis) and the bins it covers."""

    vector: NDArray[np.float64]
    covered: NDArray[np.bool_]
    two_theta_range_mo: tuple[float, float]


def stick_target(
    two_theta: ArrayLike,
    intensities: ArrayLike,
    wavelength: float | str = MO_KA,
    two_theta_range: tuple[float, float] | None = None,
) -> StickTarget:
    """Target of the search from stick positions (2θ, degrees) and heights at a wavelength.

    ``two_theta_range`` is the range the measurement covered (default: the sticks' own range,
    widened by one bin).
    """
    lam = resolve_wavelength(wavelength)
    tt = np.asarray(two_theta, dtype=float).ravel()
    y = np.asarray(intensities, dtype=float).ravel()
    lo, hi = two_theta_range if two_theta_range is not None else (float(tt.min()), float(tt.max()))
    conv = np.asarray(convert_two_theta(np.array([lo, hi, *tt.tolist()]), lam, MO_KA), dtype=float)
    vector = sticks_to_vector(conv[2:], y).astype(float)
    b_lo, b_hi = (int(b) for b in bin_index(conv[:2]))
    if two_theta_range is None:
        b_lo, b_hi = max(0, b_lo - 1), min(N_BINS - 1, b_hi + 1)
    covered = np.zeros(N_BINS, dtype=bool)
    covered[b_lo : b_hi + 1] = True
    return StickTarget(vector, covered, (float(conv[0]), float(conv[1])))


@dataclass
class SearchResult:
    """Best trials of every (space group, Z), their failures, and the work done."""

    candidates: list[StructureCandidate] = field(default_factory=list)
    failures: list[StructureCandidate] = field(default_factory=list)
    n_trials: int = 0
    seconds: float = 0.0


def _to_given_cell(
    frac_conv: NDArray[np.float64], t: NDArray[np.float64], lattice: Lattice, tol: float = 1e-3
) -> NDArray[np.int64]:
    """Indices of the conventional-cell atoms that are distinct in the given cell, and positions."""
    frac = frac_conv @ t
    frac -= np.floor(frac)
    keep: list[int] = []
    for i in range(frac.shape[0]):
        if keep:
            d = frac[keep] - frac[i]
            d -= np.round(d)
            if np.min(np.linalg.norm(d @ lattice.matrix, axis=1)) < tol:
                continue
        keep.append(i)
    return np.array(keep, dtype=np.int64)


class _TrialTimeout(BaseException):
    """Raised inside pyxtal when a trial runs past the search's deadline (not an ``Exception``,
    so pyxtal's own ``except Exception`` clauses cannot swallow it).
    """


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM; main thread on Unix only, else no limit).

    One pyxtal draw can take minutes when a composition barely fits its Wyckoff positions; the
    deadline between draws cannot stop it. A timer already set (e.g. pytest-timeout's) is
    restored afterwards, less the time spent.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise _TrialTimeout

    start = time.perf_counter()
    previous_handler = signal.signal(signal.SIGALRM, _raise)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:
            left = max(previous_delay - (time.perf_counter() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def composition_fits(
    number: int, composition: Composition | str | dict, z: Sequence[int], lattice: Lattice
) -> bool:
    """Whether the group's Wyckoff positions can hold the composition for one of the ``z`` (pyxtal).

    Counted in the conventional cell of ``lattice``, as :func:`symmetry_search` places atoms;
    a group pyxtal cannot judge counts as fitting (the search then finds out).
    """
    from pyxtal.symmetry import Group

    fu = formula_unit(composition)
    _, t, _ = conventional_setting(lattice)
    n_conv = round(abs(np.linalg.det(t)))
    try:
        group = Group(int(number))
        return any(bool(group.check_compatible([round(n * zz * n_conv) for n in fu.values()])[0]) for zz in z)
    except Exception:  # pyxtal's own failure: let the search try
        return True


def _random_trials(
    number: int,
    counts_conv: dict[str, int],
    conv_matrix: NDArray[np.float64],
    n_trials: int,
    rng: np.random.Generator,
    deadline: float | None = None,
) -> tuple[list[tuple[list[str], NDArray[np.float64]]], str | None]:
    """Pyxtal random crystals: (species, conventional fractional coordinates) of each trial.

    Stops drawing when ``time.perf_counter()`` passes ``deadline`` (one trial of a large cell in
    a high-symmetry group can take pyxtal tens of seconds).
    """
    from pyxtal import pyxtal
    from pyxtal.lattice import Lattice as PyxtalLattice
    from pyxtal.tolerance import Tol_matrix

    system = crystal_system_of(number)
    ltype = "hexagonal" if system == "trigonal" else system
    tm = Tol_matrix(prototype="atomic", factor=1.0)
    species, numbers = list(counts_conv), list(counts_conv.values())
    trials, reason = [], None
    for _ in range(n_trials):
        if deadline is not None and time.perf_counter() > deadline:
            reason = "time budget reached while drawing trials"
            break
        crystal = pyxtal()
        try:
            lat = PyxtalLattice.from_matrix(conv_matrix, ltype=ltype)
            with _time_limit(None if deadline is None else deadline - time.perf_counter()):
                crystal.from_random(3, number, species, numbers, lattice=lat, tm=tm, random_state=rng)
        except _TrialTimeout:
            reason = "time budget reached inside a pyxtal draw"
            break
        except Exception as exc:  # pyxtal raises several types for an impossible composition
            return trials, f"pyxtal: {exc}"
        if not crystal.valid:
            reason = "pyxtal found no arrangement within the distance tolerances"
            continue
        s = crystal.to_pymatgen()
        trials.append(([site.specie.symbol for site in s], np.asarray(s.frac_coords, float)))
    return trials, (reason if not trials else None)


def symmetry_search(
    lattice: Lattice,
    composition: Composition | str | dict,
    target: StickTarget,
    hypotheses: Iterable[SpaceGroupHypothesis | int],
    *,
    z: int | Sequence[int] | None = None,
    n_trials: int = 40,
    keep: int = 3,
    seed: int = 0,
    b_factor: float = DEFAULT_B_FACTOR,
    time_budget_s: float | None = None,
) -> SearchResult:
    """Random crystals in each hypothesis's space group on the given lattice, best first.

    Parameters
    ----------
    lattice
        The cell (any setting; the output structures are on it).
    composition
        Chemical formula (its reduced formula is the formula unit).
    target
        The input pattern (:func:`stick_target`).
    hypotheses
        Space-group hypotheses (or plain numbers), tried in order.
    z
        Formula units in the given cell: one value, several, or ``None`` for every Z the volume
        allows (:func:`.formula_units.candidate_z`, the three most plausible).
    n_trials
        Random crystals per (space group, Z).
    keep
        Best trials kept per (space group, Z).
    seed
        Seed of the random generator (one stream per (space group, Z)).
    b_factor
        Debye–Waller factor B (Å²) of the trial patterns.
    time_budget_s
        Stop drawing trials (and starting new (space group, Z) searches) after this many
        seconds; the trials drawn so far are scored.
    """
    start = time.perf_counter()
    result = SearchResult()
    fu = formula_unit(composition)
    if z is None:
        zs = candidate_z(fu, lattice.volume)
        if not zs.values:
            result.failures.append(StructureCandidate.failure(zs.reason or "no Z fits", "search"))
            return result
        z_values: list[int] = list(zs.values[:3])
    else:
        z_values = [int(z)] if np.isscalar(z) else [int(v) for v in z]  # type: ignore[arg-type]
    conv, t, _ = conventional_setting(lattice)
    n_conv = round(abs(np.linalg.det(t)))
    lo, hi = target.two_theta_range_mo
    mask = target.covered
    numbers = [hyp.number if isinstance(hyp, SpaceGroupHypothesis) else int(hyp) for hyp in hypotheses]
    pairs = [(number, zz) for zz in z_values for number in numbers]  # the most plausible Z first
    for k_pair, (number, zz) in enumerate(pairs):
        now = time.perf_counter()
        if time_budget_s is not None and now - start > time_budget_s:
            return _finish(result, start)
        prov: dict[str, Any] = {
            "space_group_hypothesis": number,
            "z": zz,
            "seed": seed,
            "n_trials": n_trials,
        }
        counts = {el.symbol: round(n * zz * n_conv) for el, n in fu.items()}
        rng = np.random.default_rng([seed, number, zz])
        # each (group, Z) left gets an equal share of the time left
        deadline = None
        if time_budget_s is not None:
            deadline = now + (start + time_budget_s - now) / (len(pairs) - k_pair)
        trials, why = _random_trials(number, counts, conv.matrix, n_trials, rng, deadline)
        if not trials:
            result.failures.append(
                StructureCandidate.failure(f"SG {number}, Z={zz}: {why}", "search", **prov)
            )
            continue
        species_ref, coords, kept_idx, seen = None, [], [], set()
        for species, frac_conv in trials:
            order = np.argsort(species, kind="stable")
            idx = _to_given_cell(frac_conv[order], t, lattice)
            sp = [species[i] for i in order[idx]]
            if species_ref is None:
                species_ref = sp
            if sp != species_ref:
                continue
            xyz = (frac_conv[order][idx] @ t) % 1.0
            key = tuple(np.round(xyz, 3).ravel() % 1.0)
            if key in seen:  # the same crystal drawn again (common without free parameters)
                continue
            seen.add(key)
            coords.append(xyz)
        if species_ref is None or not coords:
            reason = f"SG {number}, Z={zz}: no trial held the composition on the given cell"
            result.failures.append(StructureCandidate.failure(reason, "search", **prov))
            continue
        frac = np.stack(coords)
        two_theta, inten = trial_sticks(
            lattice, species_ref, frac, MO_KA, (lo, min(hi, 179.99)), b_factor
        )
        result.n_trials += frac.shape[0]
        vec = np.zeros((frac.shape[0], N_BINS))
        for k in range(frac.shape[0]):
            if np.any(inten[k] > 0):
                vec[k] = sticks_to_vector(two_theta, inten[k])
        cos = np.atleast_1d(
            cosine_similarity(vec * mask, np.broadcast_to(target.vector * mask, vec.shape))
        )
        cos = np.nan_to_num(cos, nan=0.0)
        for rank, k in enumerate(np.argsort(-cos, kind="stable")[:keep]):
            from pymatgen.core import Structure

            s = Structure(lattice, species_ref, frac[k])
            why = min_distance_violation(s)
            if why:
                result.failures.append(StructureCandidate.failure(why, "search", **prov, trial=int(k)))
                continue
            kept_idx.append(k)
            result.candidates.append(
                StructureCandidate(
                    structure=s,
                    space_group=None,
                    space_group_number=number,
                    source="search",
                    provenance={**prov, "trial": int(k), "trial_rank": rank},
                    figures_of_merit={"cosine": float(cos[k])},
                )
            )
    return _finish(result, start)


def _finish(result: SearchResult, start: float) -> SearchResult:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    for c in result.candidates:
        if c.structure is not None and c.space_group is None:
            try:
                c.space_group = SpacegroupAnalyzer(c.structure, symprec=1e-3).get_space_group_symbol()
                c.space_group_number = SpacegroupAnalyzer(c.structure, symprec=1e-3).get_space_group_number()
            except Exception:  # keep the hypothesis's number if spglib fails
                c.space_group = str(c.space_group_number)
    result.candidates.sort(key=lambda c: -c.figures_of_merit.get("cosine", 0.0))
    result.seconds = time.perf_counter() - start
    return result
