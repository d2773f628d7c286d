"""The mathematics of :class:`gelsim.RecurrentRNNClassifier`: a valid G-network by construction, its
outputs at the steady state or after K steps of Eq. (1)'s map, and their gradients.

Cells: ``d`` sources (``q = x``: external excitation ``x_i ρ_i`` at firing rate ``ρ_i``), ``H`` hidden cells
(recurrent), ``K`` output cells (fed by the hidden cells, sending nothing). A hidden cell ``j`` spends its
firing rate ``r_j = exp(φ_j)`` over its slots by a softmax of logits ``θ_j``: one excitatory and one
inhibitory slot per target, plus a departure slot (spikes that leave the network), so ``w±_jk = r_j p±_jk``
with ``Σ_k (p+_jk + p-_jk) <= 1``. A source's weights are free and its firing rate
is their sum: its ``q`` is its input ``x_i`` whatever its rate, so the rate can be whatever the weights
need, and the sources need neither a softmax nor a departure slot. A source's weight is ``SOURCE_SCALE ψ²``
of a free root ``ψ`` (see :data:`SOURCE_SCALE`). Any parameter values give a network that
:func:`gelsim.simulate` can run; no projection is ever needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ..network import Network
from ..steady import solve, steady_state_vjp
from ..steady._anderson import anderson
from ._gradient_kernels import complement_root_grad, complement_source_parts, rate_softmax_vjp
from ._sources import ComplementCoded
from ._unrolled_kernels import kernel_blas, unrolled_adjoint, unrolled_states


#: A source's weight is ``SOURCE_SCALE * ψ²`` of its free root ``ψ``. Adam moves each parameter by about
#: the learning rate a step whatever its gradient's size, so the scale sets how fast the sources' weights move
#: (``2 sqrt(SOURCE_SCALE w)`` times the step). A square, unlike ``exp(θ)``, lets a weight reach 0 and costs
#: 0.03 ms a step where ``exp`` took 0.17 (MNIST sample, 313,600 weights). Chosen by 5-fold cross-validation
#: on training data (means of the folds over seeds; ``exp(θ)`` beside it): digits 97.35 % (96.55), the MNIST
#: sample 93.03 % (93.13); scales 1 and 0.01 gave 97.29 and 97.11 % on digits, 92.75 and 92.81 % on MNIST.
SOURCE_SCALE = 0.09


@dataclass
class Params:
    """Free parameters: the roots of the sources' weights, softmax logits over each hidden cell's slots, and the
    hidden and output cells' log firing rates.

    ``hid_logits`` holds one set per step when the steps do not share weights: set t maps step t's state
    to step t + 1's (set 0 acts on the starting state q = 0, so it has no effect), and the output slots
    of the last set are the readout.
    """

    src_roots: np.ndarray      # (d, 2H): excitatory, then inhibitory, weight to each hidden cell: SOURCE_SCALE ψ²
    hid_logits: list           # [(H, 2H + 2SK + 1)]: exc/inh to hidden, exc/inh to outputs per readout
                               # segment (S = 1 but for a sequence model's segmented mean), departure
    hid_log_rate: np.ndarray   # (H,)
    out_log_rate: np.ndarray   # (K,)

    def arrays(self):
        return [self.src_roots, *self.hid_logits, self.hid_log_rate, self.out_log_rate]

    def astype(self, dtype):
        """The same parameters as ``dtype`` arrays (new arrays)."""
        return Params(self.src_roots.astype(dtype), [t.astype(dtype) for t in self.hid_logits],
                      self.hid_log_rate.astype(dtype), self.out_log_rate.astype(dtype))


def init_params(d, H, K, steps, gen, *, scale=0.1, segments=1):
    """Small random logits, hidden and output rates 1; each source's weights near ``max(H / d, 1) / (2H +
    1)`` (times ``exp(scale z)``, ``z`` standard normal), so that each hidden cell gets O(1) input (the
    weights a softmax over 2H + 1 slots at that rate would give); ``segments`` sets of output slots (see
    :func:`unrolled_forward`)."""
    weight = max(H / d, 1.0) / (2 * H + 1) * np.exp(scale * gen.standard_normal((d, 2 * H)))
    return Params(src_roots=np.sqrt(weight / SOURCE_SCALE),
                  hid_logits=[scale * gen.standard_normal((H, 2 * H + 2 * segments * K + 1)) for _ in range(steps)],
                  hid_log_rate=np.zeros(H), out_log_rate=np.zeros(K))


def _softmax(theta):
    z = theta - theta.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


@dataclass
class Weights:
    """The rates and weight blocks of one step's map. Excitation and inhibition are kept side by side
    (``src``, ``hh``), so that one product gives both; ``src_exc`` and the like are views of them. The
    sources' weights ``src`` (d, 2H), excitation then inhibition from each source to each hidden cell, are
    formed from their roots when asked for: training with complement-coded sources never needs them
    (:meth:`source_drive`), nor their sums, the sources' rates ``rho``."""

    src_roots: np.ndarray  # (d, 2H): the roots ψ of the sources' weights, SOURCE_SCALE ψ²
    r: np.ndarray
    hh: list              # per step (H, 2H): the same between hidden cells
    ho_exc: np.ndarray    # (S H, K), from the last step's logits: segment s's block is rows s H .. (s + 1) H
    ho_inh: np.ndarray
    r_out: np.ndarray
    P_hid: list

    @cached_property
    def src(self):
        src = np.square(self.src_roots)
        src *= SOURCE_SCALE
        return src

    @property
    def rho(self):
        return self.src.sum(axis=1)

    def source_drive(self, X):
        """``X @ src``, what sources of ``q`` ``X`` (n, d) send to each hidden cell (n, 2H); for
        :class:`ComplementCoded` sources from the roots in one pass (:func:`complement_source_parts`),
        without forming ``src``."""
        if not isinstance(X, ComplementCoded):
            return X @ self.src
        roots = self.src_roots
        d = roots.shape[0] // 2
        difference = np.empty((d, roots.shape[1]), dtype=roots.dtype)
        complement_sums = np.empty(roots.shape[1], dtype=roots.dtype)
        complement_source_parts(roots, roots.dtype.type(SOURCE_SCALE), difference, complement_sums)
        return X.drive(difference, complement_sums)

    def source_root_grad(self, X, U):
        """The gradient of the sources' roots ``ψ`` from ``U`` (n, 2H), what each hidden cell's excitation
        and inhibition pass back: ``(Xᵀ U) 2 SOURCE_SCALE ψ``, for :class:`ComplementCoded` sources in one
        pass (:func:`complement_root_grad`) after the product with ``x`` alone."""
        roots = self.src_roots
        if not isinstance(X, ComplementCoded):
            return _chain_to_roots(X.T @ U, roots)
        lit = X.x.T @ U
        grad = np.empty(roots.shape, dtype=lit.dtype)
        complement_root_grad(lit, U.sum(axis=0), roots, roots.dtype.type(2.0 * SOURCE_SCALE), grad)
        return grad

    @property
    def src_exc(self):
        return self.src[:, :self.r.size]

    @property
    def src_inh(self):
        return self.src[:, self.r.size:]

    @property
    def hh_exc(self):
        return [m[:, :self.r.size] for m in self.hh]

    @property
    def hh_inh(self):
        return [m[:, self.r.size:] for m in self.hh]


def weights(params, H, K):
    r, r_out = np.exp(params.hid_log_rate), np.exp(params.out_log_rate)
    P_hid = [_softmax(t) for t in params.hid_logits]
    last = P_hid[-1]
    SK = (last.shape[1] - 1 - 2 * H) // 2
    return Weights(params.src_roots, r, [r[:, None] * P[:, :2 * H] for P in P_hid],
                   _segment_rows(r[:, None] * last[:, 2 * H:2 * H + SK], K),
                   _segment_rows(r[:, None] * last[:, 2 * H + SK:2 * H + 2 * SK], K), r_out, P_hid)


def _segment_rows(block, K):
    """Output slots (H, S K), segment-major, as the readout matrix (S H, K) of the segments' stacked states."""
    H, SK = block.shape
    return block.reshape(H, SK // K, K).transpose(1, 0, 2).reshape(-1, K)


def _segment_columns(matrix, H):
    """The inverse of :func:`_segment_rows`: (S H, K) back to the slots' layout (H, S K)."""
    SH, K = matrix.shape
    return matrix.reshape(SH // H, H, K).transpose(1, 0, 2).reshape(H, -1)


def _chain_to_roots(g_src, roots):
    """The roots' gradient from the weights' ``g_src`` (overwritten): ``w = SOURCE_SCALE ψ²``."""
    g_src *= roots
    g_src *= roots.dtype.type(2.0 * SOURCE_SCALE)
    return g_src


def _weight_grads_to_params(w, H, K, g_src_roots, g_hh, g_ho_exc, g_ho_inh, g_r, g_r_out):
    """Chain rule from the weights and rates to the parameters: ``w = rate * softmax`` for a hidden
    cell's weights (the sources' come as their roots' gradient ``g_src_roots``, from
    :meth:`Weights.source_root_grad`).

    Each of ``g_hh`` (H, 2H) holds the gradients of a block's excitatory then inhibitory weights, side by
    side as in :class:`Weights`; ``g_ho_exc`` and ``g_ho_inh`` (S H, K) those of the readout, which sits
    in the last step's output slots."""
    g_hid, g_r = [], g_r.copy()
    g_r_from_weights = np.empty_like(w.r)
    steps = len(w.P_hid)
    for t, P in enumerate(w.P_hid):
        G = g_hh[t]
        if t == steps - 1:
            G = np.hstack([G, _segment_columns(g_ho_exc, H), _segment_columns(g_ho_inh, H)])
        g_logits = np.empty_like(P)
        rate_softmax_vjp(P, np.ascontiguousarray(G, dtype=P.dtype), w.r, g_logits, g_r_from_weights)
        g_r += g_r_from_weights
        g_hid.append(g_logits)
    return Params(g_src_roots, g_hid, g_r * w.r, g_r_out * w.r_out)


# ---------------------------------------------------------------------------------------------- unrolled
def _step_inputs(X, t):
    """The sources' q at step ``t``: ``X`` (n, d) holds them fixed, a sequence (n, T, d) gives step t's."""
    return X if X.ndim == 2 else X[:, t]


def unrolled_forward(w, X, steps, readout="last"):
    """Hidden states after each of ``steps`` applications of Eq. (1)'s map from ``q = 0``, and outputs.

    ``X`` is (n, d), the same input at every step, or a sequence (n, steps, d), one input per step (the
    hidden state carried from step to step: an Elman-type recurrent network of RNN cells). The output cells
    read the last state (``readout="last"``) or, with ``"mean"``, the states' mean over each of the ``S``
    segments of :func:`segment_spans` (``S`` set by the weights: ``ho_exc`` has ``S H`` rows), segment s by
    its own block of the readout: every step's copy of the hidden layer sends to the outputs, with its
    segment's weights divided by the segment's length.

    Returns the states ``q_0 = 0, q_1, ..., q_steps`` (steps + 1, n, H), each step's denominators (steps,
    n, H), the outputs, their denominators and the state the outputs read."""
    Q, Ds = _unrolled_states(w, X, steps)
    H = w.r.size
    if readout == "last":
        read = Q[-1]
    else:
        spans = segment_spans(steps, w.ho_exc.shape[0] // H)
        read = np.hstack([Q[start + 1:stop + 1].mean(axis=0) for start, stop in spans])
    No, Do = read @ w.ho_exc, w.r_out + read @ w.ho_inh
    return Q, Ds, np.minimum(No / Do, 1.0), Do, read


def _by_step(X):
    """A sequence (n, steps, d) as (steps, n, d), C-contiguous: each step's inputs one block."""
    return np.ascontiguousarray(X.transpose(1, 0, 2))


def _unrolled_states(w, X, steps):
    """States ``Q`` (steps + 1, n, H) and denominators ``Ds`` (steps, n, H) of :func:`unrolled_forward`
    (:func:`unrolled_states`, with what the sources send at every step formed in one product)."""
    n, H = X.shape[0], w.r.size
    dtype = w.src_roots.dtype
    if X.ndim == 2:
        drive = w.source_drive(X)[None]
    else:
        drive = (_by_step(X).reshape(-1, X.shape[2]) @ w.src).reshape(steps, n, 2 * H)
    Q = np.zeros((steps + 1, n, H), dtype=dtype)
    Ds = np.empty((steps, n, H), dtype=dtype)
    with kernel_blas(n):
        unrolled_states(np.ascontiguousarray(drive, dtype=dtype),
                        np.ascontiguousarray(np.stack(w.hh), dtype=dtype), w.r.astype(dtype, copy=False), Q, Ds)
    return Q, Ds


def unrolled_loss_grad(params, X, codes, steps, temperature, H, K, readout="last", smoothing=0.0):
    """Mean cross-entropy of ``softmax(q_out / temperature)`` (labels smoothed by ``smoothing``, see
    :func:`_cross_entropy`) and its gradient (back-propagation through the ``steps`` maps; a saturated cell
    passes no gradient). ``readout`` as in :func:`unrolled_forward`."""
    w = weights(params, H, K)
    Q, Ds, Qo, Do, read = unrolled_forward(w, X, steps, readout)
    loss, gQo = _cross_entropy(Qo, codes, temperature, smoothing)
    # Output cells.
    u = np.where(Qo < 1.0, gQo / Do, 0.0)
    g_ho_exc, g_ho_inh = read.T @ u, -read.T @ (u * Qo)
    g_r_out = -np.sum(u * Qo, axis=0)
    g_read = u @ w.ho_exc.T - (u * Qo) @ w.ho_inh.T
    # With the mean readout, state q_t (t = 1..steps) gets its segment's share of the read state's gradient.
    segment_of_step = np.full(steps, -1, dtype=np.int64)
    if readout == "mean":
        spans = segment_spans(steps, w.ho_exc.shape[0] // H)
        segment_grads = np.stack([g_read[:, s * H:(s + 1) * H] / (stop - start)
                                  for s, (start, stop) in enumerate(spans)])
        for s, (start, stop) in enumerate(spans):
            segment_of_step[start:stop] = s
        last_grad = segment_grads[-1]
    else:
        segment_grads, last_grad = np.zeros((1, 1, 1), dtype=Q.dtype), g_read
    # Back through the steps: U[t] = (u, -u q) holds what step t's excitation and inhibition pass back
    # (u = dL/dN, zero for saturated cells); the weight gradients are then products summed over the steps,
    # formed once after the loop.
    transposed = np.stack([np.vstack([e.T, i.T]) for e, i in zip(w.hh_exc, w.hh_inh)])
    U = np.empty((steps, X.shape[0], 2 * H), dtype=Q.dtype)
    with kernel_blas(X.shape[0]):
        unrolled_adjoint(np.ascontiguousarray(last_grad, dtype=Q.dtype), segment_grads.astype(Q.dtype, copy=False),
                         segment_of_step, Q, Ds, np.ascontiguousarray(transposed, dtype=Q.dtype), U)
    if X.ndim == 2:
        g_src = w.source_root_grad(X, U.sum(axis=0))
    else:
        g_src = w.source_root_grad(_by_step(X).reshape(-1, X.shape[2]), U.reshape(-1, 2 * H))
    if len(w.hh) == 1:
        g_hh = [Q[:-1].reshape(-1, H).T @ U.reshape(-1, 2 * H)]
    else:
        g_hh = [Q[t].T @ U[t] for t in range(steps)]
    g_r = U[:, :, H:].sum(axis=(0, 1))
    grads = _weight_grads_to_params(w, H, K, g_src, g_hh, g_ho_exc, g_ho_inh, g_r,
                                    g_r_out)
    return loss, grads


def segment_spans(steps, segments):
    """``segments`` consecutive spans ``(start, stop)`` of ``range(steps)``, as equal as can be (the first
    ones longer by one), each at least one step long."""
    if not 1 <= segments <= steps:
        raise ValueError(f"{segments} readout segments need at least as many steps; got {steps}.")
    bounds = np.cumsum([0] + [len(a) for a in np.array_split(np.arange(steps), segments)])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _cross_entropy(Qo, codes, temperature, smoothing=0.0):
    """Mean cross-entropy of ``softmax(Qo / temperature)`` against the labels smoothed by ``smoothing`` (the
    target gives the label ``1 - smoothing + smoothing / K`` and every class ``smoothing / K``), and its
    gradient with respect to ``Qo``."""
    n, K = Qo.shape
    z = Qo / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = -(1.0 - smoothing) * np.mean(log_p[rows, codes]) - smoothing * np.mean(log_p.mean(axis=1))
    G = np.exp(log_p)
    G -= smoothing / K
    G[rows, codes] -= 1.0 - smoothing
    return loss, G / (n * temperature)


# ---------------------------------------------------------------------------------------------- steady state
class _Blocks:
    """Dense weight blocks placed in an (n, n) matrix, returned dense or as CSR (unrolled networks are
    large and sparse: one block per step)."""

    def __init__(self, n):
        self.n = n
        self.parts = {"exc": [], "inh": []}

    def put(self, row, col, exc, inh):
        for kind, block in (("exc", exc), ("inh", inh)):
            r, c = np.nonzero(block)
            self.parts[kind].append((r + row, c + col, block[r, c]))

    def matrix(self, kind, dense):
        rows, cols, vals = (np.concatenate(x) for x in zip(*self.parts[kind]))
        m = sp.csr_matrix((vals, (rows, cols)), shape=(self.n, self.n))
        return m.toarray() if dense else m


def network(w, x=None, steps=None):
    """The model as one :class:`Network`: sources, hidden cells, outputs (dense weights). With ``steps``,
    the unrolled model (sparse weights): one copy of the hidden layer per step, each fed by the previous
    copy and by the sources."""
    d, H, K = w.src.shape[0], w.r.size, w.r_out.size
    copies = 1 if steps is None else steps
    n = d + copies * H + K
    blocks = _Blocks(n)
    rho = w.rho * copies          # the sources feed every copy, each as the model's one source would
    for c in range(copies):
        hid = d + c * H
        blocks.put(0, hid, w.src_exc, w.src_inh)
        if steps is None:
            blocks.put(hid, hid, w.hh_exc[0], w.hh_inh[0])
        elif c + 1 < copies:
            k = c + 1 if len(w.hh) > 1 else 0
            blocks.put(hid, hid + H, w.hh_exc[k], w.hh_inh[k])
    blocks.put(d + (copies - 1) * H, n - K, w.ho_exc, w.ho_inh)
    fire = np.concatenate([rho, np.tile(w.r, copies), w.r_out])
    ext = np.zeros(n)
    if x is not None:
        ext[:d] = np.asarray(x, float) * rho
    dense = steps is None
    return Network(fire_rate=fire, w_exc=blocks.matrix("exc", dense), w_inh=blocks.matrix("inh", dense), ext_exc=ext)


def steady_hidden(w, X, *, tol=1e-12, max_iter=10_000, start=None):
    """The hidden cells' steady state (n, H) for source values ``X`` (n, d), and its denominators ``D``.

    Eq. (1) restricted to the hidden cells: the sources' ``q`` is ``X`` whatever happens downstream and
    the output cells send nothing, so only ``q = min((X W+_src + q W+_hh) / (r + X W-_src + q W-_hh), 1)``
    is iterated (Anderson mixing, as :func:`gelsim.solve` does), with the inputs' products formed once,
    from ``start`` (n, H) if given, else from the state with no recurrent input.
    """
    H = w.r.size
    drive = w.source_drive(X)                          # one product for the sources' excitation and inhibition
    A, B = drive[:, :H], drive[:, H:] + w.r
    W = w.hh[0]

    def F(q, rows):
        P = q @ W
        return np.minimum((A[rows] + P[:, :H]) / (B[rows] + P[:, H:]), 1.0)

    q = _fixed_point(F, np.minimum(A / B, 1.0) if start is None else start, tol, max_iter, lower=0.0, upper=1.0)
    return q, B + q @ w.hh_inh[0]


class WarmStarts:
    """Each training pattern's last steady state and adjoint, to start its next solve from.

    Between two visits of a pattern (one epoch) the weights move little, so its fixed point and adjoint
    move little too: started from where they were, both settle in fewer iterations (MNIST sample, 100
    hidden cells: see :class:`gelsim.RecurrentRNNClassifier`'s notes). Solved to the same tolerance, the
    gradient is the same to that tolerance.
    """

    def __init__(self, n_rows, n_hidden, dtype):
        self.q = np.zeros((n_rows, n_hidden), dtype=dtype)
        self.v = np.zeros((n_rows, n_hidden), dtype=dtype)
        self.seen = np.zeros(n_rows, dtype=bool)

    def get(self, rows):
        """``(q, v)`` of ``rows`` if every one has been solved before, else ``(None, None)``."""
        if not self.seen[rows].all():
            return None, None
        return self.q[rows], self.v[rows]

    def put(self, rows, q, v):
        self.q[rows], self.v[rows], self.seen[rows] = q, v, True


#: Tolerance of the fixed points during training, by precision: in double precision the gradient is then
#: exact to about 1e-8 of its size, far inside the noise of a minibatch, at 11 iterations where 1e-12
#: takes 19 (MNIST, 100 hidden cells); single precision (machine epsilon 1.2e-7) settles to 1e-5.
TRAINING_TOL = {np.dtype(np.float64): 1e-8, np.dtype(np.float32): 1e-5}


#: Plain iterations of a fixed point tried before Anderson mixing. A trained classifier's hidden layer is a
#: strong contraction (13 to 17 plain iterations to 1e-12 on MNIST, against 7 mixed ones that cost 3 times
#: as much in bookkeeping); a map that is not gets Anderson from where the plain iterations stopped.
PLAIN_ITERATIONS = 40


def _fixed_point(F, x, tol, max_iter, lower, upper):
    """``x = F(x)`` for a whole batch of rows: up to ``PLAIN_ITERATIONS`` plain iterations, then (if some row
    has not settled to ``tol``) Anderson mixing from there."""
    rows = slice(None)
    for _ in range(PLAIN_ITERATIONS):
        new = F(x, rows)
        settled = np.abs(new - x).max() <= tol
        x = new
        if settled:
            return x
    # Anderson mixing works in double precision; its answer comes back in the batch's own, so that a step
    # whose rows needed it does not run its products in double (single precision is training's default).
    return anderson(F, x, tol=tol, max_iter=max_iter, memory=3, lower=lower, upper=upper)[0].astype(x.dtype,
                                                                                                   copy=False)


def steady_loss_grad(params, X, codes, temperature, H, K, *, smoothing=0.0, tol=1e-12, warm=None, rows=None):
    """Mean cross-entropy at the steady state of the recurrent network (labels smoothed by ``smoothing``, see
    :func:`_cross_entropy`), and its exact gradient.

    The adjoint of Eq. (1) restricted to the hidden cells: ``v = c + Jᵀ v`` with ``J_ij = (w+_ji - q_i w-_ji)
    / D_i`` (zero rows for saturated cells), solved for the whole batch by the same mixing; then, with
    ``u = v / D``, the weight gradients are outer products (see :func:`gelsim.steady_state_vjp`, which does
    the same on any network; here nothing of size ``(d + H)^2`` is formed). Both fixed points are solved
    to ``tol`` (relative, for the adjoint); training passes ``TRAINING_TOL``. With ``warm`` (a
    :class:`WarmStarts`) and the patterns' training ``rows``, both start from the patterns' last solutions
    and are recorded for the next visit."""
    w = weights(params, H, K)
    q_start, v_start = warm.get(rows) if warm is not None else (None, None)
    q, D = steady_hidden(w, X, tol=tol, start=q_start)
    No, Do = q @ w.ho_exc, w.r_out + q @ w.ho_inh
    Qo = np.minimum(No / Do, 1.0)
    loss, gQo = _cross_entropy(Qo, codes, temperature, smoothing)
    u_out = np.where(Qo < 1.0, gQo / Do, 0.0)
    g_ho_exc, g_ho_inh = q.T @ u_out, -q.T @ (u_out * Qo)
    g_r_out = -np.sum(u_out * Qo, axis=0)
    c = u_out @ w.ho_exc.T - (u_out * Qo) @ w.ho_inh.T
    free = (q < 1.0) / D                         # 1 / D_i, 0 for saturated cells
    Wt = np.vstack([w.hh_exc[0].T, -w.hh_inh[0].T])

    def adjoint(v, rows):
        u = v * free[rows]
        return c[rows] + np.hstack([u, u * q[rows]]) @ Wt

    scale = float(np.abs(c).max()) or 1.0
    v = _fixed_point(adjoint, c if v_start is None else v_start, tol * scale, 10_000, lower=-np.inf, upper=np.inf)
    if warm is not None:
        warm.put(rows, q, v)
    u = v * free
    U = np.hstack([u, -u * q])                         # what each cell's excitation and inhibition pass back
    g_src, g_hh = w.source_root_grad(X, U), q.T @ U
    grads = _weight_grads_to_params(w, H, K, g_src, [g_hh], g_ho_exc, g_ho_inh,
                                    U[:, H:].sum(axis=0), g_r_out)
    return loss, grads


def steady_loss_grad_by_network(params, X, codes, temperature, H, K, *, smoothing=0.0):
    """:func:`steady_loss_grad` by the general route: the whole model as a :class:`Network`, solved by
    :func:`gelsim.solve` and differentiated by one batched adjoint solve (:func:`gelsim.steady_state_vjp`).
    Kept as the reference the fast route is tested against."""
    w = weights(params, H, K)
    net = network(w)
    d = w.src.shape[0]
    E = np.zeros((X.shape[0], net.n_cells))
    E[:, :d] = X * net.fire_rate[:d]
    ss = solve(net, ext_exc=E, memory=3)   # a short Anderson history: fewer flops a step (see gradients.py)
    Qo = ss.q[:, -K:]
    loss, gQo = _cross_entropy(Qo, codes, temperature, smoothing)
    C = np.zeros_like(E)
    C[:, -K:] = gQo
    g = steady_state_vjp(net, C, ext_exc=E, steady_state=ss)
    hid, out = slice(d, d + H), slice(d + H, d + H + K)
    # A source's q is x whatever its rate: the rate's own terms (fire rate and Λ = x ρ) cancel exactly.
    g_rho = g.fire_rate[:d] + np.sum(g.ext_exc[:, :d] * X, axis=0)
    g_src = np.hstack([g.w_exc[:d, hid], g.w_inh[:d, hid]]) + g_rho[:, None]      # dρ_i/dw_ik = 1
    grads = _weight_grads_to_params(w, H, K, _chain_to_roots(g_src, w.src_roots),
                                    [np.hstack([g.w_exc[hid, hid], g.w_inh[hid, hid]])], g.w_exc[hid, out],
                                    g.w_inh[hid, out], g.fire_rate[hid], g.fire_rate[out])
    return loss, grads


def outputs(params, X, steps, H, K):
    """Output excitations (n, K): steady state (``steps`` None) or after ``steps`` maps."""
    w = weights(params, H, K)
    if steps is not None:
        return unrolled_forward(w, X, steps)[2]
    q = steady_hidden(w, X)[0]
    return np.minimum(q @ w.ho_exc / (w.r_out + q @ w.ho_inh), 1.0)


def sequence_network(w, steps, x_seq=None, readout="last"):
    """The sequence model as one :class:`Network` (sparse weights): ``steps`` groups of sources (step t's
    input), as many copies of the hidden layer (copy t fed by step t's sources and by copy t - 1), then the
    outputs, fed by the last copy (``readout="last"``) or by every copy, with its segment's output weights
    divided by the segment's length (``"mean"``; a copy then sends less than its slots allow, the rest
    leaves the network).
    ``x_seq`` (steps, d) sets the sources' excitation; the steady state of this feed-forward network is
    the model's output for it."""
    d, H, K = w.src.shape[0], w.r.size, w.r_out.size
    rho = w.rho
    n_src = steps * d
    n = n_src + steps * H + K
    blocks = _Blocks(n)
    spans = segment_spans(steps, w.ho_exc.shape[0] // H) if readout == "mean" else None
    for t in range(steps):
        hid = n_src + t * H
        blocks.put(t * d, hid, w.src_exc, w.src_inh)
        if t + 1 < steps:
            blocks.put(hid, hid + H, w.hh_exc[0], w.hh_inh[0])
        if readout == "mean":
            s, (start, stop) = next((s, span) for s, span in enumerate(spans) if span[0] <= t < span[1])
            rows = slice(s * H, (s + 1) * H)
            blocks.put(hid, n - K, w.ho_exc[rows] / (stop - start), w.ho_inh[rows] / (stop - start))
        elif t + 1 == steps:
            blocks.put(hid, n - K, w.ho_exc, w.ho_inh)
    fire = np.concatenate([np.tile(rho, steps), np.tile(w.r, steps), w.r_out])
    ext = np.zeros(n)
    if x_seq is not None:
        ext[:n_src] = (np.asarray(x_seq, float) * rho).ravel()
    return Network(fire_rate=fire, w_exc=blocks.matrix("exc", False), w_inh=blocks.matrix("inh", False),
                   ext_exc=ext)
