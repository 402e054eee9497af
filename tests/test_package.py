import subprocess
import sys

from click.testing import CliRunner

import pymatgen_crystalnet
from pymatgen_crystalnet.cli import main


def test_import_is_cheap():
    code = (
        "import sys, pymatgen_crystalnet; "
        "heavy = [m for m in ('torch', 'jobflow', 'maggma', 'pymatgen', 'xraydb') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_and_cli_help():
    assert pymatgen_crystalnet.__version__
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "CrystalNet" in result.output
