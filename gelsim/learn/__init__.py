"""The classifiers and their maths: MLSRNN/MCSRNN, convolutional, gradient-trained recurrent and sequence models.

Estimators live in ``mlsrnn``, ``convsrnn``, ``recurrent`` and ``sequence``; the maths each one calls in
``_mlsrnn_maths``, ``_conv_maths`` (with the jitted ``_conv_kernels``) and ``_recurrent_maths``; ``conv``
holds the paper's RNN convolutions. Names load on first use, so ``gelsim.conv`` does not load the
classifiers.
"""

from importlib import import_module

# Public name -> module (of this package) that defines it, imported on first access (PEP 562).
_LAZY = {
    "MLSRNNClassifier": "mlsrnn",
    "MCSRNNClassifier": "mlsrnn",
    "RocketSRNNClassifier": "convsrnn",
    "ConvSRNNClassifier": "convsrnn",
    "RecurrentRNNClassifier": "recurrent",
    "SequenceRNNClassifier": "sequence",
    "conv": "conv",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        module = import_module(f"{__name__}.{_LAZY[name]}")
        value = module if _LAZY[name] == name else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
