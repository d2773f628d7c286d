"""The gelsim command line and the import-time promise."""

import json
import re
import subprocess
import sys

import pytest

from gelsim.cli import main


def _import_seconds(modules):
    """Fastest of three fresh interpreters' time to import ``modules``, and whether numba got loaded."""
    code = (f"import sys, time; t = time.perf_counter(); import {modules}; dt = time.perf_counter() - t; "
            "print(dt, 'numba' in sys.modules or 'sklearn' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(3)]
    return min(float(r[0]) for r in runs), any(r[1] == "True" for r in runs)


def test_import_is_fast_and_does_not_load_numba():
    """``import gelsim`` loads no Numba and costs little beyond the numpy and scipy.sparse it needs; the two
    are timed in the same conditions, so a loaded machine slows both."""
    seconds, numba_loaded = _import_seconds("gelsim")
    assert not numba_loaded, "import gelsim must import neither numba nor scikit-learn"
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


@pytest.mark.parametrize("command, message", [
    (["validate", "--out", "{file}"], "exists and is not a folder"),
    (["validate", "--out", "{file}/sub"], "Not a directory"),
    (["generate", "random", "{file}/net.npz"], "is not an existing folder"),
    (["generate", "random", "{tmp}"], "is a folder"),
    (["generate", "jackson", "{tmp}/j.npz", "--cells", "100000"], r"jackson\(100000\) \(dense routing\) needs about"),
    (["generate", "random", "{tmp}/big.npz", "--cells", "3000000000"], r"random_recurrent\(3000000000"),
    (["solve", "{tmp}/missing.npz"], "No such file"),
    (["solve", "{file}"], "not a gelsim network file"),
])
def test_every_failure_is_one_line_and_status_2(tmp_path, capsys, command, message):
    """Each of these raised a traceback (or was killed by the out-of-memory killer) before."""
    afile = tmp_path / "afile"
    afile.write_text("not a network")
    argv = [part.format(file=afile, tmp=tmp_path) for part in command]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(message, err), err
    assert err.startswith(f"gelsim {command[0]}: error:")


def test_max_rows_must_not_be_negative(tmp_path, capsys):
    path = str(tmp_path / "net.npz")
    assert main(["generate", "random", path, "--cells", "30"]) == 0
    with pytest.raises(SystemExit) as stop:
        main(["solve", path, "--max-rows", "-1"])
    assert stop.value.code == 2 and "--max-rows: must be a whole number >= 0" in capsys.readouterr().err
