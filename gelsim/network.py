"""The G-network (Gelenbe's random neural network) as a validated, immutable object."""

from __future__ import annotations

import zipfile
import zlib

import numpy as np
import scipy.sparse as sp

from ._checks import as_real_array, as_rate_vector, check_finite_nonnegative

#: Relative slack allowed in the constraint sum_j (w+_ij + w-_ij) <= r_i (rounding of user weights).
ROW_SUM_RTOL = 1e-9


class Network:
    """A random neural network of ``N`` spiking cells (Gelenbe 1989).

    Parameters
    ----------
    fire_rate : array_like, shape (N,)
        Firing rate ``r_i`` of each cell while it is excited (``k_i > 0``).
    w_exc, w_inh : ndarray or scipy.sparse matrix, shape (N, N)
        Excitatory and inhibitory weights ``w±_ij = r_i p±_ij`` from cell ``i`` to cell ``j``.
        Each row must satisfy ``sum_j (w+_ij + w-_ij) <= r_i``.
    ext_exc, ext_inh : array_like or float, shape (N,)
        Rates of the external Poisson excitatory (``Λ_i``) and inhibitory (``λ_i``) spike trains.
        Default 0.

    Notes
    -----
    Dense inputs stay dense and sparse inputs are stored as CSR; both give the same answers.
    The object is treated as immutable: arrays are copied and made read-only.

    Examples
    --------
    >>> import numpy as np, gelsim
    >>> net = gelsim.Network(fire_rate=[2.0, 3.0], w_exc=[[0, 2.0], [0, 0]],
    ...                      w_inh=np.zeros((2, 2)), ext_exc=[1.0, 0.0], ext_inh=[0.3, 0.0])
    >>> net
    Network(N=2, dense, edges=1 (1 exc, 0 inh), recurrent=False, ext_exc=0..1, ext_inh=0..0.3)
    """

    def __init__(self, fire_rate, w_exc, w_inh=None, ext_exc=0.0, ext_inh=0.0):
        n = _cell_count(fire_rate, "Network")
        self.fire_rate = as_rate_vector(fire_rate, "fire_rate", n)
        self.w_exc = _as_weights(w_exc, "w_exc", n)
        self.w_inh = _as_weights(w_inh if w_inh is not None else _zeros_like(self.w_exc), "w_inh", n)
        if sp.issparse(self.w_exc) != sp.issparse(self.w_inh):
            # One storage kind for both keeps every product on one code path.
            self.w_exc, self.w_inh = sp.csr_matrix(self.w_exc), sp.csr_matrix(self.w_inh)
        self.ext_exc = as_rate_vector(ext_exc, "ext_exc", n)
        self.ext_inh = as_rate_vector(ext_inh, "ext_inh", n)
        self._check_row_sums()
        self._check_no_overflow()
        self._freeze()
        self._stacked_t = None
        self._adjacency = None
        self._recurrent = None

    def _freeze(self):
        """Make every array read-only (the sparse matrices' data and index arrays too): cached results
        (``stacked_transpose``, a solution) must never go stale."""
        arrays = [self.fire_rate, self.ext_exc, self.ext_inh]
        for w in (self.w_exc, self.w_inh):
            arrays += [w.data, w.indices, w.indptr] if sp.issparse(w) else [w]
        for arr in arrays:
            arr.flags.writeable = False

    def __setstate__(self, state):
        # pickle and copy.deepcopy rebuild the arrays writeable: freeze them again.
        self.__dict__.update(state)
        self._freeze()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_probabilities(cls, fire_rate, p_exc, p_inh=None, ext_exc=0.0, ext_inh=0.0):
        """Build a network from routing probabilities ``p±_ij`` (``w±_ij = r_i p±_ij``).

        Each row of ``p_exc + p_inh`` must sum to at most 1; the rest is the departure probability.

        Examples
        --------
        >>> import gelsim
        >>> net = gelsim.Network.from_probabilities(fire_rate=[2.0, 3.0], p_exc=[[0, 1.0], [0, 0]],
        ...                                          ext_exc=[1.0, 0.0], ext_inh=[0.3, 0.0])
        >>> float(net.w_exc[0, 1])
        2.0
        """
        n = _cell_count(fire_rate, "Network.from_probabilities")
        r = as_rate_vector(fire_rate, "fire_rate", n, owner="Network.from_probabilities")
        p_exc = _as_weights(p_exc, "p_exc", n, owner="Network.from_probabilities")
        p_inh = _as_weights(p_inh if p_inh is not None else _zeros_like(p_exc), "p_inh", n,
                            owner="Network.from_probabilities")
        rows = np.asarray(p_exc.sum(axis=1)).ravel() + np.asarray(p_inh.sum(axis=1)).ravel()
        bad = np.flatnonzero(rows > 1 + ROW_SUM_RTOL)
        if bad.size:
            raise ValueError(
                "Each row of p_exc + p_inh must sum to at most 1 (the rest is the departure probability). "
                f"Got row sums {rows[bad][:5].tolist()} at cell(s) {bad[:5].tolist()}."
            )
        w_exc, w_inh = (sp.diags(r) @ p if sp.issparse(p) else r[:, None] * p for p in (p_exc, p_inh))
        return cls(fire_rate=r, w_exc=w_exc, w_inh=w_inh, ext_exc=ext_exc, ext_inh=ext_inh)

    # ------------------------------------------------------------------ properties
    @property
    def n_cells(self):
        """Number of cells ``N``."""
        return self.fire_rate.size

    def __len__(self):
        return self.n_cells

    @property
    def is_sparse(self):
        """True when the weights are stored as scipy.sparse CSR matrices."""
        return sp.issparse(self.w_exc)

    @property
    def p_exc(self):
        """Excitatory routing probabilities ``p+_ij = w+_ij / r_i`` (0 for silent cells)."""
        return self._probabilities(self.w_exc)

    @property
    def p_inh(self):
        """Inhibitory routing probabilities ``p-_ij = w-_ij / r_i`` (0 for silent cells)."""
        return self._probabilities(self.w_inh)

    @property
    def departure(self):
        """Probability ``d_i`` that a spike fired by cell ``i`` leaves the network."""
        out = _row_sums(self.w_exc) + _row_sums(self.w_inh)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(self.fire_rate > 0, 1.0 - out / self.fire_rate, 1.0)
        return np.clip(d, 0.0, 1.0)

    def stacked_transpose(self):
        """``[W+ | W-]ᵀ`` as one (2N, N) matrix, so ``F(q)`` costs one mat-vec. Cached."""
        if self._stacked_t is None:
            if self.is_sparse:
                self._stacked_t = sp.vstack([self.w_exc.T, self.w_inh.T]).tocsr()
            else:
                self._stacked_t = np.ascontiguousarray(np.vstack([self.w_exc.T, self.w_inh.T]))
        return self._stacked_t

    def out_edges(self):
        """All edges as CSR arrays ``(indptr, target, weight, is_inhibitory)`` ordered by source cell."""
        exc = sp.csr_matrix(self.w_exc)
        inh = sp.csr_matrix(self.w_inh)
        both = sp.hstack([exc, inh]).tocsr()
        both.eliminate_zeros()
        both.sort_indices()
        n = self.n_cells
        cols = both.indices
        return both.indptr.copy(), (cols % n).astype(np.int64), both.data.copy(), cols >= n

    def adjacency(self):
        """``W+ + W-`` as one CSR matrix without stored zeros: entry ``(i, j)`` is non-zero where cell ``i``
        sends spikes to cell ``j``, of either kind. Cached and read-only.

        Examples
        --------
        >>> import numpy as np, gelsim
        >>> net = gelsim.Network(fire_rate=[1.0, 1.0], w_exc=[[0, 0.5], [0, 0]], w_inh=[[0, 0.25], [0, 0]])
        >>> net.adjacency().toarray().tolist()
        [[0.0, 0.75], [0.0, 0.0]]
        """
        if self._adjacency is None:
            adj = (sp.csr_matrix(self.w_exc) + sp.csr_matrix(self.w_inh)).tocsr()
            adj.eliminate_zeros()
            for array in (adj.data, adj.indices, adj.indptr):
                array.flags.writeable = False
            self._adjacency = adj
        return self._adjacency

    @property
    def is_recurrent(self):
        """True when the directed graph of non-zero weights has a cycle (self-loops count). Cached."""
        if self._recurrent is None:
            from scipy.sparse.csgraph import connected_components

            adj = self.adjacency()
            ncomp = connected_components(adj, directed=True, connection="strong")[0]
            self._recurrent = bool(adj.diagonal().any() or ncomp < self.n_cells)
        return self._recurrent

    def _probabilities(self, w):
        inv = np.divide(1.0, self.fire_rate, out=np.zeros_like(self.fire_rate), where=self.fire_rate > 0)
        return (sp.diags(inv) @ w).tocsr() if self.is_sparse else inv[:, None] * w

    def _check_no_overflow(self):
        # Eq. (1)'s numerator and denominator sum a cell's rates and its in-weights: beyond float64's range
        # they become inf and q silently 0. Rates scaled by one common factor leave q unchanged.
        with np.errstate(over="ignore", invalid="ignore"):
            num = self.ext_exc + np.asarray(self.w_exc.sum(axis=0)).ravel()
            den = self.fire_rate + self.ext_inh + np.asarray(self.w_inh.sum(axis=0)).ravel()
            bad = np.flatnonzero(~np.isfinite(num) | ~np.isfinite(den) | ~np.isfinite(num + den))
        if bad.size:
            raise ValueError(f"The rates of Network are too large for float64: at cell(s) {bad[:5].tolist()} "
                             "Eq. (1)'s sums of rates and weights overflow. Divide every rate and weight by one "
                             "common factor (a change of time unit, which leaves q unchanged).")

    def _check_row_sums(self):
        out = _row_sums(self.w_exc) + _row_sums(self.w_inh)
        limit = self.fire_rate * (1 + ROW_SUM_RTOL) + 1e-300
        bad = np.flatnonzero(out > limit)
        if bad.size:
            silent = bad[self.fire_rate[bad] == 0]
            extra = (f" Cell(s) {silent[:5].tolist()} have fire_rate 0 and so cannot send spikes."
                     if silent.size else "")
            raise ValueError(
                "Each cell's out-weights must satisfy sum_j (w_exc[i, j] + w_inh[i, j]) <= fire_rate[i]. "
                f"Violated at cell(s) {bad[:5].tolist()}: out-weight sums {out[bad][:5].tolist()} "
                f"> fire_rate {self.fire_rate[bad][:5].tolist()} ({bad.size} cell(s) in all).{extra}"
            )

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Save to a ``.npz`` file (dense or sparse layout preserved).

        Examples
        --------
        >>> import gelsim, tempfile, os
        >>> net = gelsim.generators.line_tandem()
        >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
        >>> net.save(path)
        >>> gelsim.Network.load(path).n_cells
        2
        """
        data = dict(fire_rate=self.fire_rate, ext_exc=self.ext_exc, ext_inh=self.ext_inh,
                    format=np.array("gelsim-network-1"), sparse=np.array(self.is_sparse))
        for name in ("w_exc", "w_inh"):
            w = getattr(self, name)
            if self.is_sparse:
                w = sp.csr_matrix(w)
                data[f"{name}_data"], data[f"{name}_indices"], data[f"{name}_indptr"] = w.data, w.indices, w.indptr
            else:
                data[name] = w
        # Through a file object, numpy writes exactly to ``path`` (given a name, it would append ".npz").
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **data)

    @classmethod
    def load(cls, path):
        """Load a network written by :meth:`save`.

        Raises ``FileNotFoundError`` when there is no such file and ``ValueError`` when the file is not a
        gelsim network or is damaged (the network it holds is checked as any other).
        """
        with open(path, "rb") as fh:   # FileNotFoundError, PermissionError as they are
            magic = fh.read(4)
        if magic != b"PK\x03\x04":
            raise ValueError(f"{path!s} is not a gelsim network file (not an .npz archive written by Network.save).")
        try:
            with np.load(path, allow_pickle=False) as f:
                if "format" not in f or str(f["format"]) != "gelsim-network-1":
                    raise ValueError(f"{path!s} is not a gelsim network file (missing 'format' = "
                                     "'gelsim-network-1').")
                n = f["fire_rate"].size
                if bool(f["sparse"]):
                    parts = {name: (f[f"{name}_data"], f[f"{name}_indices"], f[f"{name}_indptr"])
                             for name in ("w_exc", "w_inh")}
                    w = {name: sp.csr_matrix(part, shape=(n, n)) for name, part in parts.items()}
                else:
                    w = {name: f[name] for name in ("w_exc", "w_inh")}
                arrays = dict(fire_rate=f["fire_rate"], ext_exc=f["ext_exc"], ext_inh=f["ext_inh"])
        except (OSError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ValueError(f"{path!s} is a damaged gelsim network file ({type(exc).__name__}: {exc}).") from exc
        return cls(**arrays, **w)

    # ------------------------------------------------------------------ display
    def __repr__(self):
        n_exc = _nnz(self.w_exc)
        n_inh = _nnz(self.w_inh)
        kind = "sparse" if self.is_sparse else "dense"
        return (f"Network(N={self.n_cells}, {kind}, edges={n_exc + n_inh} ({n_exc} exc, {n_inh} inh), "
                f"recurrent={self.is_recurrent}, ext_exc={_fmt_total(self.ext_exc)}, "
                f"ext_inh={_fmt_total(self.ext_inh)})")


def _cell_count(fire_rate, owner):
    """N, from ``fire_rate``, which must be a non-empty 1-D array of numbers."""
    r = as_real_array(fire_rate, "fire_rate", owner, "a non-empty 1-D array")
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"The 'fire_rate' parameter of {owner} must be a non-empty 1-D array. "
                         f"Got an array of shape {r.shape} instead.")
    return r.size


def _as_weights(w, name, n, owner="Network"):
    if sp.issparse(w):
        _check_sparse_structure(w, name, n, owner)
        if np.iscomplexobj(w.data):
            raise ValueError(f"The {name!r} parameter of {owner} must be real. Got complex values.")
        w = sp.csr_matrix(w, dtype=float, copy=True)
        w.sum_duplicates()
        w.eliminate_zeros()  # stored zeros would cost every mat-vec and every routing table for nothing
    else:
        w = np.array(as_real_array(w, name, owner, f"an ({n}, {n}) array"), dtype=float)
    if w.shape != (n, n):
        raise ValueError(
            f"The {name!r} parameter of {owner} must be a non-negative array of shape ({n}, {n}). "
            f"Got shape {w.shape} instead."
        )
    check_finite_nonnegative(w, name, owner)
    return w


def _check_sparse_structure(w, name, n, owner):
    """Raise ``ValueError`` when a sparse matrix's index arrays point outside it: scipy checks them only on
    request, and every later product (and the simulator's tables) would read out of bounds."""
    if w.shape == (n, n) and w.format in ("csr", "csc"):   # another shape: _as_weights reports it
        indptr, indices = np.asarray(w.indptr), np.asarray(w.indices)
        ok = (indptr.size == n + 1 and indptr[0] == 0 and np.all(np.diff(indptr) >= 0)
              and indptr[-1] <= indices.size and indptr[-1] <= np.asarray(w.data).size)
        ok = ok and (indices.size == 0 or (indices[:indptr[-1]].min() >= 0 and indices[:indptr[-1]].max() < n))
        if not ok:
            raise ValueError(f"The {name!r} parameter of {owner} is a malformed {w.format.upper()} matrix: its "
                             f"indices must lie in [0, {n}) and its indptr must rise from 0 by row. Got indices "
                             f"in [{indices.min() if indices.size else 0}, {indices.max() if indices.size else 0}] "
                             f"and indptr {indptr[:6].tolist()}{'...' if indptr.size > 6 else ''}.")


def _zeros_like(w):
    """An all-zero weight matrix of the same storage kind (dense or sparse) as ``w``."""
    return sp.csr_matrix(w.shape) if sp.issparse(w) else np.zeros(w.shape)


def _row_sums(w):
    return np.asarray(w.sum(axis=1)).ravel()


def _nnz(w):
    return int(w.count_nonzero()) if sp.issparse(w) else int(np.count_nonzero(w))


def _fmt_total(v):
    """Summarise a rate vector: the value when constant, else 'min..max'."""
    lo, hi = float(v.min()), float(v.max())
    return f"{lo:.3g}" if lo == hi else f"{lo:.3g}..{hi:.3g}"
