"""Image folders as users have them (issue 12's bad input): mixed sizes, color modes, 16-bit
pixels, EXIF rotations, and a class folder holding a single image."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageOps

from nnguru.cli import main
from nnguru.data.features.image import ImageFeaturizer, load_image, probe_image
from nnguru.data.preprocess import Preprocessor
from nnguru.data.split import three_way_split, train_only_classes

ORIENTATION = 0x0112


def _half_white(size=(20, 10)) -> Image.Image:
    """Left half white, right half black: where the white lands shows the orientation."""
    pixels = np.zeros((size[1], size[0]), dtype=np.uint8)
    pixels[:, : size[0] // 2] = 255
    return Image.fromarray(pixels, "L")


def _save_rotated(path, orientation: int) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    _half_white().convert("RGB").save(path, exif=exif, quality=95)


def test_exif_orientation_is_applied_like_pillows_exif_transpose(tmp_path):
    path = tmp_path / "rotated.jpg"
    _save_rotated(path, 6)  # stored 20x10, shown 10x20 (rotated a quarter turn)
    assert probe_image(path).rotated
    with Image.open(path) as image:
        expected = np.asarray(ImageOps.exif_transpose(image).convert("L"), dtype=np.float64)
    got = load_image(path, (10, 20), "L")[..., 0].astype(np.float64)
    assert got.shape == (20, 10)
    assert np.abs(got - expected).mean() < 3  # same pixels, up to JPEG rounding
    assert ImageFeaturizer().fit([str(path)]).size == (20, 10)  # (height, width) of the upright image


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((8, 8), 30000, dtype=np.uint16)).save(path)
    pixels = load_image(path, (8, 8), "L")
    assert pixels.dtype == np.uint8 and np.all(pixels == round(30000 * 255 / 65535))


def test_transparent_images_are_laid_on_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(path)
    assert np.all(load_image(path, (4, 4), "RGB") == 255)


def _mixed_folder(root):
    """Mostly RGB photos in five modes and several sizes, one rotated; two classes."""
    rng = np.random.default_rng(0)
    modes = ["RGB", "RGB", "L", "RGBA", "P", "CMYK", "I;16", "RGB"]
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i, mode in enumerate(modes):
            size = (24 + 4 * i, 20 + 2 * i)
            rgb = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8), "RGB")
            if mode == "I;16":
                image = Image.fromarray(rng.integers(0, 65535, (size[1], size[0]), dtype=np.uint16))
                image.save(root / label / f"{i}.png")
            elif mode == "CMYK":
                rgb.convert("CMYK").save(root / label / f"{i}.jpg")
            else:
                rgb.convert(mode).save(root / label / f"{i}.png")
    _save_rotated(root / "a" / "rotated.jpg", 8)


def test_mixed_modes_sizes_and_rotations_are_normalized_and_reported(tmp_path):
    _mixed_folder(tmp_path / "data")
    run = tmp_path / "run"
    assert main(["train", str(tmp_path / "data"), "--out", str(run), "--epochs", "1", "--quiet"]) == 0
    report = json.loads((run / "data_report.json").read_text())
    formatting = report["formatting"]
    assert formatting["color_mode"] == "RGB"
    assert set(formatting["modes"]) >= {"RGB", "L", "RGBA", "P", "CMYK"}
    assert formatting["images_to_convert"] == 17 - formatting["modes"]["RGB"]
    assert formatting["exif_rotated"] == 1
    assert report["corrupt_file_count"] == 0


def test_validation_and_training_rows_get_the_same_preprocessing(tmp_path):
    _mixed_folder(tmp_path / "data")
    paths = sorted(str(p) for p in (tmp_path / "data").rglob("*.*"))
    pre = Preprocessor("classification").fit(paths[:10], ["a"] * 5 + ["b"] * 5)
    together = pre.transform(paths)
    one_by_one = np.concatenate([pre.transform([p]) for p in paths])
    np.testing.assert_array_equal(together, one_by_one)
    assert together.shape[1:] == pre.input_shape and together.min() >= 0 and together.max() <= 1


def test_a_class_too_small_to_split_trains_only_and_others_stay_stratified():
    y = np.array(["lone"] + ["a"] * 40 + ["b"] * 40)
    assert train_only_classes(y) == {"lone": 1}
    train, val, test = three_way_split(len(y), y, seed=0)
    assert 0 in train and 0 not in val and 0 not in test
    for part in (val, test):  # still stratified: both big classes in each part, equally
        _, counts = np.unique(y[part], return_counts=True)
        assert len(counts) == 2 and abs(counts[0] - counts[1]) <= 1
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(y)))


def test_a_class_folder_with_one_image_is_reported_not_a_crash(tmp_path):
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for label, n in (("a", 12), ("b", 12), ("lone", 1)):
        (root / label).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (12, 12), dtype=np.uint8), "L").save(root / label / f"{i}.png")
    run = tmp_path / "run"
    assert main(["train", str(root), "--out", str(run), "--epochs", "1", "--quiet"]) == 0
    report = json.loads((run / "data_report.json").read_text())
    assert report["split"]["train_only_classes"] == {"lone": 1}
    assert any("lone" in w and "training only" in w for w in report["warnings"])


@pytest.mark.parametrize("sizes, expected", [([(10, 6)] * 3 + [(20, 20)], (6, 10)),
                                             ([(100, 100), (140, 80), (60, 120)], (64, 64))])
def test_size_is_the_median_training_size_capped(tmp_path, sizes, expected):
    paths = []
    for i, size in enumerate(sizes):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.new("RGB", size).save(paths[-1])
    assert ImageFeaturizer().fit(paths).size == expected
