"""Input checks shared by the public API (the API validates, kernels compute)."""

from __future__ import annotations

import numbers
import os

import numpy as np
import scipy.sparse as sp


def as_rate_vector(value, name, n, owner="Network"):
    """Return ``value`` as a finite, non-negative float64 vector of length ``n``.

    A scalar is broadcast. Raises ``ValueError`` naming ``name`` otherwise.
    """
    arr = None if sp.issparse(value) else as_real_array(value, name, owner, f"a 1-D array of length {n}")
    if arr is None or arr.ndim > 1:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a scalar or a 1-D array of length {n}. "
            f"Got {_describe(value)} instead."
        )
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(
            f"The {name!r} parameter of {owner} must have length {n}. Got shape {arr.shape} instead."
        )
    check_finite_nonnegative(arr, name, owner)
    return np.array(arr, dtype=float, copy=True)  # never alias (and later freeze) the caller's array


def check_finite_nonnegative(arr, name, owner="Network"):
    """Raise ``ValueError`` listing the first entries of ``arr`` that are NaN, infinite or negative."""
    values = arr.data if sp.issparse(arr) else np.asarray(arr)
    bad = ~np.isfinite(values) | (values < 0)
    if not bad.any():
        return
    if sp.issparse(arr):
        coo = arr.tocoo()
        where = [(int(i), int(j)) for i, j in zip(coo.row[bad][:5], coo.col[bad][:5])]
        shown = values[bad][:5]
    else:
        idx = np.argwhere(bad)[:5]
        where = [tuple(int(v) for v in i) if len(i) > 1 else int(i[0]) for i in idx]
        shown = values[bad][:5]
    raise ValueError(
        f"The {name!r} parameter of {owner} must be finite and non-negative. "
        f"Got {shown.tolist()} at {'cell' if values.ndim <= 1 and not sp.issparse(arr) else 'entry'} "
        f"{where} ({int(bad.sum())} bad entries in all)."
    )


def check_network(net, owner):
    """Raise ``TypeError`` unless ``net`` is a :class:`gelsim.Network` (one wording for every function that
    takes one).

    Examples
    --------
    >>> from gelsim._checks import check_network
    >>> check_network([[0.5]], "solve")
    Traceback (most recent call last):
    ...
    TypeError: The 'net' parameter of solve must be a gelsim.Network. Got list instead.
    """
    from .network import Network   # here, not at the top: network.py imports this module

    if not isinstance(net, Network):
        raise TypeError(f"The 'net' parameter of {owner} must be a gelsim.Network. Got {type(net).__name__} instead.")


def check_positive_number(value, name, owner, allow_zero=False, allow_inf=False):
    """Return ``value`` as float after checking it is a real positive number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"The {name!r} parameter of {owner} must be a real number. Got {value!r} instead.")
    v = float(value)
    ok = (v >= 0 if allow_zero else v > 0) and (np.isfinite(v) or (allow_inf and v == np.inf))
    if not ok:
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"The {name!r} parameter of {owner} must be a {kind} finite number. Got {value!r} instead.")
    return v


def check_proportion(value, name, owner, allow_zero=True):
    """Return ``value`` as float after checking it is a real number in [0, 1), or (0, 1) without
    ``allow_zero`` (a share or probability that must leave something)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            (0.0 <= value if allow_zero else 0.0 < value) and value < 1.0):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"The {name!r} parameter of {owner} must be a number in {interval}. Got {value!r} instead.")
    return float(value)


def check_int(value, name, owner, minimum=0, also=None):
    """Return ``value`` as int after checking it is an integer >= ``minimum``; ``also`` names another
    accepted value in the message (the caller has let it through)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        alternative = f" or {also}" if also else ""
        raise ValueError(f"The {name!r} parameter of {owner} must be an integer >= {minimum}{alternative}. "
                         f"Got {value!r} instead.")
    return int(value)


def check_n_jobs(n_jobs, owner):
    """Workers for ``n_jobs`` as scikit-learn and joblib read it: None or -1 all cores, -2 all but one and so
    on, a positive integer that many; 0 and non-integers are errors."""
    cores = os.cpu_count() or 1
    if n_jobs is None:
        return cores
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"The 'n_jobs' parameter of {owner} must be None, a positive integer, or a negative "
                         f"integer counting back from all cores (-1: all {cores}). Got {n_jobs!r} instead.")
    return int(n_jobs) if n_jobs > 0 else max(cores + 1 + int(n_jobs), 1)


def available_memory():
    """Bytes this process can still allocate: the machine's available memory (``MemAvailable``), less where
    a cgroup limit or an address-space limit (``ulimit -v``) leaves less. A guess where none can be read."""
    limits = []
    try:
        with open("/proc/meminfo") as fh:
            limits += [int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:")]
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh_max, open("/sys/fs/cgroup/memory.current") as fh_now:
            cap = fh_max.read().strip()
            if cap != "max":
                limits.append(int(cap) - int(fh_now.read()))
    except (OSError, ValueError):
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as fh:
                used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            limits.append(soft - used)
    except (ImportError, OSError, ValueError):
        pass
    if not limits:
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            return float("inf")
    return max(min(limits), 0)


def check_memory(nbytes, what, advice):
    """Raise ``MemoryError`` before allocating ``nbytes`` for ``what`` when they exceed 80 % of
    :func:`available_memory` (the rest is left to the interpreter and the caller's own arrays)."""
    free = available_memory()
    if nbytes > 0.8 * free:
        raise MemoryError(f"{what} needs about {nbytes / 2**30:.3g} GiB, and this process can allocate about "
                          f"{free / 2**30:.3g} GiB. {advice}")


def as_generator(rng):
    """Turn ``None``, an int seed, a ``SeedSequence``, a ``np.random.Generator`` or a legacy
    ``np.random.RandomState`` (as scikit-learn users pass ``random_state``) into a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and rng >= 0):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.RandomState):
        # Drawn from the RandomState, so that it advances as scikit-learn's own estimators advance it.
        return np.random.default_rng(rng.randint(0, 2**63 - 1, dtype=np.int64))
    raise ValueError(
        f"The 'rng' parameter must be None, a non-negative int, a numpy.random.Generator or RandomState. "
        f"Got {rng!r} instead."
    )


def as_real_array(value, name, owner, form):
    """``value`` as a float64 array; strings, objects and complex numbers raise ``ValueError`` naming ``name``
    (numpy would say only "could not convert", or drop an imaginary part with a warning)."""
    if np.iscomplexobj(value):
        raise ValueError(f"The {name!r} parameter of {owner} must be real. Got complex values.")
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The {name!r} parameter of {owner} must be {form} of numbers. Got {value!r}.") from exc


def _describe(value):
    if hasattr(value, "shape"):
        return f"an array of shape {value.shape}"
    return repr(value)
