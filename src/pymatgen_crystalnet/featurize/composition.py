"""The model's composition input: a 118-vector indexed by atomic number (H at index 0).

Ablation modes (docs/science.md, 'The composition vector'; the paper's Table 2):

``full``
    The atomic fractions of the formula (H2O → 0.667 at H, 0.333 at O).
``no_ratios``
    1 for each element present.
``drop_element``
    As ``no_ratios``, then one present element, chosen at random, set to 0 unless it is the
    only one.
``none``
    All zeros: the network is given no formula.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Composition, Element

__all__ = [
    "N_ELEMENTS",
    "CompositionMode",
    "as_composition",
    "composition_vector",
    "infer_mode",
]

#: Length of the composition vector (H … Og).
N_ELEMENTS: int = 118

CompositionMode = Literal["full", "no_ratios", "drop_element", "none"]
_MODES: tuple[str, ...] = get_args(CompositionMode)


def as_composition(composition: Composition | str | dict) -> Composition:
    """Return a pymatgen ``Composition`` from a ``Composition``, a formula or a mapping.

    Raises
    ------
    ValueError
        If the formula cannot be parsed, names an unknown element, is empty, or has negative
        or non-finite amounts.
    """
    if isinstance(composition, Composition):
        comp = composition
    else:
        try:
            comp = Composition(composition)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"Cannot read composition {composition!r}: {exc}") from None
    if len(comp) == 0 or comp.num_atoms <= 0:
        raise ValueError(f"Composition {composition!r} is empty.")
    for el, amt in comp.items():
        if not np.isfinite(amt) or amt < 0:
            raise ValueError(f"Composition {composition!r} has an invalid amount {amt} of {el}.")
        symbol = getattr(el, "symbol", str(el))
        if not Element.is_valid_symbol(symbol):
            raise ValueError(f"Composition {composition!r} has an unknown element {symbol!r}.")
    return comp


def composition_vector(
    composition: Composition | str | dict | None,
    mode: CompositionMode = "full",
    *,
    rng: np.random.Generator | int | None = None,
) -> NDArray[np.float32]:
    """Encode a composition as the 118-vector of the given ablation mode.

    Parameters
    ----------
    composition
        A pymatgen ``Composition``, a formula string such as ``"NaCl"``, a mapping, or ``None``
        (only with ``mode="none"``).
    mode
        One of ``"full"``, ``"no_ratios"``, ``"drop_element"``, ``"none"``.
    rng
        Random generator or seed for ``drop_element`` (which element is dropped).

    Returns
    -------
    numpy.ndarray
        Shape ``(118,)``, float32.
    """
    if mode not in _MODES:
        raise ValueError(f"Unknown composition mode {mode!r}; choose one of {', '.join(_MODES)}.")
    vec = np.zeros(N_ELEMENTS, dtype=np.float64)
    if mode == "none":
        return vec.astype(np.float32)
    if composition is None:
        raise ValueError(
            f"Composition mode {mode!r} needs a composition; use mode='none' for none."
        )
    comp = as_composition(composition)
    amounts = {}
    for el, amt in comp.items():
        z = Element(el.symbol).Z
        amounts[z] = amounts.get(z, 0.0) + float(amt)
    zs = np.array(sorted(amounts), dtype=np.int64)
    if mode == "full":
        total = sum(amounts.values())
        vec[zs - 1] = [amounts[z] / total for z in zs]
    else:
        vec[zs - 1] = 1.0
        if mode == "drop_element" and zs.size > 1:
            gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
            vec[gen.choice(zs) - 1] = 0.0
    return vec.astype(np.float32)


def infer_mode(composition: Composition | str | dict | None) -> CompositionMode:
    """Ablation mode a user's input implies: ``none`` for no input, ``no_ratios`` for a list of
    elements (a string such as ``"Na Cl"`` / ``"Na,Cl"`` or a sequence of symbols), else ``full``.
    """
    if composition is None:
        return "none"
    if isinstance(composition, (list, tuple, set)):
        return "no_ratios"
    if isinstance(composition, str) and ("," in composition or " " in composition.strip()):
        parts = [p for p in composition.replace(",", " ").split() if p]
        if all(p.isalpha() and p[0].isupper() and len(p) <= 2 for p in parts) and len(parts) > 1:
            return "no_ratios"
    return "full"
