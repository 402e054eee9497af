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

Checked input
-------------
:func:`parse_composition` is the one entry point that turns what a user gives (a formula, a
list of elements, a mapping, a ``Composition``) into a ``Composition``, refusing with one
:class:`CompositionError` (a ``ValueError``) naming the problem: an element whose amount is
zero or rounds to zero (``Ba0O``: pymatgen would drop the Ba without a word), a NaN,
infinite or negative amount, an unknown element symbol (pymatgen reads ``Xx`` as a dummy
species), an empty formula, and, by default, an element without X-ray form-factor data
(Z > 98, e.g. Es, Og), which the density and pattern calculations need.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Composition, Element

from pymatgen_crystalnet.physics.form_factors import MAX_Z, has_form_factor

__all__ = [
    "N_ELEMENTS",
    "CompositionError",
    "CompositionMode",
    "as_composition",
    "composition_vector",
    "infer_mode",
    "parse_composition",
]

#: Length of the composition vector (H … Og).
N_ELEMENTS: int = 118

CompositionMode = Literal["full", "no_ratios", "drop_element", "none"]
_MODES: tuple[str, ...] = get_args(CompositionMode)


class CompositionError(ValueError):
    """A composition that cannot be used: the message names the input and the problem."""


_SYMBOL = re.compile(r"[A-Z][a-z]*")


def _fail(given: Any, problem: str) -> CompositionError:
    text = repr(given)
    return CompositionError(f"Composition {text if len(text) <= 80 else text[:79] + '…'}: {problem}")


def _amount(given: Any, element: str, value: Any) -> float:
    try:
        amount = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _fail(given, f"the amount of {element} is {value!r}, not a number.") from None
    if not np.isfinite(amount):
        raise _fail(given, f"the amount of {element} is {amount}; amounts must be finite numbers.")
    if amount <= Composition.amount_tolerance:
        what = "negative" if amount < 0 else "zero" if amount == 0 else "too small (≤ 1e-8)"
        raise _fail(
            given,
            f"the amount of {element} is {what} ({amount:g}); every element given needs a positive "
            "amount (leave out an element that is absent).",
        )
    return amount


def _z(given: Any, symbol: str) -> int:
    if not Element.is_valid_symbol(symbol):
        raise _fail(given, f"unknown element {symbol!r} (not a chemical element symbol).")
    return int(Element(symbol).Z)


def _from_mapping(given: Any, mapping: Mapping[Any, Any]) -> Composition:
    amounts: dict[str, float] = {}
    for key, value in mapping.items():
        symbol = str(getattr(key, "symbol", key)).strip()
        _z(given, symbol)
        amounts[symbol] = amounts.get(symbol, 0.0) + _amount(given, symbol, value)
    return Composition(amounts)


def _from_formula(given: Any, text: str) -> Composition:
    try:
        comp = Composition(text)
    except (ValueError, KeyError, TypeError, OverflowError, IndexError) as exc:
        raise _fail(given, f"not a chemical formula ({exc}).") from None
    in_text = {_z(given, sym): sym for sym in _SYMBOL.findall(text)}
    kept = {int(getattr(el, "Z", 0) or 0) for el in comp}
    for z, sym in in_text.items():
        if z not in kept:
            raise _fail(
                given,
                f"the amount of {sym} is zero or rounds to zero, so it would be dropped silently; "
                "give a positive amount or leave the element out.",
            )
    return comp


def parse_composition(composition: Any, *, require_form_factors: bool = True) -> Composition:
    """Turn a user's composition into a checked pymatgen ``Composition``.

    Parameters
    ----------
    composition
        A formula (``"BaTiO3"``, ``"Ca3(PO4)2"``), a list of elements as one string
        (``"Na Cl"``, ``"Na,Cl"``) or a sequence of symbols (each counted once), a mapping of
        symbol (or ``Element``/``Species``) to amount, or a ``Composition``.
    require_form_factors
        Also refuse elements without Waasmaier–Kirfel X-ray form factors (Z > 98), which the
        IAM density and the powder pattern need (default). The composition vector alone
        covers all 118 elements.

    Returns
    -------
    pymatgen.core.Composition
        Every element real, every amount finite and positive.

    Raises
    ------
    CompositionError
        (a ``ValueError``) For no input, an empty or unparsable formula, an unknown element,
        an element whose amount is zero, negative, NaN or infinite (or so small that pymatgen
        would drop it), or, with ``require_form_factors``, an element without form-factor
        data. One message naming the problem.
    """
    given = composition
    if composition is None:
        raise _fail(given, "no composition given.")
    if isinstance(composition, Composition):
        comp = _from_mapping(given, dict(composition.items()))
    elif isinstance(composition, Mapping):
        comp = _from_mapping(given, composition)
    elif isinstance(composition, (list, tuple, set, frozenset)):
        comp = _from_mapping(given, {str(getattr(el, "symbol", el)).strip(): 1 for el in composition})
    elif isinstance(composition, str):
        text = composition.strip()
        if not text:
            raise _fail(given, "the formula is empty.")
        if infer_mode(text) == "no_ratios":
            comp = _from_mapping(given, {sym: 1 for sym in text.replace(",", " ").split()})
        else:
            comp = _from_formula(given, text)
    else:
        raise _fail(given, f"expected a formula, a list of elements, a mapping or a Composition, "
                           f"not {type(composition).__name__}.")
    if len(comp) == 0:
        raise _fail(given, "empty (no elements).")
    for el, amt in comp.items():
        symbol = str(getattr(el, "symbol", el))
        z = _z(given, symbol)
        _amount(given, symbol, amt)
        if require_form_factors and not has_form_factor(z):
            raise _fail(
                given,
                f"{symbol} (Z = {z}) has no X-ray form-factor data (Waasmaier–Kirfel coefficients "
                f"exist for Z = 1 to {MAX_Z}), so its density and pattern cannot be computed.",
            )
    return comp


def as_composition(composition: Composition | str | dict) -> Composition:
    """Return a checked ``Composition`` (:func:`parse_composition` without the form-factor check).

    Raises
    ------
    CompositionError
        (a ``ValueError``) As :func:`parse_composition`.
    """
    return parse_composition(composition, require_form_factors=False)


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
