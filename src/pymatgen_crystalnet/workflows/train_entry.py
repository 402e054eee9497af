"""Entry point of :class:`~.jobs.TrainMaker` under ``torchrun``: one training per process.

``python -m torch.distributed.run --nproc-per-node N -m pymatgen_crystalnet.workflows.train_entry
train --data … --out …`` runs :func:`pymatgen_crystalnet.training.entry.main` (the flags of
``crystalnet train``) in each process, without relying on the ``crystalnet`` script being on
``PATH`` and without importing the command line.
"""

from __future__ import annotations

from pymatgen_crystalnet.training.entry import main

if __name__ == "__main__":
    main()
