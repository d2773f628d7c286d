"""The ``gelsim`` command line: generate, solve, simulate and validate networks."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np


def main(argv=None):
    """Entry point of the ``gelsim`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except (ValueError, OSError, MemoryError) as exc:
        # One line, no traceback: a bad argument, a file that cannot be read or written, a size refused.
        print(f"gelsim {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _parser():
    p = argparse.ArgumentParser(prog="gelsim", description="Gelenbe random neural network toolkit.")
    sub = p.add_subparsers(dest="command")

    g = sub.add_parser("generate", help="write a generated network to a .npz file")
    g.add_argument("kind", choices=["random", "feedforward", "line", "mm1", "jackson"])
    g.add_argument("output", help="path of the .npz file to write")
    g.add_argument("--cells", type=int, default=100, help="number of cells (random, jackson)")
    g.add_argument("--layers", type=int, nargs="+", default=[10, 8, 4], help="layer sizes (feedforward)")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=_cmd_generate)

    s = sub.add_parser("solve", help="solve Eq. (1) for a saved network and print q")
    s.add_argument("network", help="a .npz file written by Network.save or 'gelsim generate'")
    s.add_argument("--tol", type=float, default=1e-12)
    s.add_argument("--json", action="store_true", help="print machine-readable JSON")
    s.add_argument("--max-rows", type=_count, default=20, help="cells shown in the table (all with --json)")
    s.set_defaults(func=_cmd_solve)

    m = sub.add_parser("simulate", help="simulate the spikes of a saved network")
    m.add_argument("network")
    m.add_argument("--duration", type=float, default=1e4, help="simulated time per replication")
    m.add_argument("--warmup", type=float, default=None, help="discarded start (default duration/100)")
    m.add_argument("--replications", type=int, default=8)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--json", action="store_true")
    m.add_argument("--max-rows", type=_count, default=20)
    m.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    m.set_defaults(func=_cmd_simulate)

    v = sub.add_parser("validate", help="run the validation suites and write an HTML report")
    v.add_argument("--out", default="report", help="output folder (default: report/)")
    v.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    v.add_argument("--suite", action="append", help="run only this suite (repeatable)")
    v.add_argument("--seed", type=int, default=2026, help="base seed of every suite")
    v.set_defaults(func=_cmd_validate)
    return p


def _count(text):
    """An argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}")
    return value


def _writable_file(path):
    """Raise ``ValueError`` unless ``path`` can be written as a file (checked before any long work)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give the path of a file to write.")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {path}: {folder} is not an existing folder.")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"cannot write {path}: the folder {folder} is not writable.")


def _writable_folder(path):
    """Create ``path`` as a folder (or use it) and check that a file can be written there."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} exists and is not a folder.")
    path.mkdir(parents=True, exist_ok=True)   # NotADirectoryError, PermissionError: reported by main
    if not os.access(path, os.W_OK):
        raise ValueError(f"--out {path} is not writable.")


def _cmd_generate(args):
    from . import generators

    _writable_file(args.output)
    makers = {
        "random": lambda: generators.random_recurrent(args.cells, rng=args.seed),
        "feedforward": lambda: generators.feedforward(args.layers, rng=args.seed),
        "line": generators.line_tandem,
        "mm1": generators.mm1,
        "jackson": lambda: generators.jackson(args.cells, rng=args.seed),
    }
    net = makers[args.kind]()
    net.save(args.output)
    print(f"wrote {net!r} to {args.output}")


def _cmd_solve(args):
    from .network import Network
    from .steady import solve

    net = Network.load(args.network)
    ss = solve(net, tol=args.tol)
    columns = {"q": ss.q, "saturated": ss.saturated, "mean_potential": ss.mean_potential,
               "firing_rate": ss.firing_rate}
    summary = dict(converged=ss.converged, iterations=ss.iterations, residual=ss.residual,
                   saturated=int(ss.saturated.sum()), n_cells=net.n_cells)
    _emit(args, summary, columns)


def _cmd_simulate(args):
    from .network import Network
    from .simulation import simulate

    net = Network.load(args.network)
    res = simulate(net, duration=args.duration, warmup=args.warmup, replications=args.replications,
                   rng=args.seed, progress=False if args.no_progress else None)  # None: a bar once the run lasts 2 s
    columns = {"q": res.q, "q_se": res.q_se, "saturated": res.saturated, "mean_potential": res.mean_potential,
               "firing_rate": res.firing_rate}
    summary = dict(events=res.events, duration=res.duration, replications=res.replications,
                   wall_time=res.wall_time, saturated=int(res.saturated.sum()), n_cells=net.n_cells)
    _emit(args, summary, columns)


def _cmd_validate(args):
    from .validation.report import run_validation

    _writable_folder(args.out)
    return run_validation(out=args.out, quick=args.quick, suites=args.suite, seed=args.seed)


def _emit(args, summary, columns):
    if args.json:
        payload = dict(summary, **{k: _jsonable(v) for k, v in columns.items()})
        print(json.dumps(payload, indent=1))
        return
    print("  ".join(f"{k}={_fmt(v)}" for k, v in summary.items()))
    names = list(columns)
    print(f"{'cell':>6}  " + "  ".join(f"{n:>14}" for n in names))
    n = len(next(iter(columns.values())))
    for i in range(min(n, args.max_rows)):
        print(f"{i:>6}  " + "  ".join(f"{_fmt(columns[c][i]):>14}" for c in names))
    if n > args.max_rows:
        print(f"... {n - args.max_rows} more cells (use --max-rows or --json)")


def _fmt(v):
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.6g}"


def _jsonable(a):
    a = np.asarray(a)
    if a.dtype == bool:
        return a.tolist()
    return [None if not np.isfinite(x) else float(x) for x in a.astype(float)]


if __name__ == "__main__":
    sys.exit(main())
