"""MNIST IDX reader and built-in sets."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from nnguru import datasets
from nnguru.errors import NNGuruError


def write_idx(path, array):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_load_mnist_from_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for stem, shape in [("train-images-idx3-ubyte", (5, 28, 28)), ("t10k-images-idx3-ubyte", (3, 28, 28)),
                        ("train-labels-idx1-ubyte", (5,)), ("t10k-labels-idx1-ubyte", (3,))]:
        write_idx(tmp_path / f"{stem}.gz", rng.integers(0, 255, shape, dtype=np.uint8))
    (x, y), (xt, yt) = datasets.load_mnist(tmp_path)
    assert x.shape == (5, 28, 28) and x.dtype == np.uint8 and yt.shape == (3,)
    assert datasets.is_mnist_folder(tmp_path)


def test_real_mnist(mnist_dir):
    (x, y), (xt, yt) = datasets.load_mnist(mnist_dir)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert np.bincount(y).tolist()[:3] == [5923, 6742, 5958]


def test_truncated_and_missing_files(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(NNGuruError, match="lacks train-labels-idx1-ubyte"):
        datasets.load_mnist(tmp_path)
    raw = gzip.decompress((tmp_path / "train-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "bad").write_bytes(raw[:-10])
    with pytest.raises(NNGuruError, match="truncated or corrupt"):
        datasets.read_idx(tmp_path / "bad")
    (tmp_path / "notidx").write_bytes(b"hello world")
    with pytest.raises(NNGuruError, match="not an IDX file"):
        datasets.read_idx(tmp_path / "notidx")


def test_download_verifies_checksums(tmp_path, monkeypatch):
    """The download path writes nothing whose MD5 differs from the published one."""
    def fake_retrieve(url, filename):
        with open(filename, "wb") as f:
            f.write(b"tampered")

    monkeypatch.setattr(datasets.urllib.request, "urlretrieve", fake_retrieve)
    with pytest.raises(NNGuruError, match="checksum mismatch"):
        datasets.load_mnist(tmp_path / "mnist", download=True)
    assert not list((tmp_path / "mnist").iterdir())


def test_builtin_sets():
    X, y, names, classes = datasets.load_builtin("digits")
    assert X.shape == (1797, 8, 8) and classes[:2] == ["0", "1"]
    X, y, names, classes = datasets.load_builtin("diabetes")
    assert classes is None and X.shape[1] == len(names) == 10
    with pytest.raises(NNGuruError, match="builtin:iris"):
        datasets.load_builtin("mnist")
