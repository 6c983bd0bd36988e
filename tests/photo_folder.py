"""A generated photo-like image folder: coloured, textured shapes on noisy backgrounds, as JPEG.

Issue 12's report came from ~2,000 100x100 JPEG photos in 10 classes, a folder nnguru cannot ship.
This makes data with the same difficulties: the class is the shape (never its colour or place),
drawn at a random position, scale and rotation, filled with a random colour and stripes, on a
background of smooth colour gradients plus pixel noise, then JPEG-compressed. A model must find
the object wherever it sits, which is what separates a spatial head from global pooling.
``sizes`` gives a mixed-size variant (each image's width and height drawn from the range).

Used by tests (``tests/`` is on ``sys.path`` through its conftest) and by ``benchmarks/images.py``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHAPES = ("circle", "square", "triangle", "star", "ring", "cross", "ellipse", "diamond", "hexagon", "arrow")


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    """Vertices of a shape of radius ``r`` centred at (cx, cy), rotated by ``angle``."""
    if kind == "square":
        pts = [(1, 1), (-1, 1), (-1, -1), (1, -1)]
        pts = [(x * 0.75, y * 0.75) for x, y in pts]
    elif kind == "triangle":
        pts = [(math.cos(a), math.sin(a)) for a in (math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))]
    elif kind == "star":
        pts = [((1.0 if k % 2 == 0 else 0.42) * math.cos(math.pi / 2 + k * math.pi / 5),
                (1.0 if k % 2 == 0 else 0.42) * math.sin(math.pi / 2 + k * math.pi / 5)) for k in range(10)]
    elif kind == "cross":
        a, b = 1.0, 0.33
        pts = [(b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b), (-b, -a), (b, -a), (b, -b), (a, -b),
               (a, b), (b, b)]
    elif kind == "diamond":
        pts = [(0, 1), (-0.6, 0), (0, -1), (0.6, 0)]
    elif kind == "hexagon":
        pts = [(math.cos(k * math.pi / 3), math.sin(k * math.pi / 3)) for k in range(6)]
    elif kind == "arrow":
        pts = [(1, 0), (0.1, 0.75), (0.1, 0.3), (-1, 0.3), (-1, -0.3), (0.1, -0.3), (0.1, -0.75)]
    else:
        raise ValueError(kind)
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in pts]


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Two-colour gradient in a random direction, blotches, and pixel noise (uint8 HxWx3)."""
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    t = ((xx / max(w, 1)) * math.cos(angle) + (yy / max(h, 1)) * math.sin(angle) + 1) / 2
    img = a * (1 - t[..., None]) + b * t[..., None]
    blotch = rng.normal(0, 1, (max(h // 8, 2), max(w // 8, 2), 3))
    blotch = np.asarray(Image.fromarray(((blotch * 30) + 128).clip(0, 255).astype(np.uint8)).resize((w, h)))
    img = img + (blotch.astype(np.float64) - 128)
    img = img + rng.normal(0, 12, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def draw_photo(rng: np.random.Generator, label: int, size: tuple[int, int] = (100, 100)) -> Image.Image:
    """One RGB image of shape ``SHAPES[label]``; ``size`` is (width, height)."""
    w, h = size
    image = Image.fromarray(_background(rng, h, w))
    kind = SHAPES[label]
    side = min(w, h)
    r = rng.uniform(0.22, 0.36) * side
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    angle = rng.uniform(0, 2 * math.pi)
    colour = tuple(int(v) for v in rng.uniform(0, 255, 3))
    # the object on its own layer, textured with stripes, pasted through its mask
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    if kind == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    elif kind == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        draw.ellipse([cx - 0.55 * r, cy - 0.55 * r, cx + 0.55 * r, cy + 0.55 * r], fill=0)
    elif kind == "ellipse":
        box = Image.new("L", (int(2 * r) + 2, int(2 * r) + 2), 0)
        ImageDraw.Draw(box).ellipse([0, 0.3 * r, 2 * r, 1.7 * r], fill=255)
        box = box.rotate(math.degrees(angle), resample=Image.Resampling.BILINEAR)
        mask.paste(box, (int(cx - r), int(cy - r)))
    else:
        draw.polygon(_polygon(kind, cx, cy, r, angle), fill=255)
    texture = np.empty((h, w, 3), dtype=np.float64)
    period = rng.uniform(3, 8)
    stripes = 0.5 + 0.5 * np.sin((np.arange(w)[None, :] * math.cos(angle) + np.arange(h)[:, None]
                                  * math.sin(angle)) * 2 * math.pi / period)
    texture[:] = np.asarray(colour, dtype=np.float64)
    texture *= (0.7 + 0.3 * stripes)[..., None]
    texture += rng.normal(0, 8, texture.shape)
    obj = Image.fromarray(texture.clip(0, 255).astype(np.uint8))
    image.paste(obj, (0, 0), mask.filter(ImageFilter.GaussianBlur(0.7)))
    return image


def make_photo_folder(root: str | Path, n_per_class: int = 200, n_classes: int = 10,
                      size: tuple[int, int] = (100, 100), sizes: tuple[int, int] | None = None,
                      seed: int = 0, quality: int = 85) -> Path:
    """Write ``root/<shape>/<i>.jpg`` for ``n_classes`` shapes; ``sizes=(lo, hi)``: each image's
    width and height drawn from [lo, hi] instead of the fixed ``size`` (width, height)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for label in range(n_classes):
        folder = root / SHAPES[label]
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            wh = size if sizes is None else (int(rng.integers(sizes[0], sizes[1] + 1)),
                                              int(rng.integers(sizes[0], sizes[1] + 1)))
            draw_photo(rng, label, wh).save(folder / f"{i:04d}.jpg", quality=quality)
    return root


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--mixed-sizes", action="store_true", help="sides drawn from 60..160 pixels")
    args = parser.parse_args()
    make_photo_folder(args.out, args.per_class, args.classes, sizes=(60, 160) if args.mixed_sizes else None)
