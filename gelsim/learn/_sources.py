"""The sources of the gradient-trained classifiers' networks as training holds them: complement-coded
features kept as the features alone, and input dropout."""

from __future__ import annotations

import numpy as np


class ComplementCoded:
    """The sources' ``q`` under complement coding, ``[x, 1 - x]`` (n, 2d), held as ``x`` alone.

    Every product with the sources takes half the stacked array's multiply-adds: ``[x, 1 - x] S =
    x (S₁ - S₂) + 1 S₂`` for weights ``S = [S₁; S₂]`` (what the sources send), and ``[x, 1 - x]ᵀ U =
    [xᵀ U; 1ᵀ U - xᵀ U]`` (their gradient). These two products are most of a training step's arithmetic;
    the weights (:class:`gelsim.learn._recurrent_maths.Weights`) form both from ``x`` (``source_drive``,
    ``source_root_grad``). Supports what the training code does with a batch of sources: ``shape``,
    ``ndim``, row selection, :meth:`drive`.
    """

    ndim = 2

    def __init__(self, x):
        self.x = x

    @property
    def shape(self):
        n, d = self.x.shape
        return (n, 2 * d)

    def __getitem__(self, rows):
        return ComplementCoded(self.x[rows])

    def drive(self, difference, complement_sums):
        """``[x, 1 - x] S`` from ``difference = S₁ - S₂`` and ``complement_sums``, the column sums of ``S₂``."""
        out = self.x @ difference
        out += complement_sums
        # Each entry is a sum of non-negative terms; the difference's rounding must not make one negative.
        return np.maximum(out, 0.0, out=out)

    def dense(self):
        """The stacked array ``[x, 1 - x]``."""
        return np.hstack([self.x, 1.0 - self.x])


def drop_inputs(X, rate, gen):
    """Input dropout for training: each feature of each pattern read as 0 (unlit; its complement source, if
    any, at 1) with probability ``rate``, by draws from ``gen``. Kept values are not rescaled: a source's
    ``q`` must stay within [0, 1]."""
    x = X.x if isinstance(X, ComplementCoded) else X
    x = x * (random_bits16(x.shape, gen) >= round(rate * 65536))
    return ComplementCoded(x) if isinstance(X, ComplementCoded) else x


def random_bits16(shape, gen):
    """Uniform 16-bit integers of ``shape`` from ``gen``'s raw 64-bit output, four to a draw.

    A mask drawn as ``bits >= round(rate * 2**16)`` has each entry off with probability ``rate`` to within
    2**-17, at under half the cost of comparing uniform floats (MNIST batches of 64: 56 against 143 µs).
    """
    size = int(np.prod(shape))
    return gen.bit_generator.random_raw(-(-size // 4)).view(np.uint16)[:size].reshape(shape)
