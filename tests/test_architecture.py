"""The package's layers, kept by import-linter's contracts in pyproject.toml, and its rooms' sizes."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Files of jitted kernels only (arrays in, arrays out), which may be longer than the rest.
KERNEL_FILES = {"gelsim/simulation/_kernels.py", "gelsim/learn/_conv_kernels.py"}
MAX_LINES = 600


def _lint_imports(package_parent):
    """Run the contracts of pyproject.toml on the ``gelsim`` package found in ``package_parent``."""
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    env = {"PYTHONPATH": str(package_parent), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([exe, "--no-cache", "--config", str(ROOT / "pyproject.toml")], cwd=package_parent,
                          capture_output=True, text=True, env=env, timeout=300)


def test_layer_contracts_are_kept():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The check can fail: a copy of the package in which the steady-state layer imports a classifier."""
    shutil.copytree(ROOT / "gelsim", tmp_path / "gelsim", ignore=shutil.ignore_patterns("__pycache__"))
    cells = tmp_path / "gelsim" / "steady" / "cells.py"
    cells.write_text(cells.read_text() + "\nfrom ..learn import mlsrnn  # noqa\n")
    run = _lint_imports(tmp_path)
    assert run.returncode != 0
    assert "gelsim.steady.cells -> gelsim.learn.mlsrnn" in run.stdout, run.stdout


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "gelsim").rglob("*.py")))
def test_modules_are_of_a_readable_size(path):
    lines = (ROOT / path).read_text().count("\n")
    assert path in KERNEL_FILES or lines <= MAX_LINES, f"{path} has {lines} lines (at most {MAX_LINES})"
