"""The gelsim command line and the import-time promise."""

import json
import subprocess
import sys

import pytest

from gelsim.cli import main


def _import_seconds(modules):
    """Fastest of three fresh interpreters' time to import ``modules``, and whether numba got loaded."""
    code = (f"import sys, time; t = time.perf_counter(); import {modules}; dt = time.perf_counter() - t; "
            "print(dt, 'numba' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(3)]
    return min(float(r[0]) for r in runs), any(r[1] == "True" for r in runs)


def test_import_is_fast_and_does_not_load_numba():
    """``import gelsim`` loads no Numba and costs little beyond the numpy and scipy.sparse it needs; the two
    are timed in the same conditions, so a loaded machine slows both."""
    seconds, numba_loaded = _import_seconds("gelsim")
    assert not numba_loaded, "import gelsim must not import numba"
    baseline, _ = _import_seconds("numpy, scipy.sparse")
    assert seconds < 2 * baseline + 0.5, (seconds, baseline)


def test_generate_solve_simulate(tmp_path, capsys):
    path = str(tmp_path / "net.npz")
    assert main(["generate", "random", path, "--cells", "30", "--seed", "2"]) == 0
    assert "Network(N=30" in capsys.readouterr().out
    assert main(["solve", path, "--max-rows", "3"]) == 0
    table = capsys.readouterr().out
    assert "converged=True" in table and "27 more cells" in table
    assert main(["solve", path, "--json"]) == 0
    solved = json.loads(capsys.readouterr().out)
    assert len(solved["q"]) == 30 and solved["converged"]
    assert main(["simulate", path, "--duration", "200", "--replications", "2", "--json", "--no-progress"]) == 0
    simulated = json.loads(capsys.readouterr().out)
    assert len(simulated["q_se"]) == 30 and simulated["events"] > 0


@pytest.mark.parametrize("argv, fragment", [
    (["solve", "missing.npz"], "No such file"),
    (["simulate", "missing.npz"], "No such file"),
])
def test_errors_are_reported_not_raised(argv, fragment, capsys):
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_bad_duration_is_a_clean_error(tmp_path, capsys):
    path = str(tmp_path / "net.npz")
    main(["generate", "line", path])
    assert main(["simulate", path, "--duration", "-5"]) == 2
    assert "'duration' parameter of simulate must be a positive" in capsys.readouterr().err


def test_console_script_help():
    out = subprocess.run([sys.executable, "-m", "gelsim.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "validate" in out.stdout
