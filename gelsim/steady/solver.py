"""Analytic steady state of a G-network: the unique solution of Eq. (1) and its product form."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ._anderson import anderson
from .._checks import check_finite_nonnegative, check_int, check_network, check_positive_number

#: A cell counts as saturated when its unclipped ratio is within this relative margin of 1 or above.
SATURATION_MARGIN = 1e-9


class ConvergenceWarning(UserWarning):
    """The steady-state solver stopped before reaching its tolerance."""


@dataclass(frozen=True, repr=False)
class SteadyState:
    """Solution of Eq. (1) with its product-form quantities (Gelenbe 1989, 1993).

    Attributes
    ----------
    q : ndarray, shape (N,) or (D, N)
        Excitation probabilities ``q_i`` (``P(k_i > 0)`` in steady state).
    saturated : ndarray of bool
        Cells whose ratio in Eq. (1) is >= 1: their potential drifts to infinity and ``q_i = 1``.
    converged : bool
        True when every residual is at most ``tol``.
    iterations : int
        Solver iterations (the largest over a batch).
    residual : float
        ``max |q - F(q)|`` over all cells (and batch rows).
    matvecs : float
        Evaluations of ``F``, each one mat-vec with the stacked weights (averaged over batch rows).
    fire_rate : ndarray, shape (N,)
        The network's firing rates, kept for the derived quantities.
    """

    q: np.ndarray
    saturated: np.ndarray
    converged: bool
    iterations: int
    residual: float
    matvecs: float
    fire_rate: np.ndarray = field(repr=False)

    @property
    def mean_potential(self):
        """``E[k_i] = q_i / (1 - q_i)``; ``inf`` for saturated cells."""
        with np.errstate(divide="ignore"):
            return np.where(self.saturated, np.inf, self.q / (1.0 - self.q))

    @property
    def firing_rate(self):
        """Mean rate ``q_i r_i`` at which each cell emits spikes."""
        return self.q * self.fire_rate

    def potential_pmf(self, k):
        """``P(k_i = k) = (1 - q_i) q_i^k`` (0 for saturated cells, whose potential escapes).

        Examples
        --------
        >>> import gelsim
        >>> ss = gelsim.solve(gelsim.generators.mm1(arrival=1.0, service=2.0))
        >>> float(ss.potential_pmf(0)[0])
        0.5
        """
        k = np.asarray(k)
        if np.any(k < 0) or not np.issubdtype(k.dtype, np.integer):
            raise ValueError(f"The 'k' parameter of potential_pmf must be non-negative integers. Got {k!r}.")
        q = self.q[..., None] if k.ndim else self.q
        pmf = (1.0 - q) * q ** k
        sat = self.saturated[..., None] if k.ndim else self.saturated
        return np.where(sat, 0.0, pmf)

    def __repr__(self):
        q = self.q
        shape = "x".join(map(str, q.shape))
        return (f"SteadyState(q: {shape} in [{q.min():.4g}, {q.max():.4g}], mean {q.mean():.4g}; "
                f"saturated={int(self.saturated.sum())}, converged={self.converged}, "
                f"iterations={self.iterations}, residual={self.residual:.2e}, matvecs={self.matvecs:.4g})")


def solve(net, *, ext_exc=None, ext_inh=None, tol=1e-12, max_iter=10_000, method="anderson", memory=8, q0=None):
    """Solve Eq. (1), ``q = min((Λ + W+ᵀq) / (r + λ + W-ᵀq), 1)``, for the unique fixed point.

    Parameters
    ----------
    net : Network
    ext_exc, ext_inh : array_like, shape (N,) or (D, N), optional
        External rates replacing the network's own; a 2-D array solves ``D`` input patterns at once
        (one solve per row, vectorised). This is what a feed-forward layer evaluates.
    tol : float
        Stop when ``max |q - F(q)| <= tol`` (default 1e-12).
    max_iter : int
        Iteration cap; a :class:`ConvergenceWarning` is raised if reached.
    method : {"anderson", "picard"}
        Safeguarded Anderson acceleration (default) or plain fixed-point (Jacobi) iteration.
    memory : int
        Anderson history length.
    q0 : array_like, optional
        Starting point (default ``min(Λ / (r + λ), 1)``).

    Returns
    -------
    SteadyState

    Examples
    --------
    >>> import gelsim
    >>> ss = gelsim.solve(gelsim.generators.line_tandem())
    >>> [round(float(v), 6) for v in ss.mean_potential]
    [0.769231, 0.408163]
    """
    tol, max_iter, memory, lam_exc, lam_inh, batch = _check_solve(net, ext_exc, ext_inh, tol, max_iter, method,
                                                                  memory)
    q0 = _check_q0(q0, lam_exc.shape[0], net.n_cells)
    n = net.n_cells
    D = lam_exc.shape[0]
    wt = net.stacked_transpose()
    r = net.fire_rate

    def numer_denom(q, rows):
        prod = _stacked_product(wt, q)
        return lam_exc[rows] + prod[:, :n], r + lam_inh[rows] + prod[:, n:]

    def F(q, rows):
        num, den = numer_denom(q, rows)
        return _ratio(num, den)

    if q0 is None:
        start = _ratio(lam_exc, r + lam_inh)
    else:
        start = np.broadcast_to(np.clip(q0, 0.0, 1.0), (D, n))
    q, resid, iters, evals = anderson(F, start, tol=tol, max_iter=max_iter,
                                      memory=memory if method == "anderson" else 0)
    if memory and method == "anderson" and np.any(resid > tol):
        # Anderson mixing can stall where F is affine with slope 1 (a cell exciting itself with p = 1 climbs
        # to saturation by a constant step): rows it left unconverged are solved again by plain iteration,
        # which converges on Eq. (1), and the better answer of the two is kept.
        rows = np.flatnonzero(resid > tol)
        q_p, resid_p, iters_p, evals_p = anderson(lambda x, sub: F(x, rows[sub]), start[rows], tol=tol,
                                                  max_iter=max_iter, memory=0)
        better = resid_p < resid[rows]
        q[rows[better]], resid[rows[better]] = q_p[better], resid_p[better]
        iters[rows] += iters_p
        evals += evals_p * rows.size / D
    num, den = numer_denom(q, np.arange(D))
    # Ratio >= 1 (to rounding): the cell is critical or unstable, its potential escapes and q = 1.
    saturated = (num > 0) & (num >= den * (1.0 - SATURATION_MARGIN))
    residual = float(resid.max())
    converged = residual <= tol
    if not converged:
        warnings.warn(f"solve did not converge: residual {residual:.3e} > tol {tol:.1e} after "
                      f"{int(iters.max())} iterations; the returned q is approximate.",
                      ConvergenceWarning, stacklevel=2)
    if not batch:
        q, saturated = q[0], saturated[0]
    q.flags.writeable = False
    return SteadyState(q=q, saturated=saturated, converged=bool(converged), iterations=int(iters.max()),
                       residual=residual, matvecs=float(evals), fire_rate=r)


def _check_solve(net, ext_exc, ext_inh, tol, max_iter, method, memory):
    """solve's argument checks: the checked ``tol``, ``max_iter`` and ``memory``, the external rates as
    (D, N) arrays of one common batch size, and whether the call is batched."""
    check_network(net, "solve")
    tol = check_positive_number(tol, "tol", "solve")
    max_iter = check_int(max_iter, "max_iter", "solve", minimum=1)
    memory = check_int(memory, "memory", "solve", minimum=0)
    if method not in ("anderson", "picard"):
        raise ValueError(f"The 'method' parameter of solve must be 'anderson' or 'picard'. Got {method!r} instead.")
    n = net.n_cells
    lam_exc, batch = _external(ext_exc, net.ext_exc, "ext_exc", n)
    lam_inh, batch_inh = _external(ext_inh, net.ext_inh, "ext_inh", n)
    D = max(lam_exc.shape[0], lam_inh.shape[0])
    if lam_exc.shape[0] not in (1, D) or lam_inh.shape[0] not in (1, D):
        raise ValueError(f"'ext_exc' and 'ext_inh' batches must have the same number of rows. "
                         f"Got {lam_exc.shape[0]} and {lam_inh.shape[0]}.")
    return (tol, max_iter, memory, np.broadcast_to(lam_exc, (D, n)), np.broadcast_to(lam_inh, (D, n)),
            batch or batch_inh)


def _check_q0(q0, batch_rows, n):
    """``q0`` as a finite float array of shape (N,) or (D, N), or None."""
    if q0 is None:
        return None
    try:
        arr = np.asarray(q0, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The 'q0' parameter of solve must be a numeric array of shape ({n},). "
                         f"Got {q0!r}.") from exc
    if arr.shape not in ((n,), (batch_rows, n)) or not np.all(np.isfinite(arr)):
        raise ValueError(f"The 'q0' parameter of solve must be a finite array of shape ({n},) or "
                         f"({batch_rows}, {n}). Got shape {arr.shape}"
                         f"{'' if np.all(np.isfinite(arr)) else ' with NaN or infinite entries'}.")
    return arr


def _ratio(num, den):
    """``min(num / den, 1)`` with ``0/0 = 0`` (a silent cell with no input is never excited)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.where(num > 0, 1.0, 0.0))
    return np.minimum(out, 1.0)


def _stacked_product(wt, q):
    """Rows of ``q @ [W+ | W-]`` for a batch ``q`` of shape (d, N): one mat-vec per row."""
    if sp.issparse(wt):
        return np.ascontiguousarray((wt @ q.T).T) if q.shape[0] > 1 else (wt @ q[0])[None, :]
    return q @ wt.T


def _external(value, default, name, n):
    if value is None:
        return default[None, :], False
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.ndim not in (1, 2) or arr.shape[-1] != n:
        raise ValueError(f"The {name!r} parameter of solve must have shape ({n},) or (D, {n}). "
                         f"Got shape {arr.shape} instead.")
    check_finite_nonnegative(arr, name, "solve")
    return (arr[None, :], False) if arr.ndim == 1 else (arr, True)
