"""Atomic models from densities and patterns, and their refinement against a pattern.

Modules are imported on demand (nothing is loaded here):

- :mod:`.peaks` and :mod:`.decode` turn a density grid into atoms (with :mod:`.formula_units`,
  :mod:`.assign` and :mod:`.symmetrize`);
- :mod:`.extinction` and :mod:`.spacegroups` read space groups from systematic absences;
- :mod:`.search` runs the pyxtal symmetry-constrained random search;
- :mod:`.candidate_pool` holds the candidates of every source in one de-duplicated pool;
- :mod:`.wyckoff_params` writes the coordinates of a symmetric crystal as ``x = x0 + A p`` over
  its free Wyckoff parameters, :mod:`.forward_torch` is the differentiable (torch) twin of
  :func:`pymatgen_crystalnet.physics.powder_batch.batch_sticks`, :mod:`.stick_match` pairs
  computed reflections with the sticks of a target pattern, :mod:`.contacts` checks interatomic
  distances, and :mod:`.refine` refines coordinates, B and scale by least squares
  (:mod:`.stick_problem`);
- :mod:`.pipeline` (``solve_structures``, settings in :mod:`.config`, result in
  :mod:`.solution`, stages in :mod:`.pipeline_steps`) runs all of it for one pattern: densities
  decoded (written on the pattern's cell by :mod:`.transfer`) and the search in one pool scored
  against the sticks (:mod:`.stick_scoring`), refined and ranked by Rwp;
- for a measured profile, :mod:`.profile_model` (pseudo-Voigt peaks on the cell's reflections,
  Kα doublet, background; torch), :mod:`.pawley` (intensities extracted on the cell, result in
  :mod:`.pawley_result`), :mod:`.rietveld` (a crystal refined against the counts, its
  least-squares problem in :mod:`.rietveld_problem`; both fits use :mod:`.profile_lm`) and
  :mod:`.profile_pipeline` (``solve_structures_from_profile``: Pawley → sticks →
  :mod:`.pipeline` → Rietveld).
"""
