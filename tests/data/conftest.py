"""Fixtures for the data stage: small messy files written on the fly, and an MNIST image folder.

``write_mnist_png_folder`` is reusable (the end-to-end acceptance tests build the same folder):
it writes MNIST digits as PNG files, one subfolder per class, plus planted problems — corrupt
files and odd-sized or colored images — and returns what it planted so tests can check that
each one is reported.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def mnist_source() -> Path | None:
    """The shared MNIST folder ($NNGURU_DATASETS/mnist), or None when it is not there."""
    root = Path(os.environ.get("NNGURU_DATASETS", REPO.parent / "shared" / "datasets"))
    folder = root / "mnist"
    return folder if (folder / "t10k-images-idx3-ubyte.gz").is_file() else None


def read_idx(path: Path, count: int | None = None) -> np.ndarray:
    """The first ``count`` items of an IDX file (gzip or raw), as uint8."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        magic = f.read(4)
        dims = struct.unpack(f">{magic[3]}I", f.read(4 * magic[3]))
        n = dims[0] if count is None else min(count, dims[0])
        item = int(np.prod(dims[1:])) if len(dims) > 1 else 1
        data = np.frombuffer(f.read(n * item), dtype=np.uint8)
    return data.reshape((n, *dims[1:]))


@dataclass
class PlantedFolder:
    """An image-class folder and the problems planted in it."""

    root: Path
    images: int  # readable images written (odd-sized ones included)
    corrupt: dict[str, str] = field(default_factory=dict)  # file name -> what is wrong
    odd_sized: list[str] = field(default_factory=list)
    colored: list[str] = field(default_factory=list)


def write_mnist_png_folder(
    root: Path, mnist_dir: Path, count: int = 5000, odd: int = 4, seed: int = 0
) -> PlantedFolder:
    """``count`` MNIST test digits as ``root/<digit>/<index>.png`` plus planted problems.

    Planted: a truncated PNG, an empty file, random bytes named .png, a text file named .jpg
    (all four must be listed as corrupt and skipped), ``odd`` images at other sizes, one RGB
    image, and a README.txt that is not an image at all (ignored).
    """
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz", count)
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz", count)
    rng = np.random.default_rng(seed)
    planted = PlantedFolder(root=root, images=len(images))
    for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / str(int(label))
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(pixels, mode="L")
        if i < odd:
            image = image.resize((32 + 4 * i, 30 + 2 * i))
            planted.odd_sized.append(f"{i}.png")
        elif i == odd:
            image = image.convert("RGB")
            planted.colored.append(f"{i}.png")
        image.save(folder / f"{i}.png")
    good = root / str(int(labels[0])) / "0.png"
    data = good.read_bytes()
    (root / "3" / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "5" / "empty.png").write_bytes(b"")
    (root / "7" / "noise.png").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    (root / "1" / "notes.jpg").write_text("this is not a picture")
    (root / "README.txt").write_text("MNIST digits as PNG files")
    planted.corrupt = {
        "truncated.png": "truncated",
        "empty.png": "empty",
        "noise.png": "random bytes",
        "notes.jpg": "text",
    }
    return planted


@pytest.fixture(scope="session")
def mnist_png_folder(tmp_path_factory: pytest.TempPathFactory) -> PlantedFolder:
    source = mnist_source()
    if source is None:
        pytest.skip("MNIST IDX files not found (set NNGURU_DATASETS to the shared datasets folder)")
    return write_mnist_png_folder(tmp_path_factory.mktemp("mnist_png"), source)


def write_wav(path: Path, seconds: float = 0.5, rate: int = 8000, freq: float = 440.0) -> Path:
    """A sine tone; different ``freq`` give recordings a model can tell apart."""
    t = np.arange(int(seconds * rate)) / rate
    soundfile.write(path, 0.5 * np.sin(2 * np.pi * freq * t), rate, subtype="PCM_16")
    return path


def write_png(path: Path, size: tuple[int, int] = (8, 8), value: int = 128, mode: str = "L") -> Path:
    pixels = np.full((size[1], size[0]), value, dtype=np.uint8)
    image = Image.fromarray(pixels, mode="L")
    (image.convert(mode) if mode != "L" else image).save(path)
    return path


class Files:
    """Writers for small test files, handed to tests by the ``files`` fixture."""

    def __init__(self, root: Path):
        self.root = root

    def text(self, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    def wav(self, name: str, **options: float) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_wav(path, **options)

    def png(self, name: str, **options: object) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_png(path, **options)


@pytest.fixture
def files(tmp_path: Path) -> Files:
    return Files(tmp_path)
