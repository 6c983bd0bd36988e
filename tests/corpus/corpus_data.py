"""Offline stand-ins for the datasets the corpus tutorials download.

Each function returns arrays of the same shapes and dtypes as the Keras loader it replaces
(``keras.datasets.mnist.load_data`` and so on), only fewer rows. Where ../shared/datasets holds the
real data (MNIST, Boston housing, Pima, airline passengers) it is read from there
(``NNGURU_DATASETS`` overrides the folder); otherwise a seeded NumPy generator stands in, so the
corpus also runs on a machine without the shared data. Shared by the tests and keras_oracle.py.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def datasets_dir() -> Path:
    return Path(os.environ.get("NNGURU_DATASETS", REPO.parent / "shared" / "datasets"))


def shared_file(*parts: str) -> Path | None:
    path = datasets_dir().joinpath(*parts)
    return path if path.is_file() else None


def _idx(path: Path, header: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def mnist(n_train: int = 256, n_test: int = 128, seed: int = 0):
    """``keras.datasets.mnist.load_data()``: uint8 (n, 28, 28) images, uint8 labels 0-9."""
    folder = datasets_dir() / "mnist"
    if (folder / "t10k-images-idx3-ubyte.gz").is_file():
        def part(prefix: str, n: int):
            x = _idx(folder / f"{prefix}-images-idx3-ubyte.gz", 16)[: n * 784].reshape(n, 28, 28)
            y = _idx(folder / f"{prefix}-labels-idx1-ubyte.gz", 8)[:n]
            return x.copy(), y.copy()
        return part("train", n_train), part("t10k", n_test)
    return images_with_labels(n_train, n_test, (28, 28), 10, seed)


def images_with_labels(n_train: int, n_test: int, shape: tuple[int, ...], classes: int, seed: int = 0,
                       label_shape: tuple[int, ...] = ()):
    """Fashion-MNIST / CIFAR-10 stand-in: uint8 images whose brightness pattern depends on the label."""
    rng = np.random.default_rng(seed)

    def part(n: int):
        y = rng.integers(0, classes, (n, *label_shape)).astype(np.uint8)
        base = rng.integers(0, 120, (n, *shape))
        stripe = (np.arange(shape[0]) % classes)[None, :] == y.reshape(n, 1)
        base[stripe] += 120
        return base.astype(np.uint8), y

    return part(n_train), part(n_test)


def word_sequences(n_train: int, n_test: int, num_words: int, classes: int = 2, seed: int = 0,
                   min_len: int = 20, max_len: int = 120):
    """``keras.datasets.imdb/reuters.load_data(num_words=...)``: object arrays of int lists, int64 labels.

    Index 1 starts every sequence and 2 is the out-of-vocabulary word, as in Keras's loaders.
    """
    rng = np.random.default_rng(seed)

    def part(n: int):
        y = rng.integers(0, classes, n)
        seqs = np.empty(n, dtype=object)
        for i in range(n):
            words = rng.integers(3, num_words, rng.integers(min_len, max_len))
            words[: len(words) // 4] = 3 + y[i]  # a few label-specific words to learn from
            seqs[i] = [1, *rng.permutation(words).tolist()]
        return seqs, y.astype(np.int64)

    return part(n_train), part(n_test)


def reviews(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Short movie-review strings and 0/1 labels (the aclImdb folders' text and label)."""
    rng = np.random.default_rng(seed)
    good = ["great", "wonderful", "loved", "brilliant", "fun"]
    bad = ["terrible", "boring", "awful", "hated", "dull"]
    filler = ["the", "movie", "was", "a", "film", "plot", "actors", "and", "it", "story", "<br />", "!"]
    labels = rng.integers(0, 2, n)
    texts = []
    for label in labels:
        words = list(rng.choice(filler, rng.integers(8, 30))) + list(rng.choice(good if label else bad, 3))
        texts.append(" ".join(rng.permutation(words)))
    return np.array(texts), labels.astype(np.int32)


def boston_housing(test_split: float = 0.2, seed: int = 113):
    """``keras.datasets.boston_housing.load_data()``: the real 506 rows, shuffled and split as Keras does."""
    path = shared_file("boston_housing", "housing.csv")
    if path is not None:
        data = np.loadtxt(path, delimiter=",")
    else:
        rng = np.random.default_rng(seed)
        data = np.column_stack([rng.normal(5, 2, (506, 13)), rng.uniform(5, 50, 506)])
    x, y = data[:, :13], data[:, 13]
    rng = np.random.RandomState(seed)
    indices = rng.permutation(len(x))
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def pima_csv() -> str:
    """Path of pima-indians-diabetes.csv (the real file, or a generated one of the same layout)."""
    path = shared_file("pima_indians_diabetes", "pima-indians-diabetes.csv")
    if path is not None:
        return str(path)
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.integers(0, 15, 768), rng.normal(120, 30, (768, 7)).round(3)])
    y = (x[:, 1] + rng.normal(0, 20, 768) > 130).astype(int)
    out = Path("pima-indians-diabetes.csv")
    np.savetxt(out, np.column_stack([x, y]), delimiter=",", fmt="%g")
    return str(out)


def airline_csv() -> str:
    """Path of airline-passengers.csv (real file, or a generated monthly series with a header)."""
    path = shared_file("airline_passengers", "airline-passengers.csv")
    if path is not None:
        return str(path)
    months = [f"{1949 + i // 12}-{i % 12 + 1:02d}" for i in range(144)]
    values = (100 + 2 * np.arange(144) + 30 * np.sin(np.arange(144) * np.pi / 6)).round().astype(int)
    out = Path("airline-passengers.csv")
    out.write_text('"Month","Passengers"\n' + "".join(f'"{m}",{v}\n' for m, v in zip(months, values, strict=True)))
    return str(out)


def ucr_series(n: int, length: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """FordA_TRAIN/TEST.tsv as ``readucr`` returns it: float64 (n, 500) z-normalized series, labels -1/1."""
    rng = np.random.default_rng(seed)
    y = rng.choice([-1, 1], n)
    t = np.linspace(0, 8 * np.pi, length)
    x = np.sin(t[None, :] * (1.0 + 0.5 * (y[:, None] > 0))) + rng.normal(0, 0.5, (n, length))
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)
    return x, y.astype(int)


def auto_mpg(n: int = 150, seed: int = 0):
    """The Auto MPG table as ``pd.read_csv(url, names=column_names, na_values='?', ...)`` returns it."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    cylinders = rng.choice([4, 6, 8], n)
    weight = 1500 + 400 * cylinders + rng.normal(0, 200, n)
    horsepower = (weight / 30 + rng.normal(0, 10, n)).round()
    horsepower[rng.choice(n, 3, replace=False)] = np.nan  # the real file has 6 '?' horsepowers
    mpg = 50 - weight / 150 + rng.normal(0, 2, n)
    return pd.DataFrame({
        "MPG": mpg.round(1), "Cylinders": cylinders, "Displacement": (cylinders * 40.0).round(),
        "Horsepower": horsepower, "Weight": weight.round(), "Acceleration": rng.normal(15, 2, n).round(1),
        "Model Year": rng.integers(70, 83, n), "Origin": rng.choice([1, 2, 3], n),
    })


def higgs(n: int, features: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """HIGGS.csv rows as the tutorial packs them: float32 (n, 28) features and a float32 0/1 label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, features)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) + rng.normal(0, 1, n) > 0).astype(np.float32)
    return x, y


def ionosphere_csv(n: int = 351, seed: int = 0) -> str:
    """ionosphere.csv (UCI, jbrownlee/Datasets): 34 numeric columns in [-1, 1] and a 'g'/'b' label, no header."""
    rng = np.random.default_rng(seed)
    good = rng.random(n) < 0.64  # 225 g / 126 b in the real file
    x = np.clip(rng.normal(0, 0.5, (n, 34)) + np.where(good, 0.4, -0.1)[:, None], -1, 1).round(5)
    x[:, 1] = 0  # the real file's second column is constant
    out = Path("ionosphere.csv")
    out.write_text("".join(",".join(f"{v:g}" for v in row) + ("," + ("g" if g else "b")) + "\n"
                           for row, g in zip(x, good, strict=True)))
    return str(out)


def nietzsche_text(n_chars: int = 3000, seed: int = 0) -> str:
    """nietzsche.txt as the tutorial reads it: English prose (lower-cased by the program), repeated words."""
    rng = np.random.default_rng(seed)
    prose = ("supposing that truth is a woman what then is there not ground for suspecting that all "
             "philosophers in so far as they have been dogmatists have failed to understand women")
    words = prose.split(" ")
    text, out = [], Path("nietzsche.txt")
    while sum(len(w) + 1 for w in text) < n_chars:
        text.append(str(rng.choice(words)).upper() if rng.random() < 0.05 else str(rng.choice(words)))
    out.write_text("PREFACE\n\n\n" + " ".join(text) + ".\n", encoding="utf-8")
    return str(out)


def nab_daily(anomaly: bool, days: int = 5, seed: int = 0):
    """NAB art_daily_small_noise / art_daily_jumpsup as ``pd.read_csv(..., parse_dates=True,
    index_col="timestamp")`` returns them: one float ``value`` column every 5 minutes (288 a day)."""
    import pandas as pd

    rng = np.random.default_rng(seed + anomaly)
    n = 288 * days
    t = np.arange(n)
    value = 20 + 60 * ((t % 288) > 144) + rng.normal(0, 2, n)
    if anomaly:
        value[288 * 3 + 100: 288 * 3 + 130] += 80  # the jump the test file holds
    index = pd.date_range("2014-04-01", periods=n, freq="5min", name="timestamp")
    return pd.DataFrame({"value": value}, index=index)


def fra_eng_txt(n: int = 120, seed: int = 0) -> str:
    """fra.txt from fra-eng.zip: 'English<TAB>French<TAB>attribution' lines."""
    rng = np.random.default_rng(seed)
    pairs = [("Go.", "Va !"), ("Hi.", "Salut !"), ("Run!", "Cours !"), ("Wow!", "Ça alors !"),
             ("Fire!", "Au feu !"), ("Help!", "À l'aide !"), ("Stop!", "Arrête-toi !"), ("Wait!", "Attends !"),
             ("I see.", "Je comprends."), ("I try.", "J'essaye."), ("I won!", "J'ai gagné !"),
             ("Ask Tom.", "Demande à Tom.")]
    out = Path("fra.txt")
    lines = [pairs[i % len(pairs)] for i in rng.permutation(n)]
    out.write_text("".join(f"{en}\t{fr}\tCC-BY 2.0 (France) Attribution: tatoeba.org\n" for en, fr in lines),
                   encoding="utf-8")
    return str(out)
