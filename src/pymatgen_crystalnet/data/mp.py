"""The Materials Project as a structure source, through mp-api's ``MPRester``.

Structures come from the summary endpoint, filtered by crystal system and stability; with
``charge_densities=True`` each material's DFT charge density (``get_charge_density_from_material_id``)
is regridded with mp-pyrho to n³ in e/Å³ on the cell of the calculation, and the record takes
that calculation's structure so that density and structure agree. The build then maps the
grid onto the canonical cell (:mod:`.dft`).

The client is only ever used through ``materials.summary.search`` and
``get_charge_density_from_material_id``, so any object offering those two (a recorded
response, a test double) can stand in for ``MPRester``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import Any

from pymatgen_crystalnet.data.config import normalise_crystal_systems
from pymatgen_crystalnet.data.schema import GridDoc, StructureRecord, encode_array
from pymatgen_crystalnet.physics.cells import grid_electrons

__all__ = ["MP_FIELDS", "fetch_mp", "mp_client"]

logger = logging.getLogger(__name__)

#: Summary fields requested from the Materials Project.
MP_FIELDS: list[str] = [
    "material_id", "formula_pretty", "structure", "symmetry", "energy_above_hull",
    "formation_energy_per_atom", "nsites",
]


def mp_client(api_key: str | None = None) -> Any:
    """An ``MPRester`` with the key given or ``MP_API_KEY`` from the environment.

    Raises
    ------
    ValueError
        If neither gives a key.
    """
    key = api_key or os.environ.get("MP_API_KEY")
    if not key:
        raise ValueError(
            "The Materials Project needs an API key: pass api_key or set MP_API_KEY "
            "(https://next-gen.materialsproject.org/api)."
        )
    from mp_api.client import MPRester

    return MPRester(key)


def _get(doc: Any, name: str, default: Any = None) -> Any:
    if isinstance(doc, dict):
        return doc.get(name, default)
    return getattr(doc, name, default)


def _system_value(system: str) -> Any:
    """The crystal system as mp-api expects it (emmet's enum where available)."""
    try:
        from emmet.core.symmetry import CrystalSystem

        return CrystalSystem(system.capitalize())
    except Exception:  # emmet missing or another version: the capitalised name
        return system.capitalize()


def _record(doc: Any, structure: Any, has_density: bool) -> StructureRecord:
    symmetry = _get(doc, "symmetry") or {}
    system = _get(symmetry, "crystal_system")
    system = getattr(system, "value", system)
    return StructureRecord(
        material_id=str(_get(doc, "material_id")),
        formula=_get(doc, "formula_pretty") or structure.composition.reduced_formula,
        structure=structure.as_dict(),
        crystal_system=str(system).lower() if system else None,
        spacegroup_number=_get(symmetry, "number"),
        nsites=len(structure),
        e_above_hull=_get(doc, "energy_above_hull"),
        formation_energy_per_atom=_get(doc, "formation_energy_per_atom"),
        source="materials_project",
        has_dft_density=has_density,
    )


def fetch_mp(
    client: Any = None,
    *,
    api_key: str | None = None,
    crystal_systems: Iterable[str] | None = None,
    stable_only: bool = False,
    max_e_above_hull: float | None = None,
    max_sites: int | None = None,
    material_ids: list[str] | None = None,
    limit: int | None = None,
    charge_densities: bool = False,
    grid_n: int = 50,
) -> Iterator[tuple[StructureRecord, GridDoc | None]]:
    """Records (and DFT grids) from the Materials Project.

    Parameters
    ----------
    client
        An ``MPRester`` or an object with the same two methods; default: one made with
        :func:`mp_client` (``api_key`` or ``MP_API_KEY``).
    crystal_systems
        One search per system (``None``: all systems in one search).
    stable_only
        Only materials on the hull (``is_stable``).
    max_e_above_hull
        Upper bound of ``energy_above_hull`` (eV/atom).
    max_sites
        Upper bound of the number of sites.
    material_ids
        Restrict to these ids.
    limit
        Stop after this many records.
    charge_densities
        Also download each material's charge density and regrid it to ``grid_n``³.
        Materials without one keep the IAM density.

    Yields
    ------
    tuple
        ``(StructureRecord, GridDoc or None)``; the grid is on the record's own cell.
    """
    from pymatgen_crystalnet.data.dft import regrid

    own = client is None
    client = client if client is not None else mp_client(api_key)
    systems = normalise_crystal_systems(list(crystal_systems) if crystal_systems else None)
    criteria: dict[str, Any] = {}
    if stable_only:
        criteria["is_stable"] = True
    if max_e_above_hull is not None:
        criteria["energy_above_hull"] = (0.0, float(max_e_above_hull))
    if max_sites is not None:
        criteria["num_sites"] = (1, int(max_sites))
    if material_ids:
        criteria["material_ids"] = list(material_ids)
    count = 0
    try:
        for system in systems or [None]:
            kwargs = dict(criteria, fields=list(MP_FIELDS))
            if system is not None:
                kwargs["crystal_system"] = _system_value(system)
            logger.info("Materials Project search: %s", {k: v for k, v in kwargs.items()
                                                         if k != "fields"})
            for doc in client.materials.summary.search(**kwargs):
                if limit is not None and count >= limit:
                    return
                structure = _get(doc, "structure")
                if structure is None:
                    logger.warning("%s: no structure in the response", _get(doc, "material_id"))
                    continue
                if isinstance(structure, dict):
                    from pymatgen.core import Structure

                    structure = Structure.from_dict(structure)
                grid = None
                if charge_densities:
                    mid = str(_get(doc, "material_id"))
                    chgcar = client.get_charge_density_from_material_id(mid)
                    if chgcar is None:
                        logger.info("%s: no charge density; the IAM density will be used", mid)
                    else:
                        structure = chgcar.structure
                        data = regrid(chgcar, grid_n)
                        grid = GridDoc(
                            material_id=mid, n=grid_n, cell="as_given",
                            lattice=structure.lattice.matrix.tolist(), source="dft",
                            electrons=grid_electrons(data, structure.volume),
                            grid=encode_array(data),
                        )
                count += 1
                yield _record(doc, structure, grid is not None), grid
    finally:
        if own and hasattr(client, "__exit__"):
            client.__exit__(None, None, None)
