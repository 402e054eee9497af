"""Entry point of :class:`~.jobs.TrainMaker` under ``torchrun``: the ``crystalnet`` command line.

``python -m torch.distributed.run --nproc-per-node N -m pymatgen_crystalnet.workflows.train_entry
train --data … --out …`` runs ``crystalnet train`` in each process, without relying on the
``crystalnet`` script being on ``PATH``.
"""

from __future__ import annotations

from pymatgen_crystalnet.cli import main

if __name__ == "__main__":
    main()
