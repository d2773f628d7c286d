import numpy as np
import pytest
import scipy.sparse as sp

import gelsim
from gelsim import Network, generators


def small_net(**overrides):
    kw = dict(fire_rate=[2.0, 3.0], w_exc=[[0.0, 1.5], [0.5, 0.0]], w_inh=[[0.0, 0.5], [0.0, 0.0]],
              ext_exc=[1.0, 0.2], ext_inh=[0.3, 0.0])
    kw.update(overrides)
    return Network(**kw)


def test_from_probabilities_matches_weights():
    a = Network.from_probabilities(fire_rate=[2.0, 3.0], p_exc=[[0, 0.75], [1 / 6, 0]],
                                   p_inh=[[0, 0.25], [0, 0]], ext_exc=[1.0, 0.2], ext_inh=[0.3, 0.0])
    b = small_net()
    np.testing.assert_allclose(a.w_exc, b.w_exc)
    np.testing.assert_allclose(a.w_inh, b.w_inh)
    np.testing.assert_allclose(b.departure, [0.0, 5 / 6])


def test_repr_is_short_and_informative():
    text = repr(small_net())
    assert text.startswith("Network(N=2, dense, edges=3 (2 exc, 1 inh), recurrent=True")
    assert len(text) < 120


@pytest.mark.parametrize("name, value, fragment", [
    ("w_exc", [[0.0, 1.0]], "'w_exc' parameter of Network must be a non-negative array of shape (2, 2)"),
    ("w_exc", [[0.0, -1.0], [0.0, 0.0]], "'w_exc' parameter of Network must be finite and non-negative"),
    ("w_inh", [[0.0, np.nan], [0.0, 0.0]], "'w_inh' parameter of Network must be finite"),
    ("ext_exc", [1.0, -2.0], "'ext_exc' parameter of Network must be finite and non-negative. Got [-2.0] at cell [1]"),
    ("ext_inh", [1.0, 2.0, 3.0], "'ext_inh' parameter of Network must have length 2"),
    ("fire_rate", [[1.0, 2.0]], "'fire_rate' parameter of Network must be a non-empty 1-D array"),
    ("fire_rate", [np.inf, 3.0], "'fire_rate' parameter of Network must be finite"),
])
def test_bad_input_names_parameter(name, value, fragment):
    with pytest.raises(ValueError) as err:
        small_net(**{name: value})
    assert fragment in str(err.value)


def test_row_sum_violation_names_cell_and_values():
    with pytest.raises(ValueError, match=r"Violated at cell\(s\) \[0\]: out-weight sums \[2.5\] > fire_rate \[2.0\]"):
        small_net(w_exc=[[0.0, 2.0], [0.5, 0.0]])


def test_silent_cell_cannot_send():
    with pytest.raises(ValueError, match="have fire_rate 0 and so cannot send spikes"):
        small_net(fire_rate=[0.0, 3.0])


def test_row_sum_tolerance_accepts_rounding():
    Network(fire_rate=[0.3], w_exc=[[0.1 + 0.2]], w_inh=[[0.0]])  # 0.30000000000000004 > 0.3


def test_probability_rows_checked():
    with pytest.raises(ValueError, match="must sum to at most 1"):
        Network.from_probabilities(fire_rate=[1.0], p_exc=[[0.7]], p_inh=[[0.4]])


def test_dense_and_sparse_agree():
    net = generators.random_recurrent(60, rng=3, sparse=False)
    sparse = Network(fire_rate=net.fire_rate, w_exc=sp.csr_matrix(net.w_exc), w_inh=sp.csr_matrix(net.w_inh),
                     ext_exc=net.ext_exc, ext_inh=net.ext_inh)
    assert sparse.is_sparse and not net.is_sparse
    np.testing.assert_allclose(gelsim.solve(net).q, gelsim.solve(sparse).q, rtol=0, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_save_load_roundtrip(tmp_path, sparse):
    net = generators.random_recurrent(30, rng=1, sparse=sparse)
    path = tmp_path / "net.npz"
    net.save(path)
    back = Network.load(path)
    assert back.is_sparse == sparse
    np.testing.assert_array_equal(gelsim.solve(back).q, gelsim.solve(net).q)


def test_load_rejects_foreign_file(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a gelsim network file"):
        Network.load(path)


def test_generators_shapes_and_structure():
    ff = generators.feedforward([5, 4, 3], rng=0)
    assert ff.n_cells == 12 and not ff.is_recurrent
    rec = generators.random_recurrent(200, out_degree=5, rng=0)
    assert rec.is_recurrent
    assert rec.w_exc.count_nonzero() + rec.w_inh.count_nonzero() <= 200 * 5
    np.testing.assert_allclose(rec.departure, 0.2, atol=1e-12)
    # rate_decades: rates over 3 decades, nothing else changed when it is 0, bad values named.
    wide = generators.random_recurrent(200, out_degree=5, rate_decades=3, rng=0)
    assert 100 < wide.fire_rate.max() / wide.fire_rate.min() <= 3 * 1000
    assert np.all(wide.departure >= 0.2 - 1e-12) and wide.departure.max() > 0.5  # spikes to slower cells leave
    same = generators.random_recurrent(200, out_degree=5, rate_decades=0, rng=0)
    np.testing.assert_array_equal(same.fire_rate, rec.fire_rate)
    with pytest.raises(ValueError, match="'rate_decades' parameter of random_recurrent must be a number >= 0"):
        generators.random_recurrent(10, rate_decades=-1)


def test_arrays_are_read_only():
    net = small_net()
    with pytest.raises(ValueError):
        net.fire_rate[0] = 5.0


@pytest.mark.parametrize("sparse", [False, True])
def test_omitted_inhibition_keeps_storage_kind(sparse):
    p = np.array([[0.0, 0.5], [0.2, 0.0]])
    p = sp.csr_matrix(p) if sparse else p
    assert Network.from_probabilities(fire_rate=[1.0, 1.0], p_exc=p).is_sparse == sparse
    assert Network(fire_rate=[1.0, 1.0], w_exc=p).is_sparse == sparse


def test_inputs_are_copied_not_frozen():
    rates = np.array([1.0, 2.0])
    w = np.zeros((2, 2))
    net = Network(fire_rate=rates, w_exc=w, ext_exc=rates)
    rates[0] = 5.0  # the caller's arrays stay writable and the network does not change
    w[0, 1] = 0.5
    assert net.fire_rate[0] == 1.0 and net.ext_exc[0] == 1.0 and net.w_exc[0, 1] == 0.0


def test_stored_zeros_are_dropped():
    """Explicit zeros in sparse weights would double every mat-vec on such input; they are removed."""
    import scipy.sparse as sp

    w = sp.csr_matrix((np.array([0.5, 0.0, 0.0]), np.array([1, 0, 2]), np.array([0, 1, 3, 3])), shape=(3, 3))
    assert w.nnz == 3
    net = gelsim.Network(fire_rate=np.ones(3), w_exc=w, ext_exc=[1.0, 0, 0])
    assert net.w_exc.nnz == 1 and net.w_exc[0, 1] == 0.5


@pytest.mark.parametrize("content", ["text", "npy"])
def test_load_rejects_files_that_are_not_networks(tmp_path, content):
    path = tmp_path / "not_a_network.bin"
    if content == "text":
        path.write_text("hello, this is not an archive\n")
    else:
        with open(path, "wb") as fh:
            np.save(fh, np.arange(3))
    with pytest.raises(ValueError, match="is not a gelsim network file"):
        gelsim.Network.load(path)


# ---------------------------------------------------------------- defects found by a new user (#25)
def test_sparse_indices_outside_the_matrix_are_refused():
    """A CSR matrix whose column indices point past its shape used to build, then read out of bounds."""
    for index in (7, 10**8):
        bad = sp.csr_matrix((np.array([0.5]), np.array([index]), np.array([0, 1, 1])), shape=(2, 2))
        with pytest.raises(ValueError, match=r"'w_exc' parameter of Network is a malformed CSR matrix"):
            gelsim.Network(fire_rate=[1.0, 1.0], w_exc=bad)
    falling = sp.csr_matrix((np.array([0.5]), np.array([1]), np.array([0, 1, 1])), shape=(2, 2))
    falling.indptr = np.array([0, 1, 0])
    with pytest.raises(ValueError, match="indptr must rise"):
        gelsim.Network(fire_rate=[1.0, 1.0], w_inh=falling, w_exc=sp.csr_matrix((2, 2)))


def test_a_crafted_file_with_bad_indices_is_refused(tmp_path):
    path = tmp_path / "net.npz"
    gelsim.Network(fire_rate=[1.0, 1.0], w_exc=sp.csr_matrix([[0, 0.5], [0, 0]])).save(path)
    with np.load(path) as f:
        data = dict(f)
    data["w_exc_indices"] = np.array([7], np.int32)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **data)
    with pytest.raises(ValueError, match="malformed CSR"):
        gelsim.Network.load(path)


@pytest.mark.parametrize("sparse", [False, True])
def test_the_network_stays_immutable(sparse):
    """Sparse data, and dense weights after pickle or deepcopy, used to be writable: a cached solution then
    went stale while the simulator saw the new weights."""
    import copy
    import pickle

    w = [[0.0, 0.5], [0.0, 0.0]]
    net = gelsim.Network(fire_rate=[1.0, 1.0], w_exc=sp.csr_matrix(w) if sparse else np.array(w), ext_exc=[0.5, 0])
    for copy_of in (net, pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        targets = [copy_of.fire_rate, copy_of.ext_exc, copy_of.ext_inh]
        for weights in (copy_of.w_exc, copy_of.w_inh):
            targets += [weights.data, weights.indices, weights.indptr] if sparse else [weights]
        for arr in targets:
            with pytest.raises(ValueError, match="read-only"):
                arr[0] = 100


def test_save_writes_the_path_it_is_given(tmp_path):
    net = gelsim.generators.line_tandem()
    net.save(tmp_path / "mynet")                  # numpy alone would have written mynet.npz
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mynet"]
    assert gelsim.Network.load(tmp_path / "mynet").n_cells == 2


def test_unreadable_files_are_value_errors(tmp_path):
    good = tmp_path / "good.npz"
    gelsim.generators.line_tandem().save(good)
    content = good.read_bytes()
    damaged = bytearray(content)
    damaged[200:260] = bytes(60)
    cases = {"garbage": b"garbage bytes", "truncated": content[:300], "damaged": bytes(damaged),
             "empty": b""}
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match="not a gelsim network file|damaged gelsim network file"):
            gelsim.Network.load(path)
    with pytest.raises(FileNotFoundError):
        gelsim.Network.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("build, message", [
    (lambda: Network.from_probabilities(2.0, [[0.5]]), "'fire_rate' parameter of Network.from_probabilities"),
    (lambda: Network(fire_rate="ab", w_exc=[[0.0]]), "'fire_rate' parameter of Network"),
    (lambda: Network(fire_rate=[1.0], w_exc=[[0.5 + 1j]]), "'w_exc' parameter of Network must be real"),
    (lambda: Network(fire_rate=[1.0], w_exc=sp.csr_matrix(np.array([[0.5 + 1j]]))), "'w_exc' .* must be real"),
    (lambda: Network(fire_rate=[1.0], w_exc=[["a"]]), "'w_exc' parameter of Network"),
    (lambda: Network(fire_rate=[1.0], w_exc=[[0.5]], ext_exc="x"), "'ext_exc' parameter of Network"),
])
def test_unreadable_parameters_are_named(build, message):
    """A scalar rate gave a bare IndexError, strings numpy's bare conversion error, complex weights were
    truncated with a warning only."""
    with pytest.raises(ValueError, match=message):
        build()


def test_n_jobs_reads_as_in_scikit_learn():
    import os

    from gelsim._checks import check_n_jobs

    cores = os.cpu_count() or 1
    assert check_n_jobs(None, "f") == cores and check_n_jobs(-1, "f") == cores and check_n_jobs(3, "f") == 3
    assert check_n_jobs(-2, "f") == max(cores - 1, 1)
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match="'n_jobs' parameter of f"):
            check_n_jobs(bad, "f")


def test_record_no_spikes():
    res = gelsim.simulate(generators.mm1(1.0, 2.0), duration=10.0, replications=2, record_spikes=[], rng=0)
    assert res.spike_times.size == 0


def test_rates_beyond_float64_are_refused():
    """Rates near 1e308 made Eq. (1)'s sums overflow and q silently 0."""
    with pytest.raises(ValueError, match="too large for float64"):
        Network(fire_rate=[1e308], w_exc=[[0.0]], ext_exc=[0.5e308], ext_inh=[1e308])
    assert gelsim.solve(Network(fire_rate=[1e308], w_exc=[[0.0]], ext_exc=[0.5e308])).q[0] == 0.5
