"""The mathematics of the convolutional single-cell classifiers: kernel banks, readout, spiking network.

A *bank* fixes every convolution cell: MiniRocket's 84 kernels of 9 taps (3 of weight +2, all of weight
-1; see :mod:`gelsim._conv_kernels`), dilations, the channels each kernel sums (series), which kernels are
padded, and one bias per feature, which is the firing rate of that feature's position cells. The pooled
features go to a linear readout, realised as output cells with non-negative weights (:func:`realise`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import _conv_kernels as kern
from .network import Network

_GOLDEN = (np.sqrt(5.0) + 1.0) / 2.0
#: Smallest |bias|, in units of the scaled input (one tap spans [0, 1]). A bias is a firing rate, so it
#: must be positive; a quantile that is exactly 0 (flat or blank stretches) becomes this. Far smaller
#: values change no feature measurably but make cells so slow that a simulation of the network stalls.
MIN_BIAS = 1e-3


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

    def features(self, U, exact=False):
        return kern.series_features(U, self.pad, self.dilations, self.n_biases, self.channel_start,
                                    self.channel_index, self.biases, exact)

    def locate(self, feature):
        """``(dilation index, kernel, bias)`` of a feature."""
        return _locate(self.n_biases, feature) + (float(self.biases[feature]),)

    def position_q(self, u, feature):
        """Excitation probability of each position cell of ``feature`` for one scaled series ``u``."""
        j, k, b = self.locate(feature)
        d = int(self.dilations[j])
        combo = j * 84 + k
        channels = self.channel_index[self.channel_start[combo]:self.channel_start[combo + 1]]
        q = kern.cell_q(*kern.series_cells(u, self.pad, d, channels, k), b)
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

    @property
    def n_regions(self):
        return (self.row_edges.size - 1) * (self.col_edges.size - 1)

    def features(self, U, exact=False):
        return kern.image_features(U, self.stride, self.dilations, self.n_biases, self.biases, self.row_edges,
                                   self.col_edges, exact)

    def position_q(self, u, feature):
        """Excitation probability of each position cell of ``feature`` (a (kernel, dilation, bias) index,
        before pooling over regions) for one scaled image ``u``: an array over kernel positions."""
        j, k = _locate(self.n_biases, feature)
        return kern.cell_q(*kern.image_cells(u, self.stride, int(self.dilations[j]), k), float(self.biases[feature]))


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


def fit_series_bank(U, pad, n_features, gen, *, max_dilations=32, bias_rule="quantile"):
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
    return SeriesBank(length, n_ch, np.asarray(pad, float), dil, n_biases, start, index, biases)


def fit_image_bank(U, n_kernel_features, gen, *, stride=1, regions=(2, 2), max_dilations=4, bias_rule="quantile"):
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
    biases = np.where(np.abs(biases) < MIN_BIAS, MIN_BIAS, biases)
    hs, ws = -(-h // stride), -(-w // stride)
    rows = np.round(np.linspace(0, hs, regions[0] + 1)).astype(np.int64)
    cols = np.round(np.linspace(0, ws, regions[1] + 1)).astype(np.int64)
    return ImageBank((h, w), stride, dil, n_biases, biases, rows, cols)


# ---------------------------------------------------------------------------------------------- network
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


def _pool_and_output(builder, position_cells, position_rates, region_of, n_regions, readout):
    """Pooling cells (one per feature) fed by their position cells, then the readout's output cells.

    ``position_cells[f]`` are the cells of kernel feature ``f`` (rate ``position_rates[f]`` each) and
    ``region_of[f]`` their region; feature ``f`` in region ``g`` is readout row ``f * n_regions + g``.
    A position cell sends its whole rate to its pooling cell, which fires at the sum of what it receives
    (so its q is the mean of its positions' q).
    """
    pool_rates = np.zeros(len(position_cells) * n_regions)
    for f, (cells, rate, region) in enumerate(zip(position_cells, position_rates, region_of)):
        np.add.at(pool_rates, f * n_regions + region, rate)
    pools = builder.add_cells(pool_rates)
    for f, (cells, rate, region) in enumerate(zip(position_cells, position_rates, region_of)):
        builder.connect("exc", cells, pools[f * n_regions + region], rate)
    w = readout.weights
    out_sum = w.sum(axis=1)
    used = out_sum > 0
    # Output cells fire at rate_out; a pooling cell sends rate_out * w_jk to output k, within its own rate.
    rate_out = float(np.min(pool_rates[used] / out_sum[used])) if used.any() else 1.0
    outputs = builder.add_cells(np.full(w.shape[1], rate_out), ext_exc=readout.offset * rate_out)
    rows, cols = np.nonzero(w)
    builder.connect("exc", pools[rows], outputs[cols], w[rows, cols] * rate_out)
    return outputs


def series_network(bank, readout, u):
    """The whole model for one scaled series ``u`` (channels, length) as a :class:`Network`, with the
    indices of its output and source cells and the sources' firing rate.

    Cells: sources (``q = u``), then position cells per feature, pooling cells, output cells. A position
    cell gets weight 3 from each of its chosen taps' sources and 1 (inhibitory) from all nine; taps in the
    padding add the same amounts of the constant ``pad`` as external excitation and inhibition.
    """
    b = _Builder()
    n_ch, length = u.shape
    src_rate = _series_fan_out(bank)
    sources = b.add_cells(np.full(n_ch * length, src_rate), ext_exc=u.ravel() * src_rate)
    position_cells, position_rates = [], []
    f = 0
    for j, d, k, channels, t in _series_combos(bank):
        ext_e = np.zeros(t.size)
        ext_i = np.zeros(t.size)
        links = []
        for tap in range(9):
            s = t + (tap - 4) * d
            inside = (s >= 0) & (s < length)
            factor = 3.0 if tap in kern.TAPS[k] else 0.0
            for c in channels:
                links.append((c * length + s[inside], np.flatnonzero(inside), factor))
                ext_e[~inside] += factor * bank.pad[c]
                ext_i[~inside] += bank.pad[c]
        for _ in range(bank.n_biases[j]):
            bias = bank.biases[f]
            # b > 0: excitation E, inhibition I; b < 0: the roles swap. Firing rate |b|.
            e_ext, i_ext = (ext_e, ext_i) if bias > 0 else (ext_i, ext_e)
            cells = b.add_cells(np.full(t.size, abs(bias)), ext_exc=e_ext, ext_inh=i_ext)
            _connect_taps(b, sources, cells, links, bias)
            position_cells.append(cells)
            position_rates.append(abs(bias))
            f += 1
    regions = [np.zeros(c.size, np.int64) for c in position_cells]
    outputs = _pool_and_output(b, position_cells, position_rates, regions, 1, readout)
    return b.network(), outputs, sources, src_rate


def _connect_taps(builder, sources, cells, links, bias):
    """Source-to-position edges: each link ``(source indices, position indices, factor)`` is a tap, with
    excitatory weight ``factor`` (3 on a chosen tap, else 0) and inhibitory weight 1; swapped for ``bias < 0``."""
    for src, pos, factor in links:
        exc_w, inh_w = (factor, 1.0) if bias > 0 else (1.0, factor)
        if exc_w:
            builder.connect("exc", sources[src], cells[pos], exc_w)
        if inh_w:
            builder.connect("inh", sources[src], cells[pos], inh_w)


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


def _series_fan_out(bank):
    """Largest total out-weight of any source (weights 3 + 1 per chosen tap, 1 per other tap): its rate."""
    length = bank.length
    out = np.zeros(bank.n_channels * length)
    for j, d, k, channels, t in _series_combos(bank):
        for tap in range(9):
            s = t + (tap - 4) * d
            s = s[(s >= 0) & (s < length)]
            w = (4.0 if tap in kern.TAPS[k] else 1.0) * bank.n_biases[j]
            for c in channels:
                np.add.at(out, c * length + s, w)
    return float(max(out.max(), 1.0))


def image_network(bank, readout, u):
    """The whole model for one scaled image ``u`` (h, w): sources, position cells per (feature, position),
    pooling cells per (feature, region), output cells. Returns as :func:`series_network`."""
    b = _Builder()
    h, w = u.shape
    ys, xs = np.meshgrid(np.arange(0, h, bank.stride), np.arange(0, w, bank.stride), indexing="ij")
    ys, xs = ys.ravel(), xs.ravel()
    m, n = ys // bank.stride, xs // bank.stride
    region = (np.searchsorted(bank.row_edges, m, side="right") - 1) * (bank.col_edges.size - 1) + \
        (np.searchsorted(bank.col_edges, n, side="right") - 1)
    fan = np.zeros(h * w)
    for j, d in enumerate(bank.dilations):
        for tap in range(9):
            y, x = ys + (tap // 3 - 1) * d, xs + (tap % 3 - 1) * d
            inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            # Per kernel: weight 3 + 1 on a chosen tap, 1 otherwise; 28 of the 84 kernels choose each tap.
            np.add.at(fan, (y * w + x)[inside], (84 + 3 * 28) * bank.n_biases[j])
    src_rate = float(max(fan.max(), 1.0))
    sources = b.add_cells(np.full(h * w, src_rate), ext_exc=u.ravel() * src_rate)
    position_cells, position_rates, regions = [], [], []
    f = 0
    for j, d in enumerate(bank.dilations):
        taps = []
        for tap in range(9):
            y, x = ys + (tap // 3 - 1) * d, xs + (tap % 3 - 1) * d
            inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            taps.append(((y * w + x)[inside], np.flatnonzero(inside)))
        for k in range(84):
            links = [(src, pos, 3.0 if tap in kern.TAPS[k] else 0.0) for tap, (src, pos) in enumerate(taps)]
            for _ in range(bank.n_biases[j]):
                bias = bank.biases[f]
                cells = b.add_cells(np.full(ys.size, abs(bias)))
                _connect_taps(b, sources, cells, links, bias)
                position_cells.append(cells)
                position_rates.append(abs(bias))
                regions.append(region)
                f += 1
    outputs = _pool_and_output(b, position_cells, position_rates, regions, bank.n_regions, readout)
    return b.network(), outputs, sources, src_rate
