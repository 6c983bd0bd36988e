"""Datasets the tutorials use: MNIST (IDX files) and scikit-learn's bundled sets.

``load_mnist`` reads the four IDX files (gzip or raw) from a folder; with ``download=True`` it
fetches missing files from a mirror and checks their published MD5 before using them, so a
corrupt or tampered download is never trained on.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.request
from pathlib import Path

import numpy as np

from nnguru.errors import NNGuruError

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Published MD5s of the gzip files (as listed by torchvision and the original distribution).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
BUILTIN = ("digits", "iris", "wine", "breast_cancer", "diabetes")

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally gzip-compressed) into an array of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise NNGuruError(
            f"Could not read the IDX file {str(path)!r}: {exc}. Check that the file is complete "
            "(re-download it, or pass download=True to load_mnist)."
        ) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise NNGuruError(
            f"{str(path)!r} is not an IDX file (bad magic number {data[:4].hex() or 'empty'}). "
            "MNIST IDX files start with 0x00000801 (labels) or 0x00000803 (images)."
        )
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    payload = data[4 + 4 * ndim :]
    if len(payload) != expected:
        raise NNGuruError(
            f"The IDX file {str(path)!r} declares shape {dims} ({expected} bytes) but holds "
            f"{len(payload)} bytes: it is truncated or corrupt. Re-download it."
        )
    return np.frombuffer(payload, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def is_mnist_folder(path: str | Path) -> bool:
    """True when ``path`` is a folder holding the four MNIST IDX files."""
    folder = Path(path)
    return folder.is_dir() and all(_find(folder, s) for s in MNIST_FILES.values())


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB chunks (downloads are checked with it before use)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _md5(path: Path) -> str:
    return file_digest(path, "md5")


def download_mnist(folder: str | Path, mirrors: tuple[str, ...] = MNIST_MIRRORS) -> Path:
    """Download the missing MNIST files into ``folder``, verifying each file's MD5.

    A file is written under a temporary name and renamed only once its checksum matches.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, md5 in MNIST_MD5.items():
        target = folder / name
        if target.is_file() and _md5(target) == md5:
            continue
        errors = []
        for mirror in mirrors:
            tmp = target.with_suffix(".part")
            try:
                urllib.request.urlretrieve(mirror + name, tmp)  # noqa: S310 (fixed https mirrors)
            except OSError as exc:
                errors.append(f"{mirror}: {exc}")
                tmp.unlink(missing_ok=True)
                continue
            if _md5(tmp) != md5:
                errors.append(f"{mirror}: checksum mismatch")
                tmp.unlink(missing_ok=True)
                continue
            os.replace(tmp, target)
            break
        else:
            raise NNGuruError(
                f"Could not download {name} into {str(folder)!r}: {'; '.join(errors)}. "
                "Without internet, copy the four MNIST IDX files into that folder."
            )
    return folder


def load_mnist(path: str | Path = "mnist", download: bool = False):
    """Return ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays, like ``keras.datasets.mnist``.

    ``path`` is a folder with the four IDX files (``.gz`` or not). With ``download=True`` missing
    files are fetched and checksum-verified first.
    """
    folder = Path(path)
    if download and not is_mnist_folder(folder):
        download_mnist(folder)
    if not folder.is_dir():
        raise NNGuruError(
            f"MNIST folder {str(folder)!r} does not exist. Pass the folder holding "
            "train-images-idx3-ubyte(.gz) and the three other IDX files, or download=True."
        )
    arrays = {}
    for key, stem in MNIST_FILES.items():
        found = _find(folder, stem)
        if found is None:
            raise NNGuruError(
                f"MNIST folder {str(folder)!r} lacks {stem}(.gz). It needs the four files "
                f"{', '.join(MNIST_FILES.values())} (gzip or raw); or call load_mnist(..., download=True)."
            )
        arrays[key] = read_idx(found)
    for part in ("train", "test"):
        if len(arrays[f"{part}_images"]) != len(arrays[f"{part}_labels"]):
            raise NNGuruError(
                f"MNIST {part} images and labels disagree in length "
                f"({len(arrays[f'{part}_images'])} vs {len(arrays[f'{part}_labels'])}) in {str(folder)!r}."
            )
    return (arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"])


def load_builtin(name: str):
    """One of scikit-learn's bundled sets: ``(X, y, feature_names, target_names)``.

    ``digits`` images are returned as (N, 8, 8) uint8-range floats (0-16) so image models see a grid;
    ``target_names`` is None for regression (diabetes).
    """
    from sklearn import datasets as skd

    loaders = {
        "digits": skd.load_digits,
        "iris": skd.load_iris,
        "wine": skd.load_wine,
        "breast_cancer": skd.load_breast_cancer,
        "diabetes": skd.load_diabetes,
    }
    key = name.lower().replace("-", "_")
    if key not in loaders:
        raise NNGuruError(
            f"Unknown built-in dataset {name!r}. Available: {', '.join('builtin:' + n for n in BUILTIN)}."
        )
    bunch = loaders[key]()
    X = np.asarray(bunch.data, dtype=np.float32)
    if key == "digits":
        X = bunch.images.astype(np.float32)
    names = getattr(bunch, "feature_names", None)
    names = [str(n) for n in names] if names is not None else [f"pixel_{i}" for i in range(X[0].size)]
    target_names = None if key == "diabetes" else [str(t) for t in bunch.target_names]
    return X, np.asarray(bunch.target), names, target_names
