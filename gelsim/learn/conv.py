"""RNN convolutions of Yin & Gelenbe's Sections III–IV: single-cell (3)/(4), twin-cell (5), cluster (9)/(10).

Every function takes a 2-D image with values in [0, 1] and a bank of kernels of shape (K, h, w) (or one
(h, w) kernel) and returns the valid-mode outputs, shape (K, H - h + 1, W - w + 1). "Convolution" is
the CNN operation, i.e. cross-correlation, as in the paper.
"""

from __future__ import annotations

import numpy as np

from ..steady.cells import phi, relu_cluster


def _bank(kernels):
    k = np.asarray(kernels, dtype=float)
    if k.ndim == 2:
        k = k[None]
    if k.ndim != 3 or min(k.shape) == 0 or not np.all(np.isfinite(k)):
        raise ValueError(f"The 'kernels' parameter must be a finite (h, w) or (K, h, w) array. Got shape {k.shape}.")
    if np.any(np.abs(k).sum(axis=(1, 2)) == 0):
        raise ValueError("The 'kernels' parameter contains an all-zero kernel, which cannot be normalised.")
    return k


def _image(image):
    img = np.asarray(image, dtype=float)
    if img.ndim != 2 or not np.all(np.isfinite(img)) or img.min() < 0 or img.max() > 1:
        raise ValueError("The 'image' parameter must be a finite 2-D array with values in [0, 1]. "
                         f"Got shape {img.shape}" + (f", range [{img.min():.3g}, {img.max():.3g}]" if img.size else "")
                         + " instead.")
    return img


def conv2d(image, kernels):
    """Valid-mode cross-correlation of ``image`` with each kernel of the bank.

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim.conv import conv2d
    >>> conv2d(np.ones((4, 4)), np.ones((2, 2))).shape
    (1, 3, 3)
    """
    img = np.asarray(image, dtype=float)
    from scipy import signal  # on first use: importing it with gelsim would double ``import gelsim``'s time

    return np.stack([signal.correlate(img, k, mode="valid") for k in _bank(kernels)])


def split(kernels, total):
    """Normalise each kernel so that ``sum|W| = total`` and split it into ``(W+, W-)`` (both >= 0).

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim.conv import split
    >>> wp, wm = split(np.array([[1.0, -3.0]]), total=1.0)
    >>> wp.tolist(), wm.tolist()
    ([[[0.25, 0.0]]], [[[0.0, 0.75]]])
    """
    k = _bank(kernels)
    k = k / np.abs(k).sum(axis=(1, 2), keepdims=True) * total
    return np.maximum(k, 0.0), np.maximum(-k, 0.0)


def _excitation_inhibition(image, kernels, total, swap):
    """``(conv(I, W+), conv(I, W-))`` for kernels normalised to ``sum|W| = total``; exchanged when ``swap``."""
    img = _image(image)
    wp, wm = split(kernels, total)
    xp, xm = conv2d(img, wp), conv2d(img, wm)
    return (xm, xp) if swap else (xp, xm)


def relu_reference(image, kernels):
    """The target of the paper's Fig. 5: gray-inverted ``1 - ReLU(conv(I, W))`` scaled into [0, 1] per kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim.conv import relu_reference
    >>> out = relu_reference(np.eye(5), np.array([[1.0, -1.0]]))
    >>> float(out.min()), float(out.max())
    (0.0, 1.0)
    """
    c = np.maximum(conv2d(_image(image), kernels), 0.0)
    peak = c.max(axis=(1, 2), keepdims=True)
    return 1.0 - c / np.where(peak > 0, peak, 1.0)


def single_cell_conv(image, kernels, *, fire_rate=1.0, swap=True):
    """Single-cell RNN convolution, Eq. (3) (``swap=False``) or Eq. (4) (``swap=True``, the default).

    ``W <- W / (sum|W| / r)``; ``O = φ(conv(I, W+), conv(I, W-))`` or, swapped,
    ``φ(conv(I, W-), conv(I, W+))`` with ``λ+ = r``. The swapped form is the gray-inverted one
    (``≈ 1 - conv / r`` for small inputs), comparable with :func:`relu_reference`.

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim.conv import single_cell_conv
    >>> out = single_cell_conv(np.full((3, 3), 0.5), np.array([[1.0, -1.0]]))
    >>> np.allclose(out, 1.0)   # a flat image excites and inhibits equally
    True
    """
    xp, xm = _excitation_inhibition(image, kernels, fire_rate, swap)
    return phi(xp, xm, ext_exc=fire_rate, fire_rate=fire_rate)


def twin_cell_conv(image, kernels, *, rescale=False):
    """Twin-cell RNN convolution, Eq. (5).

    ``W <- W / sum|W|``, split; ``I1 = φ(0, I)`` at ``λ+ = r = 1``, ``I2 = φ(I, I)`` at ``λ+ = 0, r = 1``;
    ``O = min(conv(I1, W+) + conv(I2, W-) + 1 - sum(W-), 1)`` (receptive LRNN-E cells). With
    ``rescale=True`` both kernel parts are divided by ``max(O')`` first, as the paper suggests, to
    reduce saturation.

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim.conv import twin_cell_conv
    >>> twin_cell_conv(np.zeros((3, 3)), np.array([[1.0, -1.0]])).shape
    (1, 3, 2)
    """
    img = _image(image)
    wp, wm = split(kernels, 1.0)
    i1 = phi(0.0, img, ext_exc=1.0, fire_rate=1.0)
    i2 = phi(img, img, ext_exc=0.0, fire_rate=1.0)
    base = 1.0 - wm.sum(axis=(1, 2))[:, None, None]
    out = conv2d(i1, wp) + conv2d(i2, wm) + base
    if rescale:
        peak = out.max(axis=(1, 2), keepdims=True)
        wp, wm = wp / peak, wm / peak
        out = conv2d(i1, wp) + conv2d(i2, wm) + 1.0 - wm.sum(axis=(1, 2))[:, None, None]
    return np.minimum(out, 1.0)


def cluster_conv(image, kernels, *, swap=False, total=0.1):
    """Cluster RNN convolution, Eq. (9) (``swap=False``) or Eq. (10) (``swap=True``).

    ``W <- W / sum|W| / 10`` (``total = 0.1``), split; ``O = ϕ(conv(I, W+), conv(I, W-))`` with the
    three-cell ReLU cluster ``ϕ(x+, x-) = min(1 / (1 + x+) + x-, 1) ≈ 1 - ReLU(x+ - x-)``.

    Examples
    --------
    >>> import numpy as np
    >>> from gelsim.conv import cluster_conv
    >>> out = cluster_conv(np.eye(4), np.array([[1.0, -1.0]]))
    >>> bool(out.max() <= 1.0 and out.min() >= 0.9)
    True
    """
    xp, xm = _excitation_inhibition(image, kernels, total, swap)
    return relu_cluster(xp, xm)


def gabor_kernel(size, theta, wavelength, sigma=None, phase=0.0):
    """Real Gabor kernel (zero mean), oriented at ``theta`` radians: a first-layer-CNN-like edge/bar detector.

    Examples
    --------
    >>> from gelsim.conv import gabor_kernel
    >>> k = gabor_kernel(7, 0.0, 4.0)
    >>> k.shape, abs(float(k.sum())) < 1e-12
    ((7, 7), True)
    """
    sigma = 0.5 * wavelength if sigma is None else sigma
    half = (size - 1) / 2
    y, x = np.mgrid[-half:half + 1, -half:half + 1]
    xr = x * np.cos(theta) + y * np.sin(theta)
    yr = -x * np.sin(theta) + y * np.cos(theta)
    k = np.exp(-(xr**2 + yr**2) / (2 * sigma**2)) * np.cos(2 * np.pi * xr / wavelength + phase)
    return k - k.mean()


def kernel_bank(size=7):
    """A bank of first-layer-CNN-like kernels: 8 oriented Gabors (two phases) and 4 edge detectors.

    Returns ``(kernels, names)`` with kernels of shape (12, size, size).

    Examples
    --------
    >>> from gelsim.conv import kernel_bank
    >>> kernels, names = kernel_bank()
    >>> kernels.shape, names[0]
    ((12, 7, 7), 'gabor 0° even')
    """
    kernels, names = [], []
    for deg in (0, 45, 90, 135):
        for phase, label in ((0.0, "even"), (np.pi / 2, "odd")):
            kernels.append(gabor_kernel(size, np.deg2rad(deg), wavelength=size * 0.8, phase=phase))
            names.append(f"gabor {deg}° {label}")
    sobel = np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    laplace = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    diag = np.array([[0.0, 1.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, -1.0, 0.0]])
    for k, name in ((sobel, "sobel x"), (sobel.T, "sobel y"), (laplace, "laplacian"), (diag, "prewitt diagonal")):
        padded = np.zeros((size, size))
        o = (size - 3) // 2
        padded[o:o + 3, o:o + 3] = k
        kernels.append(padded)
        names.append(name)
    return np.stack(kernels), names
