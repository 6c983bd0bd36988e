"""Media headers with implausible values are skipped and listed, never decoded into a crash.

A WAV header with a sample rate of 0 divided by zero and one of 2e9 asked for hundreds of GiB; a
PNG declaring 100000x100000 pixels is a decompression bomb. Each is one listed file in the data
report's ``corrupt_files``; the other files are used.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnguru.data.clean import clean
from nnguru.data.features import audio, image
from nnguru.data.sources import load
from nnguru.errors import NNGuruError


def _wav_with_rate(path: Path, rate: int, frames: int = 800) -> Path:
    """A 16-bit PCM WAV whose header declares ``rate`` (libsndfile refuses 0; scipy reads it)."""
    data = (np.sin(np.arange(frames) / 3) * 8000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, (rate * 2) % 2**32, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def _png(path: Path, width: int, height: int, rows: bytes | None = None) -> Path:
    """A grayscale PNG declaring ``width`` x ``height``; ``rows`` the raw scanlines (default: none)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(rows or b"\x00" * 64))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("rate", [0, 999, 384_001, 2_000_000_000])
def test_implausible_sample_rates_are_refused(tmp_path, rate):
    probe = audio.probe_audio(_wav_with_rate(tmp_path / "x.wav", rate))
    assert not probe.ok and f"sample rate of {rate} Hz" in probe.reason
    with pytest.raises(NNGuruError, match="sample rate"):
        audio.read_audio(tmp_path / "x.wav")


@pytest.mark.parametrize("rate", [1_000, 8_000, 384_000])
def test_plausible_sample_rates_are_read(tmp_path, rate):
    probe = audio.probe_audio(_wav_with_rate(tmp_path / "x.wav", rate))
    assert probe.ok and probe.sample_rate == rate and probe.frames == 800


def test_recordings_over_the_duration_limit_are_refused(files, monkeypatch):
    monkeypatch.setattr(audio, "MAX_FILE_SECONDS", 1.0)
    probe = audio.probe_audio(files.wav("long.wav", seconds=1.5))
    assert not probe.ok and "over the 1 s limit" in probe.reason
    assert audio.probe_audio(files.wav("short.wav", seconds=0.5)).ok


def test_audio_folder_lists_bad_headers_and_trains_on_the_rest(files, tmp_path):
    for label, freq in (("low", 300.0), ("high", 2000.0)):
        for i in range(3):
            files.wav(f"rec/{label}/{i}.wav", seconds=0.2, freq=freq)
    _wav_with_rate(tmp_path / "rec" / "low" / "zero.wav", 0)
    _wav_with_rate(tmp_path / "rec" / "high" / "huge.wav", 2_000_000_000)
    ds, report = clean(load(tmp_path / "rec"))
    listed = {Path(c["file"]).name: c["reason"] for c in report["corrupt_files"]}
    assert set(listed) == {"zero.wav", "huge.wav"} and all("sample rate" in r for r in listed.values())
    features = audio.AudioFeaturizer().fit(ds.X["path"].tolist())
    assert features.sample_rate == 8000 and features.transform(ds.X["path"].tolist()).shape[0] == 6


def test_decompression_bomb_is_not_decoded(tmp_path, monkeypatch):
    # 9500x9500 is just over Pillow's 89.5-megapixel limit, below the 2x at which Pillow itself
    # refuses: Pillow would decode it (90 MB) with only a warning.
    side = 9500
    bomb = _png(tmp_path / "bomb.png", side, side, rows=b"\x00" * ((side + 1) * side))
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size))
    probe = image.probe_image(bomb)
    assert not probe.ok and "9500x9500 pixels" in probe.reason and "limit" in probe.reason
    assert decoded == []
    with pytest.raises(NNGuruError, match="pixel limit"):
        image.load_image(bomb, (8, 8), "L")


def test_huge_declared_size_is_listed_with_the_reason(files, tmp_path):
    for label in ("a", "b"):
        for i in range(3):
            files.png(f"img/{label}/{i}.png", value=40 * i)
    _png(tmp_path / "img" / "a" / "bomb.png", 100_000, 100_000)
    good = files.png("good.png")
    raw = good.read_bytes()
    (tmp_path / "img" / "b" / "truncated.png").write_bytes(raw[: len(raw) // 2])
    _, report = clean(load(tmp_path / "img"))
    listed = {Path(c["file"]).name: c["reason"] for c in report["corrupt_files"]}
    assert set(listed) == {"bomb.png", "truncated.png"}
    assert "pixel limit" in listed["bomb.png"] and "decompression bomb" in listed["bomb.png"]
    assert report["rows"]["after_cleaning"] == 6


def test_featurizer_fit_ignores_declared_bombs(files, tmp_path):
    paths = [str(files.png(f"p{i}.png", size=(6, 4))) for i in range(2)]
    paths += [str(_png(tmp_path / f"bomb{i}.png", 9500, 9500)) for i in range(3)]
    assert image.ImageFeaturizer().fit(paths).size == (4, 6)  # the bombs' size is not counted
