"""Atomic models from densities and patterns, and their refinement against a pattern.

Modules are imported on demand (nothing is loaded here): :mod:`.wyckoff_params` writes the
coordinates of a symmetric crystal as ``x = x0 + A p`` over its free Wyckoff parameters,
:mod:`.forward_torch` is the differentiable (torch) twin of
:func:`pymatgen_crystalnet.physics.powder_batch.batch_sticks`, :mod:`.stick_match` pairs
computed reflections with the sticks of a target pattern, :mod:`.contacts` checks interatomic
distances, and :mod:`.refine` refines coordinates, B and scale by least squares.
"""
