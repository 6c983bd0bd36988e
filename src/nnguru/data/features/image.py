"""Images from file paths: one color mode, one size, pixels scaled to 0-1, channels last.

Every image is turned upright first (its EXIF orientation applied), 16-bit images are scaled to 8
bits (not clipped), transparent ones are laid on white, and all are converted to the training
set's majority channel count (grayscale or RGB). JPEGs are decoded at a reduced scale when the
target size is much smaller (Pillow's ``draft``), which makes decoding a 2,000-photo folder fast.

Every file is opened through :func:`nnguru.data.paths.open_regular` (no FIFOs or devices) and its
declared size is checked against :data:`MAX_PIXELS` before any pixel is decoded, so a tiny file
declaring 100000x100000 pixels (a decompression bomb) is refused instead of filling the memory.
"""

from __future__ import annotations

import struct
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nnguru.data.paths import open_regular, regular_file_problem
from nnguru.errors import NNGuruError

GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
# Largest side of the size chosen from the data. Small image sets learn as well at 64 pixels as at
# 100-128 (the cnn template pools to a ~4x4 map either way) for a third of the compute, and 10,000
# RGB images take 0.5 GB as float32.
MAX_SIDE = 64
EXIF_ORIENTATION = 0x0112  # 1 is upright; 2-8 are mirrored and/or rotated
# Pillow's own decompression-bomb threshold (~89.5 megapixels, ~0.25 GB as RGB), enforced before
# decoding: Pillow itself only warns below twice that and decodes anyway.
MAX_PIXELS = int(Image.MAX_IMAGE_PIXELS or 89_478_485)
# What Pillow raises for damaged files (struct/index errors come from malformed headers).
_READ_ERRORS = (
    OSError, SyntaxError, ValueError, IndexError, struct.error, Image.DecompressionBombError,
)  # fmt: skip


@dataclass(frozen=True)
class ImageProbe:
    """Whether an image file decodes, and if so its size (width, height) and color mode."""

    ok: bool
    reason: str | None = None
    size: tuple[int, int] | None = None
    mode: str | None = None
    rotated: bool = False  # an EXIF orientation other than upright, applied on loading


def probe_image(path: str | Path) -> ImageProbe:
    """Decode the whole file (``load``), so truncated files are caught, not only bad headers;
    a size over :data:`MAX_PIXELS` is refused from the header, before decoding."""
    problem = regular_file_problem(path)
    if problem is not None:
        return ImageProbe(False, problem)
    if Path(path).stat().st_size == 0:
        return ImageProbe(False, "empty file (0 bytes)")
    try:
        with _opened(path) as image:
            too_large = _too_large(image.size)
            if too_large:
                return ImageProbe(False, too_large)
            rotated = image.getexif().get(EXIF_ORIENTATION, 1) not in (0, 1)
            image.load()
            return ImageProbe(True, size=image.size, mode=image.mode, rotated=rotated)
    except NNGuruError as exc:
        return ImageProbe(False, _first_line(exc))
    except Image.DecompressionBombError:  # Pillow's own refusal, from the header, over twice its limit
        return ImageProbe(False, _too_large(None))
    except UnidentifiedImageError:
        return ImageProbe(False, "not an image Pillow can read (wrong format or damaged header)")
    except Exception as exc:  # a damaged file can make a decoder raise almost anything
        return ImageProbe(False, f"damaged image ({_first_line(exc)})")


@contextmanager
def _opened(path: str | Path) -> Iterator[Image.Image]:
    """The image at ``path``, header read, pixels not yet decoded; a regular file only. Pillow's
    bomb warning is silenced because the size is checked (:func:`_too_large`) before decoding."""
    with open_regular(path, "Image file") as file:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(file)
        with image:
            yield image


def _too_large(size: tuple[int, int] | None) -> str | None:
    """The reason an image's declared size (None: unknown, over the limit) is refused, or None."""
    if size is not None and size[0] * size[1] <= MAX_PIXELS:
        return None
    declared = "more pixels than" if size is None else f"{size[0]}x{size[1]} pixels, over"
    return (f"declares {declared} the {MAX_PIXELS:,}-pixel limit (a decompression bomb or a "
            "damaged header); not decoded")


def upright(image: Image.Image, mode: str) -> Image.Image:
    """``image`` turned upright (EXIF), in ``mode`` ("L"/"RGB"): 16-bit and float images scaled to
    0-255 rather than clipped, transparent pixels laid on white, CMYK/palette/etc. converted."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        image = Image.fromarray((values.clip(0, top) * (255.0 / top)).round().astype(np.uint8), "L")
    if (image.mode == "P" and "transparency" in image.info) or image.mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    return image.convert(mode)


def load_image(path: str | Path, size: tuple[int, int], mode: str) -> np.ndarray:
    """uint8 (height, width, channels) in ``mode`` ("L"/"RGB"), upright, resized to ``size`` (w, h)."""
    try:
        with _opened(path) as image:
            too_large = _too_large(image.size)
            if too_large:
                raise NNGuruError(f"Image file {str(path)!r} {too_large}. Replace or remove the file.")
            if image.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale when that still covers the size
                side = max(size)  # either axis, as an EXIF rotation may swap them
                image.draft(mode, (side, side))
            image = upright(image, mode)
            if image.size != tuple(size):
                image = image.resize(tuple(size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except NNGuruError:
        raise
    except _READ_ERRORS as exc:
        raise NNGuruError(
            f"Image file {str(path)!r} could not be read ({_first_line(exc)}). Replace or remove "
            "the file; `nnguru inspect` lists every unreadable file."
        ) from None
    return pixels[..., None] if pixels.ndim == 2 else pixels


class ImageFeaturizer:
    """Size and color mode chosen from the training images (overridable), pixels / 255.

    The size is the median training height and width (upright), scaled down so the longer side is
    at most ``max_side``: a set of one size keeps it, a mixed set gets a typical size. Color is
    grayscale when most training images are, so one stray color image does not triple the input
    of a grayscale set.
    """

    def __init__(self, size: tuple[int, int] | None = None, mode: str | None = None, max_side: int = MAX_SIDE):
        self.size = None if size is None else (int(size[0]), int(size[1]))  # (height, width)
        self.mode = _normalize_mode(mode)
        self.max_side = int(max_side)

    def fit(self, paths: list[str]) -> ImageFeaturizer:
        sizes, modes = [], Counter()
        for path in paths:
            try:
                with _opened(path) as image:
                    if _too_large(image.size):
                        continue
                    width, height = image.size
                    if image.getexif().get(EXIF_ORIENTATION, 1) in (5, 6, 7, 8):  # turned a quarter
                        width, height = height, width
                    sizes.append((height, width))
                    modes[image.mode] += 1
            except (NNGuruError, *_READ_ERRORS):
                continue  # reported as corrupt by the cleaner; transform names it if it is used
        if not sizes:
            raise NNGuruError(
                f"None of the {len(paths)} training images could be opened (e.g. {paths[:1]}). "
                "Check the paths and run `nnguru inspect` on the data."
            )
        if self.size is None:
            median = np.median(np.array(sizes, dtype=np.float64), axis=0)
            self.size = _capped((int(round(median[0])), int(round(median[1]))), self.max_side)
        if self.mode is None:
            gray = sum(n for mode, n in modes.items() if mode in GRAY_MODES)
            self.mode = "L" if gray >= sum(modes.values()) / 2 else "RGB"
        return self

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (self.size[0], self.size[1], 1 if self.mode == "L" else 3)

    def transform(self, paths: list[str]) -> np.ndarray:
        out = np.empty((len(paths), *self.output_shape), dtype=np.float32)
        width_height = (self.size[1], self.size[0])
        for i, path in enumerate(paths):
            out[i] = load_image(path, width_height, self.mode)
        out *= np.float32(1 / 255)
        return out

    def config(self) -> dict:
        return {"size": list(self.size), "mode": self.mode, "max_side": self.max_side}

    def state(self) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> ImageFeaturizer:
        return cls(size=tuple(config["size"]), mode=config["mode"], max_side=config["max_side"])


def _normalize_mode(mode: str | None) -> str | None:
    if mode is None:
        return None
    key = str(mode).strip().lower()
    if key in ("l", "gray", "grey", "grayscale", "greyscale"):
        return "L"
    if key in ("rgb", "color", "colour"):
        return "RGB"
    raise NNGuruError(f"color_mode {mode!r} is not supported. Use 'grayscale' or 'rgb'.")


def _capped(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    height, width = size
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
