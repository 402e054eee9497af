"""Physics core: numpy (and pymatgen) only, no torch at import time.

Modules
-------
units
    Wavelengths and conversions between 2θ, d-spacing and Q.
form_factors
    Waasmaier–Kirfel neutral-atom X-ray form factors (from xraydb).
iam
    Independent-atom-model electron density: exact point values and fast grids (the public
    face of ``iam_terms`` (checked inputs and the term split), ``iam_points`` (plans and
    exact point values) and ``iam_grid`` (fast grids)).
iam_torch
    The same point evaluation in torch, batched over crystals (imported on demand).
cells
    Canonical cell choice and conversion between CMED grids and pymatgen ``VolumetricData``.
powder
    Powder patterns from structures (pymatgen ``XRDCalculator``).
reflections
    Reflections of a lattice in a 2θ range, ordered and merged as pymatgen does.
powder_batch
    The same stick patterns for many trial crystals at once (vectorised).
forward
    Powder patterns from a density grid on a lattice (FFT forward model).
agreement
    Pattern agreement metrics (cosine, Rwp).
powder_profile
    The measured powder profile type (``PowderProfile``), which ``io.patterns`` reads.
formula_units
    Plausible numbers of formula units ``Z`` for a cell volume and a formula.
"""
