"""Atomic models from densities and patterns: decode, space-group hypotheses, symmetry search.

Modules are imported on demand (nothing is loaded here): :mod:`.peaks` and :mod:`.decode`
turn a density grid into atoms, :mod:`.extinction` and :mod:`.spacegroups` read space groups
from systematic absences, :mod:`.search` runs the pyxtal symmetry-constrained random search,
and :mod:`.candidate_pool` holds the candidates of every source in one de-duplicated pool.
"""
