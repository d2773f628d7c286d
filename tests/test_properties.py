"""Properties of random networks (Hypothesis): Eq. (1)'s invariants hold for every valid network, every
representation gives the same answer, and every invalid input is refused with an error naming its parameter.

A short search runs by default; ``HYPOTHESIS_PROFILE=slow python -m pytest tests/test_properties.py``
searches longer.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import gelsim

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def networks(draw, max_cells=6, sparse=None):
    """A valid network: positive firing rates, routing rows that keep some departure, external rates."""
    n = draw(st.integers(1, max_cells))
    rate = draw(arrays(float, n, elements=st.floats(0.05, 5.0, **finite)))
    mass = draw(arrays(float, (n, 2 * n), elements=st.floats(0.0, 1.0, **finite)))
    mass *= draw(arrays(float, (n, 2 * n), elements=st.sampled_from([0.0, 1.0])))   # sparsity pattern
    spend = draw(arrays(float, n, elements=st.floats(0.0, 1.0, **finite)))         # 1 - departure
    total = mass.sum(axis=1, keepdims=True)
    p = np.divide(mass * spend[:, None], total, out=np.zeros_like(mass), where=total > 0)
    w_exc, w_inh = rate[:, None] * p[:, :n], rate[:, None] * p[:, n:]
    # Rounding can push a row sum a hair above its rate: shrink such rows a little.
    w_exc, w_inh = w_exc * (1 - 1e-12), w_inh * (1 - 1e-12)
    if sparse if sparse is not None else draw(st.booleans()):
        w_exc, w_inh = sp.csr_matrix(w_exc), sp.csr_matrix(w_inh)
    ext_exc = draw(arrays(float, n, elements=st.floats(0.0, 3.0, **finite)))
    ext_inh = draw(arrays(float, n, elements=st.floats(0.0, 3.0, **finite)))
    return gelsim.Network(fire_rate=rate, w_exc=w_exc, w_inh=w_inh, ext_exc=ext_exc, ext_inh=ext_inh)


def _dense(w):
    return w.toarray() if sp.issparse(w) else np.asarray(w)


@given(networks())
def test_solution_is_the_fixed_point_of_eq1_with_flow_balance(net):
    ss = gelsim.solve(net)
    q = ss.q
    assert ss.converged and np.all((q >= 0) & (q <= 1))
    w_exc, w_inh = _dense(net.w_exc), _dense(net.w_inh)
    inflow = net.ext_exc + q @ w_exc
    outflow = net.fire_rate + net.ext_inh + q @ w_inh
    # Flow balance at every unsaturated cell: what excites it equals q times what empties it.
    free = ~ss.saturated
    np.testing.assert_allclose(inflow[free], q[free] * outflow[free], rtol=1e-8, atol=1e-9)
    # A saturated cell receives at least what it can spend, and reads 1.
    assert np.all(inflow[ss.saturated] >= outflow[ss.saturated] * (1 - 1e-8))
    np.testing.assert_allclose(q[ss.saturated], 1.0, atol=1e-9)


@given(networks(sparse=False), st.floats(1e-3, 1e3, **finite))
def test_dense_sparse_and_time_unit_give_the_same_q(net, scale):
    q = gelsim.solve(net).q
    as_sparse = gelsim.Network(fire_rate=net.fire_rate, w_exc=sp.csr_matrix(net.w_exc),
                               w_inh=sp.csr_matrix(net.w_inh), ext_exc=net.ext_exc, ext_inh=net.ext_inh)
    np.testing.assert_allclose(gelsim.solve(as_sparse).q, q, atol=1e-9)
    # Every rate times one factor is a change of time unit: q does not move.
    rescaled = gelsim.Network(fire_rate=net.fire_rate * scale, w_exc=net.w_exc * scale, w_inh=net.w_inh * scale,
                              ext_exc=net.ext_exc * scale, ext_inh=net.ext_inh * scale)
    np.testing.assert_allclose(gelsim.solve(rescaled).q, q, atol=1e-8)


@given(networks(), st.integers(1, 4), st.data())
def test_a_batch_is_its_rows(net, rows, data):
    ext = data.draw(arrays(float, (rows, net.n_cells), elements=st.floats(0.0, 3.0, **finite)))
    batch = gelsim.solve(net, ext_exc=ext).q
    for row in range(rows):
        np.testing.assert_allclose(batch[row], gelsim.solve(net, ext_exc=ext[row]).q, atol=1e-9)


@pytest.mark.usefixtures("compiled_kernels")
@given(networks(max_cells=4), st.integers(0, 2**32 - 1))
def test_simulation_reads_are_probabilities_and_repeat_for_a_seed(net, seed):
    assume(float(net.ext_exc.sum()) > 0)        # a network with no external excitation has nothing to run
    res = gelsim.simulate(net, duration=20.0, replications=2, rng=seed, progress=False)
    again = gelsim.simulate(net, duration=20.0, replications=2, rng=seed, progress=False)
    assert np.all((res.q >= 0) & (res.q <= 1)) and res.events >= 0
    np.testing.assert_array_equal(res.q, again.q)
    assert res.saturated.dtype == bool and res.saturated.shape == (net.n_cells,)


# ---------------------------------------------------------------- invalid input is refused, by name
bad_numbers = st.sampled_from([-1.0, -1e-300, np.nan, np.inf, -np.inf])


@given(networks(sparse=False), st.sampled_from(["fire_rate", "ext_exc", "ext_inh", "w_exc", "w_inh"]), bad_numbers,
       st.data())
def test_a_bad_entry_is_refused_naming_its_parameter(net, name, bad, data):
    args = dict(fire_rate=net.fire_rate.copy(), w_exc=net.w_exc.copy(), w_inh=net.w_inh.copy(),
                ext_exc=net.ext_exc.copy(), ext_inh=net.ext_inh.copy())
    target = args[name]
    index = tuple(data.draw(st.integers(0, size - 1)) for size in target.shape)
    target[index] = bad
    with pytest.raises(ValueError, match=f"'{name}' parameter of Network"):
        gelsim.Network(**args)


@given(networks(sparse=False), st.sampled_from(["w_exc", "w_inh", "ext_exc", "fire_rate"]), st.integers(1, 3))
def test_a_wrong_shape_is_refused_naming_its_parameter(net, name, extra):
    args = dict(fire_rate=net.fire_rate, w_exc=net.w_exc, w_inh=net.w_inh, ext_exc=net.ext_exc)
    value = np.asarray(args[name])
    args[name] = np.zeros(tuple(s + extra for s in value.shape)) + (0.1 if name == "fire_rate" else 0.0)
    if name == "fire_rate":   # more cells than the weights have: the weights' shape is then what is wrong
        name = "w_exc"
    with pytest.raises(ValueError, match=f"'{name}' parameter of Network"):
        gelsim.Network(**args)


@given(networks(), st.floats(1.01, 10.0, **finite))
def test_a_row_that_spends_more_than_its_rate_is_refused(net, factor):
    w_exc = _dense(net.w_exc) + 0.0
    row = int(np.argmax(net.fire_rate))
    w_exc[row, 0] += factor * net.fire_rate[row]
    with pytest.raises(ValueError, match=r"sum_j \(w_exc\[i, j\] \+ w_inh\[i, j\]\) <= fire_rate\[i\]"):
        gelsim.Network(fire_rate=net.fire_rate, w_exc=w_exc, w_inh=_dense(net.w_inh), ext_exc=net.ext_exc)


_NOT_NUMBERS = ["ten", True, None, [1.0]]
_BAD_SIMULATE = {"duration": [-1.0, 0.0, np.nan, np.inf, *_NOT_NUMBERS], "replications": [-1, 0, 2.5, *_NOT_NUMBERS],
                 "hist_size": [-1, 0, 2.5, *_NOT_NUMBERS], "warmup": [-1.0, np.nan, np.inf, "ten", True, [1.0]]}
_BAD_SOLVE = {"tol": [-1.0, 0.0, np.nan, np.inf, *_NOT_NUMBERS], "max_iter": [-1, 0, 1.5, *_NOT_NUMBERS],
              "memory": [-1, 1.5, *_NOT_NUMBERS]}


@given(st.sampled_from([(name, value) for name, values in _BAD_SIMULATE.items() for value in values]))
def test_simulate_refuses_bad_settings_by_name(case):
    name, value = case
    settings = dict(duration=10.0, replications=2, hist_size=3)
    settings[name] = value
    with pytest.raises((ValueError, TypeError), match=f"'{name}' parameter of simulate|simulate needs 'duration'"):
        gelsim.simulate(gelsim.generators.mm1(), rng=0, progress=False, **settings)


@given(st.sampled_from([(name, value) for name, values in _BAD_SOLVE.items() for value in values]))
def test_solve_refuses_bad_settings_by_name(case):
    name, value = case
    with pytest.raises((ValueError, TypeError), match=f"'{name}' parameter of solve"):
        gelsim.solve(gelsim.generators.line_tandem(), **{name: value})
