"""Safeguarded Anderson acceleration for batched fixed points ``x = G(x)`` on [0, 1]^N.

Each row of ``x`` (shape (D, N)) is its own problem; rows stop being updated once they converge.
One call of ``G`` is one (batched) mat-vec, which is the unit of work we count.
"""

from __future__ import annotations

import numpy as np


#: Iterations without a new best residual after which a mixing (memory > 0) row gives up; the caller then
#: solves it by plain iteration (solve does). Plain iteration never gives up before max_iter.
STALL_ITERATIONS = 100


def anderson(G, x0, *, tol, max_iter, memory=8, lower=0.0, upper=1.0, regularization=1e-12):
    """Solve ``x = G(x)`` row-wise by Anderson(m) mixing with a plain-iteration fallback.

    Parameters
    ----------
    G : callable
        Maps an array of shape (d, N) to (d, N); called on the not-yet-converged rows only, with the
        row indices as second argument.
    x0 : ndarray, shape (D, N)
    tol : float
        Stop a row when ``max |x - G(x)| <= tol``.
    memory : int
        History length ``m``; 0 gives plain fixed-point (Picard/Jacobi) iteration.

    Returns
    -------
    x, residual (D,), iterations (D,), evaluations : total calls-worth of rows of ``G`` / D.
    """
    x = np.array(x0, dtype=float)
    D, N = x.shape
    active = np.arange(D)
    fx = G(x, active)
    evals = 1
    res = fx - x
    resnorm = np.abs(res).max(axis=1)
    iters = np.zeros(D, dtype=np.int64)
    best = resnorm.copy()
    m = int(memory)
    # Circular history of differences, per row: dX, dR and the Gram matrix of dR.
    dX = np.zeros((D, m, N)) if m else None
    dR = np.zeros((D, m, N)) if m else None
    gram = np.zeros((D, m, m)) if m else None
    count = np.zeros(D, dtype=np.int64)  # how many history slots are filled
    head = np.zeros(D, dtype=np.int64)   # next slot to overwrite
    since_best = np.zeros(D, dtype=np.int64)
    for _ in range(max_iter):
        active = np.flatnonzero((resnorm > tol) & (since_best < STALL_ITERATIONS))
        if active.size == 0:
            break
        xa, ra = x[active], res[active]
        step = xa + ra
        if m:
            step = _mix(step, ra, dX, dR, gram, count, head, active, regularization)
        x_new = np.clip(step, lower, upper)
        f_new = G(x_new, active)
        evals += active.size / D
        r_new = f_new - x_new
        n_new = np.abs(r_new).max(axis=1)
        # Safeguard: an Anderson step that makes the residual much worse is replaced by a plain step
        # from the last good point, and that row's history is forgotten.
        bad = ~(n_new <= 10.0 * best[active])
        if m and bad.any():
            b = active[bad]
            count[b] = 0
            head[b] = 0
            x_new[bad] = np.clip(x[b] + res[b], lower, upper)
            f_new[bad] = G(x_new[bad], b)
            evals += b.size / D
            r_new[bad] = f_new[bad] - x_new[bad]
            n_new[bad] = np.abs(r_new[bad]).max(axis=1)
        if m:
            _push(dX, dR, gram, count, head, active, x_new - xa, r_new - ra)
        x[active], res[active], resnorm[active] = x_new, r_new, n_new
        if m:
            since_best[active] = np.where(n_new < best[active], 0, since_best[active] + 1)
        best[active] = np.minimum(best[active], n_new)
        iters[active] += 1
    # x itself is returned (not G(x)): its residual |x - G(x)| is the one reported.
    return x, resnorm, iters, evals


def _mix(step, ra, dX, dR, gram, count, head, active, reg):
    """Anderson type-II update for each active row, using its filled history slots."""
    out = step.copy()
    for k in np.unique(count[active]):
        if k == 0:
            continue
        rows = np.flatnonzero(count[active] == k)
        idx = active[rows]
        G = gram[idx][:, :k, :k]
        rhs = np.einsum("dkn,dn->dk", dR[idx][:, :k], ra[rows])
        scale = np.trace(G, axis1=1, axis2=2)[:, None, None] / k
        G = G + (reg * scale + 1e-300) * np.eye(k)
        try:
            gamma = np.linalg.solve(G, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            continue
        corr = np.einsum("dk,dkn->dn", gamma, dX[idx][:, :k] + dR[idx][:, :k])
        out[rows] = step[rows] - corr
    return out


def _push(dX, dR, gram, count, head, active, dx, dr):
    """Store the newest differences and update the Gram matrix in O(m N) per row."""
    m = dX.shape[1]
    slot = head[active]
    dX[active, slot] = dx
    dR[active, slot] = dr
    inner = np.einsum("dkn,dn->dk", dR[active], dr)  # includes the new slot itself
    filled = np.minimum(count[active] + 1, m)
    # Entries against slots not yet (re)filled are stale but unused: a slot's row and column are
    # rewritten in full when it is filled, and only the first `count` slots are read.
    gram[active, slot, :] = inner
    gram[active, :, slot] = inner
    count[active] = filled
    head[active] = (slot + 1) % m
