"""Settings of a dataset build, as ``MSONable`` dataclasses.

:class:`BuildConfig` fixes how each crystal is turned into training data (cell choice,
symmetry tolerance, Debye–Waller factor, grid size of DFT densities);
:class:`SplitConfig` fixes de-duplication and the train/val/test split. Both are recorded in
the stored documents (:meth:`BuildConfig.fingerprint`) and in every export, so a dataset always
says how it was made; changing a setting makes the next build redo the affected documents.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Literal, get_args

from monty.json import MSONable

__all__ = [
    "CRYSTAL_SYSTEMS",
    "BuildConfig",
    "CellChoice",
    "CrystalSystem",
    "SplitConfig",
    "normalise_crystal_systems",
]

CellChoice = Literal["primitive", "conventional"]
CrystalSystem = Literal[
    "triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"
]
#: The seven crystal systems, lower case.
CRYSTAL_SYSTEMS: tuple[str, ...] = get_args(CrystalSystem)


def normalise_crystal_systems(systems: str | list[str] | tuple[str, ...] | None) -> list[str] | None:
    """Lower-case, validated, sorted crystal systems; ``None`` or empty means all.

    Raises
    ------
    ValueError
        For a name that is not one of the seven crystal systems.
    """
    if systems is None:
        return None
    if isinstance(systems, str):
        systems = [systems]
    out = sorted({s.strip().lower() for s in systems})
    unknown = [s for s in out if s not in CRYSTAL_SYSTEMS]
    if unknown:
        raise ValueError(
            f"Unknown crystal system(s) {', '.join(unknown)}; choose from {', '.join(CRYSTAL_SYSTEMS)}."
        )
    return out or None


@dataclass
class BuildConfig(MSONable):
    """How one structure becomes a training example.

    Parameters
    ----------
    cell
        Canonical cell of the density: ``"primitive"`` (primitive standard setting, default)
        or ``"conventional"``.
    symprec
        Symmetry tolerance (Å) for the space group and the canonical cell.
    b_factor
        Isotropic Debye–Waller factor B (Å²) of both the pattern and the IAM density (the
        pattern is always computed on the model's Mo Kα axis).
    grid_n
        Grid points per axis of stored DFT densities (the paper's 50).
    crystal_systems
        Crystal systems to keep (``None``: all).
    """

    cell: CellChoice = "primitive"
    symprec: float = 0.1
    b_factor: float = 1.0
    grid_n: int = 50
    crystal_systems: list[str] | None = None

    def __post_init__(self) -> None:
        if self.cell not in get_args(CellChoice):
            raise ValueError(f"Unknown cell choice {self.cell!r}; use 'primitive' or 'conventional'.")
        if not self.symprec > 0:
            raise ValueError(f"symprec must be positive, got {self.symprec}.")
        if not self.b_factor > 0:
            raise ValueError(
                f"b_factor must be > 0 Å² (the IAM density's constant term needs B > 0), "
                f"got {self.b_factor}."
            )
        if int(self.grid_n) < 2:
            raise ValueError(f"grid_n must be at least 2, got {self.grid_n}.")
        self.grid_n = int(self.grid_n)
        self.crystal_systems = normalise_crystal_systems(self.crystal_systems)

    def fingerprint(self) -> str:
        """Short hash of the settings that change a built document (not the system filter)."""
        d = asdict(self)
        d.pop("crystal_systems")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class SplitConfig(MSONable):
    """De-duplication and split rules.

    Parameters
    ----------
    val_fraction, test_fraction
        Share of the hash range sent to validation and test, for crystals without a
        ``seed_split``. Only stable crystals (known ``e_above_hull`` ≤ ``stable_tolerance``)
        can land there; the others always go to training.
    stable_tolerance
        Largest ``e_above_hull`` (eV/atom) counted as stable (0 up to rounding).
    salt
        Mixed into the hash of (reduced formula, space group); change it for another split.
    honour_seed_split
        Use a crystal's ``seed_split`` (the paper's published lists) where it has one.
    """

    val_fraction: float = 0.05
    test_fraction: float = 0.05
    stable_tolerance: float = 1e-6
    salt: str = "crystalnet-split-v1"
    honour_seed_split: bool = True

    def __post_init__(self) -> None:
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}.")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError("val_fraction + test_fraction must be below 1.")
        if self.stable_tolerance < 0:
            raise ValueError("stable_tolerance must be >= 0.")
