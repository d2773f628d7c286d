"""The mathematics of the convolutional single-cell classifiers: kernel banks, readout, spiking network.

A *bank* fixes every convolution cell: MiniRocket's 84 kernels of 9 taps (3 of weight +2, all of weight
-1; see :mod:`gelsim.learn._conv_kernels`), dilations, the channels each kernel sums (series), which kernels are
padded, and one bias per feature, which is the firing rate of that feature's position cells. The pooled
features go to a linear readout, realised as output cells with non-negative weights (:func:`realise`).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from . import _conv_kernels as kern
from ..network import Network
from ..steady.model_network import ModelNetwork

@contextmanager
def kernel_threads():
    """Run the parallel feature kernels on no more threads than the caller allows: inside a joblib worker
    (``cross_val_score(..., n_jobs=-1)``) joblib sets ``OMP_NUM_THREADS`` to the worker's share of the
    cores, which Numba does not read by itself, so the workers' threads would oversubscribe the machine."""
    import numba

    allowed = os.environ.get("OMP_NUM_THREADS", "")
    before = numba.get_num_threads()
    limit = min(before, int(allowed)) if allowed.isdigit() and int(allowed) > 0 else before
    numba.set_num_threads(limit)
    try:
        yield
    finally:
        numba.set_num_threads(before)


#: The feature kernels' code for each pooling.
POOLINGS = {"soft": kern.SOFT, "exact": kern.EXACT, "sharp": kern.SHARP, "soft and sharp": kern.SOFT_AND_SHARP}
_GOLDEN = (np.sqrt(5.0) + 1.0) / 2.0
#: Smallest |bias|, in units of the scaled input (one tap spans [0, 1]). A bias is a firing rate, so it
#: must be positive; a quantile that is exactly 0 (flat or blank stretches) becomes this. Far smaller
#: values change no feature measurably but make cells so slow that a simulation of the network stalls.
MIN_BIAS = 1e-3
#: Smallest |bias| of an image bank. Images have blank areas, so more than half of MNIST's quantile
#: biases are 0; at ``MIN_BIAS`` those cells fire a thousandth as often as spikes arrive at them, and a
#: sampled decision cost 5e8 events (median, predicted). At one tap's full span the ridge readout's
#: accuracy is unchanged (MNIST sample 96.0 -> 96.2 %, digits 99.07 -> 99.07 %) and decisions are
#: 480 times cheaper on MNIST, 1.7 times on digits (see ``benchmarks/sampled_inference.py``).
IMAGE_MIN_BIAS = 1.0


@dataclass(frozen=True)
class SeriesBank:
    """Convolution cells for series of ``n_channels`` x ``length`` (inputs scaled into [0, 1])."""

    length: int
    n_channels: int
    pad: np.ndarray            # (n_channels,) value of a tap outside the series (the scaled raw 0)
    dilations: np.ndarray      # (n_dil,)
    n_biases: np.ndarray       # (n_dil,) biases per kernel at each dilation
    channel_start: np.ndarray  # (84 n_dil + 1,) combination k sums channel_index[start[k]:start[k + 1]]
    channel_index: np.ndarray
    biases: np.ndarray         # (n_features,)
    load: float = 1.0          # scale of every position cell's excitation (see _conv_kernels)
    split_at: np.ndarray | None = None   # (n_channels,) each channel's training mean, for the split coding

    @property
    def split(self):
        return self.split_at is not None

    def coded(self, U):
        """The network's inputs (n, channels', length) for scaled series ``U``: ``U`` itself, or with the
        split coding each channel's rise above its training mean and fall below it (2 x channels)."""
        if not self.split:
            return U
        m = self.split_at[None, :, None]
        return np.concatenate([np.maximum(U - m, 0.0), np.maximum(m - U, 0.0)], axis=1)

    @property
    def coded_pad(self):
        """The value of each coded channel in the padding."""
        return self.coded(self.pad[None, :, None])[0, :, 0]

    def inputs(self, U):
        """Each series' input values as the network takes them, flattened (n, n_inputs)."""
        return self.coded(U).reshape(U.shape[0], -1)

    @property
    def n_inputs(self):
        """Inputs of the network: a value per channel and step, twice that with the split coding."""
        return self.n_channels * self.length * (2 if self.split else 1)

    def features(self, U, pooling="soft"):
        """Pooled features (n, n_features) of scaled series ``U``, read as ``pooling`` says (see
        :mod:`gelsim.learn._conv_kernels`)."""
        with kernel_threads():
            return kern.series_features(self.coded(U), self.coded_pad, self.dilations, self.n_biases,
                                        self.channel_start, self.channel_index, self.biases, POOLINGS[pooling],
                                        self.load, self.split)

    def locate(self, feature):
        """``(dilation index, kernel, bias)`` of a feature."""
        return _locate(self.n_biases, feature) + (float(self.biases[feature]),)

    def position_q(self, u, feature, pooling="soft"):
        """What ``pooling`` reads at each position of ``feature`` for one scaled series ``u``: the position
        cells' excitation probability (soft), their pairs' combination (sharp)."""
        j, k, b = self.locate(feature)
        d = int(self.dilations[j])
        combo = j * 84 + k
        channels = self.channel_index[self.channel_start[combo]:self.channel_start[combo + 1]]
        read = kern.sharp_count if pooling == "sharp" else kern.cell_q
        q = read(*kern.series_cells(self.coded(u[None])[0], self.coded_pad, d, channels, k, self.split), b, self.load)
        return q if (j + k) % 2 == 0 else q[4 * d:u.shape[1] - 4 * d]


@dataclass(frozen=True)
class ImageBank:
    """Convolution cells for images of ``shape`` at every ``stride``-th pixel, pooled over a grid of regions."""

    shape: tuple
    stride: int
    dilations: np.ndarray
    n_biases: np.ndarray
    biases: np.ndarray         # (n_kernel_features,): each is pooled over every region
    row_edges: np.ndarray      # region boundaries, counted in strided positions
    col_edges: np.ndarray
    load: float = 1.0          # scale of every position cell's excitation (see _conv_kernels)

    @property
    def n_regions(self):
        return (self.row_edges.size - 1) * (self.col_edges.size - 1)

    def inputs(self, U):
        """Each image's input values as the network takes them (pixels, row-major), (n, h * w)."""
        return U.reshape(U.shape[0], -1)

    @property
    def n_inputs(self):
        """Inputs of the network: one per pixel."""
        return int(np.prod(self.shape))

    def features(self, U, pooling="soft"):
        """Pooled features (n, n_features) of scaled images ``U``, read as ``pooling`` says."""
        with kernel_threads():
            return kern.image_features(U, self.stride, self.dilations, self.n_biases, self.biases, self.row_edges,
                                       self.col_edges, POOLINGS[pooling], self.load)

    def position_q(self, u, feature, pooling="soft"):
        """What ``pooling`` reads at each position of ``feature`` (a (kernel, dilation, bias) index, before
        pooling over regions) for one scaled image ``u``: an array over kernel positions."""
        j, k = _locate(self.n_biases, feature)
        read = kern.sharp_count if pooling == "sharp" else kern.cell_q
        return read(*kern.image_cells(u, self.stride, int(self.dilations[j]), k), float(self.biases[feature]),
                    self.load)


def _locate(n_biases, feature):
    """``(dilation index, kernel)`` of a (kernel, dilation, bias) index, ordered dilation, kernel, bias."""
    per_dilation = 84 * n_biases
    j = int(np.searchsorted(np.cumsum(per_dilation), feature, side="right"))
    return j, (feature - int(per_dilation[:j].sum())) // int(n_biases[j])


def _dilations(n_per_kernel, max_dilation, max_dilations):
    """MiniRocket's exponential dilations up to ``max_dilation``, sharing ``n_per_kernel`` biases."""
    n_dil = max(1, min(n_per_kernel, max_dilations))
    exponent = np.log2(max(max_dilation, 1))
    dil, counts = np.unique(np.logspace(0, exponent, n_dil, base=2).astype(np.int64), return_counts=True)
    n_biases = np.floor(counts * n_per_kernel / n_dil).astype(np.int64)
    for i in range(int(n_per_kernel - n_biases.sum())):
        n_biases[i % n_biases.size] += 1
    return dil, n_biases


def _quantiles(n):
    """A low-discrepancy sequence in (0, 1) (golden-ratio steps), as MiniRocket draws its bias quantiles."""
    return (np.arange(1, n + 1) * _GOLDEN) % 1.0


def fit_series_bank(U, pad, n_features, gen, *, max_dilations=32, bias_rule="quantile", load=1.0, coding="level"):
    """Draw a bank for scaled series ``U`` (n, channels, length) with about ``n_features`` features.

    Biases are quantiles of one random training series' convolution per kernel, as in MiniRocket;
    ``bias_rule="zero"`` uses 0 (the cells' firing rate then is :data:`MIN_BIAS`), for ablation.
    """
    n, n_ch, length = U.shape
    dil, n_biases = _dilations(max(n_features // 84, 1), (length - 1) / 8, max_dilations)
    n_comb = 84 * dil.size
    n_used = (2 ** gen.uniform(0, np.log2(min(n_ch, 9) + 1), n_comb)).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(n_used)]).astype(np.int64)
    # Each combination's channels: the first n_used of a random permutation of the channels.
    perms = np.argsort(gen.random((n_comb, n_ch)), axis=1)
    index = perms[np.arange(n_ch)[None, :] < n_used[:, None]].astype(np.int64)
    quant = _quantiles(84 * int(n_biases.sum()))
    picks = gen.integers(n, size=n_comb)
    if bias_rule == "zero":
        biases = np.zeros(quant.size)
    else:
        biases = kern.series_biases(U, np.asarray(pad, float), dil, n_biases, start, index, quant, picks)
    # A bias is a firing rate: never exactly 0 (a cell of rate 0 would hold every spike it gets).
    biases = np.where(np.abs(biases) < MIN_BIAS, MIN_BIAS, biases)
    split_at = U.mean(axis=(0, 2)) if coding == "split" else None
    return SeriesBank(length, n_ch, np.asarray(pad, float), dil, n_biases, start, index, biases, float(load),
                      split_at)


def fit_image_bank(U, n_kernel_features, gen, *, stride=1, regions=(2, 2), max_dilations=4, bias_rule="quantile",
                   load=1.0):
    """Draw a bank for scaled images ``U`` (n, h, w): ``n_kernel_features`` (kernel, dilation, bias) cells,
    each pooled over a ``regions`` grid."""
    n, h, w = U.shape
    # Dilations up to a sixth of the shorter side: a kernel spans at most a third of the image (on MNIST
    # this beat spans up to the whole image at half the features: benchmarks/conv_ablation.py).
    dil, n_biases = _dilations(max(n_kernel_features // 84, 1), (min(h, w) - 1) / 6, max_dilations)
    quant = _quantiles(84 * int(n_biases.sum()))
    picks = gen.integers(n, size=84 * dil.size)
    if bias_rule == "zero":
        biases = np.zeros(quant.size)
    else:
        biases = kern.image_biases(U, stride, dil, n_biases, quant, picks)
    biases = np.where(np.abs(biases) < IMAGE_MIN_BIAS, IMAGE_MIN_BIAS, biases)
    hs, ws = -(-h // stride), -(-w // stride)
    rows = np.round(np.linspace(0, hs, regions[0] + 1)).astype(np.int64)
    cols = np.round(np.linspace(0, ws, regions[1] + 1)).astype(np.int64)
    return ImageBank((h, w), stride, dil, n_biases, biases, rows, cols, float(load))


# ---------------------------------------------------------------------------------------------- network
# The spiking network of a fitted model. Each kernel feature is a set of position cells (one per kernel
# position) driven directly by the input: a tap carries the scaled input value as Poisson arrivals, of
# rate 3 g u (excitatory, chosen taps) and g u (inhibitory, all nine), and the cell fires at rate g |b|;
# for b < 0 the two roles swap. Its q does not depend on the gain g, which sets only its speed: each
# feature gets the gain that lets its pooling cells (one per region, firing at the sum of their
# positions' rates, so their q is the positions' mean) send exactly the flow its readout weights ask of
# them, ``w_jk`` to output cell k of rate 1. The gain is set per pooling cell (feature and region), so no
# position cell runs faster than its own pooling cell's weights need (one gain per feature would run
# every region at the pace of the most demanding one, and global scaling every feature), and a row with
# no weight has no cells at all.


class _Builder:
    """Accumulates cells (rates) and COO edges, then makes one :class:`Network`."""

    def __init__(self):
        self.fire_rate, self.ext_exc, self.ext_inh = [], [], []
        self.edges = {"exc": [], "inh": []}
        self.n = 0

    def add_cells(self, fire_rate, ext_exc=0.0, ext_inh=0.0):
        fire_rate = np.asarray(fire_rate, float)
        first = self.n
        self.fire_rate.append(fire_rate)
        self.ext_exc.append(np.broadcast_to(np.asarray(ext_exc, float), fire_rate.shape))
        self.ext_inh.append(np.broadcast_to(np.asarray(ext_inh, float), fire_rate.shape))
        self.n += fire_rate.size
        return first + np.arange(fire_rate.size)

    def connect(self, kind, src, dst, weight):
        src, dst, weight = np.broadcast_arrays(np.asarray(src), np.asarray(dst), np.asarray(weight, float))
        self.edges[kind].append((src.ravel(), dst.ravel(), weight.ravel()))

    def network(self):
        def matrix(parts):
            if not parts:
                return sp.csr_matrix((self.n, self.n))
            rows, cols, vals = (np.concatenate(x) for x in zip(*parts))
            return sp.csr_matrix((vals, (rows, cols)), shape=(self.n, self.n))

        ext_exc, ext_inh = np.concatenate(self.ext_exc), np.concatenate(self.ext_inh)
        return Network(fire_rate=np.concatenate(self.fire_rate), w_exc=matrix(self.edges["exc"]),
                       w_inh=matrix(self.edges["inh"]), ext_exc=ext_exc, ext_inh=ext_inh)


def _series_combos(bank):
    """Each kernel combination of a series bank: ``(dilation index, dilation, kernel, channels, positions)``
    (every position when padded, else those whose taps all lie inside the series)."""
    length = bank.length
    for j, d in enumerate(bank.dilations):
        for k in range(84):
            combo = j * 84 + k
            channels = bank.channel_index[bank.channel_start[combo]:bank.channel_start[combo + 1]]
            lo, hi = (0, length) if (j + k) % 2 == 0 else (4 * d, length - 4 * d)
            yield j, d, k, channels, np.arange(lo, hi)


def _series_features(bank):
    """Per kernel feature of a series bank: ``(bias, region of each position, taps, pad_exc, pad_inh)``.

    ``taps`` is a list of ``(input indices, position indices, excitation, inhibition)``: input
    ``c * length + s`` drives those positions with those factors (level coding: 3 and 1 on a chosen tap, 0
    and 1 on the others; split coding: a channel's rise 2 and 0 on a chosen tap, 0 and 1 on the others, its
    fall, input ``(c + channels) * length + s``, the other way round); ``pad_exc``/``pad_inh`` are the
    constant drive of taps in the padding (which hold the scaled raw 0, ``bank.pad``), per position, at gain 1.
    """
    length, n_ch = bank.length, bank.n_channels
    pad = bank.coded_pad
    f = 0
    for j, d, k, channels, t in _series_combos(bank):
        pad_exc, pad_inh = np.zeros(t.size), np.zeros(t.size)
        taps = []
        for tap in range(9):
            s = t + (tap - 4) * d
            inside = (s >= 0) & (s < length)
            chosen = tap in kern.TAPS[k]
            if bank.split:
                drives = [(0, 2.0, 0.0) if chosen else (0, 0.0, 1.0), (n_ch, 0.0, 2.0) if chosen else (n_ch, 1.0, 0.0)]
            else:
                drives = [(0, 3.0 if chosen else 0.0, 1.0)]
            for c in channels:
                for offset, exc, inh in drives:
                    taps.append(((c + offset) * length + s[inside], np.flatnonzero(inside), exc, inh))
                    pad_exc[~inside] += exc * pad[c + offset]
                    pad_inh[~inside] += inh * pad[c + offset]
        region = np.zeros(t.size, np.int64)
        for _ in range(bank.n_biases[j]):
            yield float(bank.biases[f]), region, taps, pad_exc, pad_inh
            f += 1


def _image_features(bank):
    """As :func:`_series_features` for an image bank (input ``y * width + x``, no padding)."""
    h, w = bank.shape
    ys, xs = np.meshgrid(np.arange(0, h, bank.stride), np.arange(0, w, bank.stride), indexing="ij")
    ys, xs = ys.ravel(), xs.ravel()
    m, n = ys // bank.stride, xs // bank.stride
    region = (np.searchsorted(bank.row_edges, m, side="right") - 1) * (bank.col_edges.size - 1) + \
        (np.searchsorted(bank.col_edges, n, side="right") - 1)
    no_pad = np.zeros(ys.size)
    f = 0
    for j, d in enumerate(bank.dilations):
        inside_taps = []
        for tap in range(9):
            y, x = ys + (tap // 3 - 1) * d, xs + (tap % 3 - 1) * d
            inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            inside_taps.append(((y * w + x)[inside], np.flatnonzero(inside)))
        for k in range(84):
            taps = [(src, pos, 3.0 if tap in kern.TAPS[k] else 0.0, 1.0) for tap, (src, pos) in enumerate(inside_taps)]
            for _ in range(bank.n_biases[j]):
                yield float(bank.biases[f]), region, taps, no_pad, no_pad
                f += 1


def _features(bank):
    return _image_features(bank) if isinstance(bank, ImageBank) else _series_features(bank)


def _n_regions(bank):
    return bank.n_regions if isinstance(bank, ImageBank) else 1


def _capacities(bank):
    """(n_kinds, n_regions): each pooling cell's firing rate at gain 1 (|b| times its positions)."""
    n_regions = _n_regions(bank)
    return np.array([abs(b) * np.bincount(region, minlength=n_regions)
                     for b, region, *_ in _features(bank)])


def region_gains(bank, weights):
    """(n_kinds, n_regions): the gain of each pooling cell's position cells, the smallest that lets the
    pooling cell send its readout row's total weight (``weights`` (n_features_out, n_classes), output cells
    of rate 1); 0 where the row is unused."""
    capacity = _capacities(bank)
    need = weights.sum(axis=1).reshape(capacity.shape)
    ratio = np.divide(need, capacity, out=np.zeros_like(need), where=capacity > 0)
    return ratio * (1.0 + 1e-9)   # a hair of headroom against rounding in the rate sums


def event_costs(bank, u_mean, f_mean):
    """Expected events per unit of readout weight, per pooled feature (n_features_out,).

    A row of total weight ``s`` costs its feature ``s / capacity`` of gain, and so ``s / capacity`` times
    the feature's events at gain 1 in that region: input arrivals at the mean input ``u_mean`` (as the
    network takes it, :meth:`SeriesBank.inputs`)
    (arrivals are linear in the input, so this is their mean over the inputs), the position cells'
    firings and the pooling cell's (each about ``f_mean`` of its rate).
    """
    n_regions = _n_regions(bank)
    u = np.asarray(u_mean, float).ravel()
    costs = []
    for b, region, taps, pad_exc, pad_inh in _features(bank):
        # The excitation (the exc drive for b > 0, the inh drive for b < 0) arrives scaled by the bank's load.
        exc_scale, inh_scale = (bank.load, 1.0) if b > 0 else (1.0, bank.load)
        arrivals = pad_exc * exc_scale + pad_inh * inh_scale
        for src, pos, exc, inh in taps:
            np.add.at(arrivals, pos, (exc * exc_scale + inh * inh_scale) * u[src])
        per_region = np.bincount(region, arrivals, minlength=n_regions)
        capacity = abs(b) * np.bincount(region, minlength=n_regions)
        costs.append(np.divide(per_region, capacity, out=np.full(n_regions, np.inf), where=capacity > 0))
    return np.concatenate(costs) + 2.0 * np.asarray(f_mean, float)


def pooled_banks(bank, pooling):
    """The banks whose soft pooling cells the network of ``pooling`` holds: ``bank`` itself, and for the
    sharp pooling also its copy at ``1 + SHARP_STEP`` times the load (the second cell of each pair)."""
    if pooling == "sharp":
        return [bank, replace(bank, load=bank.load * (1.0 + kern.SHARP_STEP))]
    return [bank]


def pooling_cell_features(bank, U, pooling):
    """What the network's pooling cells read for scaled inputs ``U``: the soft features of every bank of
    :func:`pooled_banks`, side by side."""
    return np.hstack([copy.features(U, "soft") for copy in pooled_banks(bank, pooling)])


def pooling_cell_coef(coef, pooling):
    """Scores' coefficients ``coef`` on the pooled features, moved onto :func:`pooling_cell_features`: a
    sharp feature is ``((1 + ε) m - m') / ε`` of its pair's pooling cells."""
    if pooling != "sharp":
        return coef
    step = kern.SHARP_STEP
    return np.vstack([coef * ((1.0 + step) / step), coef * (-1.0 / step)])


def model_network(bank, readout, pooling="soft"):
    """The fitted model as a :class:`gelsim.sampled.ModelNetwork`: position cells (driven by the inputs),
    pooling cells, then the readout's output cells (rate 1, external excitation ``readout.offset``). With
    the sharp ``pooling`` every position has two cells, each pooled apart (:func:`pooled_banks`), and
    ``readout`` reads :func:`pooling_cell_features`."""
    banks = pooled_banks(bank, pooling)
    n_regions = _n_regions(bank)
    n_rows = readout.weights.shape[0] // len(banks)
    n_inputs = bank.n_inputs
    b = _Builder()
    drive = {"exc": [], "inh": []}
    position_cells, position_rates, regions, rows = [], [], [], []
    for c, copy in enumerate(banks):
        _add_position_cells(b, copy, readout.weights[c * n_rows:(c + 1) * n_rows], c * n_rows, drive,
                            position_cells, position_rates, regions, rows)
    outputs = _pool_and_output(b, position_cells, position_rates, regions, n_regions, readout,
                               np.concatenate(rows) if rows else np.zeros(0, np.int64))
    net = b.network()

    def matrix(parts):
        if not parts:
            return sp.csr_matrix((net.n_cells, n_inputs))
        rows_, cols, vals = (np.concatenate(x) for x in zip(*parts))
        return sp.csr_matrix((vals, (rows_, cols)), shape=(net.n_cells, n_inputs))

    return ModelNetwork(net, matrix(drive["exc"]), matrix(drive["inh"]), outputs)


def _add_position_cells(b, bank, weights, first_row, drive, position_cells, position_rates, regions, rows):
    """Add ``bank``'s position cells for the readout rows ``weights`` (row ``first_row`` onwards) to the
    builder ``b``, their input drive to ``drive``, and one entry per used feature to the other lists."""
    n_regions = _n_regions(bank)
    gains = region_gains(bank, weights)
    for f, (bias, region, taps, pad_exc, pad_inh) in enumerate(_features(bank)):
        g = gains[f][region]                  # each position cell's gain
        keep = g > 0.0
        if not keep.any():
            continue
        # Position p of the feature is cell ``cells[slot[p]]`` (positions of unused regions get none).
        slot = np.cumsum(keep) - 1
        # b > 0: excitation E, inhibition I; b < 0: the roles swap.
        exc, inh = ("exc", "inh") if bias > 0 else ("inh", "exc")
        # The excitation, whichever taps carry it, is scaled by the bank's load.
        scale = {"exc": bank.load, "inh": 1.0}
        pads = {exc: (pad_exc * g * scale[exc])[keep], inh: (pad_inh * g * scale[inh])[keep]}
        cells = b.add_cells(g[keep] * abs(bias), ext_exc=pads["exc"], ext_inh=pads["inh"])
        for src, pos, exc_factor, inh_factor in taps:
            live = keep[pos]
            src, pos = src[live], pos[live]
            if exc_factor:
                drive[exc].append((cells[slot[pos]], src, exc_factor * g[pos] * scale[exc]))
            if inh_factor:
                drive[inh].append((cells[slot[pos]], src, inh_factor * g[pos] * scale[inh]))
        position_cells.append(cells)
        position_rates.append(g[keep] * abs(bias))
        regions.append(region[keep])
        rows.append(first_row + f * n_regions + np.arange(n_regions))


def _pool_and_output(builder, position_cells, position_rates, region_of, n_regions, readout, rows):
    """Pooling cells for the readout ``rows`` (feature ``f`` in region ``g`` is row ``f * n_regions + g``)
    fed by their position cells (``position_cells[i]`` of rates ``position_rates[i]``, in regions
    ``region_of[i]``), then the readout's output cells of rate 1.

    A position cell sends its whole rate to its pooling cell, which fires at the sum of what it receives
    (so its q is the mean of its positions' q) and sends ``weights_jk`` to output ``k``.
    """
    pool_rates = np.zeros(rows.size)
    for i, (rate, region) in enumerate(zip(position_rates, region_of)):
        np.add.at(pool_rates, i * n_regions + region, rate)
    live = pool_rates > 0
    pools = np.full(rows.size, -1)
    pools[live] = builder.add_cells(pool_rates[live])
    for i, (cells, rate, region) in enumerate(zip(position_cells, position_rates, region_of)):
        builder.connect("exc", cells, pools[i * n_regions + region], rate)
    w = readout.weights[rows] * live[:, None]
    outputs = builder.add_cells(np.ones(w.shape[1]), ext_exc=readout.offset)
    src, dst = np.nonzero(w)
    # Output rates are 1, so weight w_jk is the flow; the gains made every pooling cell's rate its row sum.
    builder.connect("exc", pools[src], outputs[dst], w[src, dst])
    return outputs
