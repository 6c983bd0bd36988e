"""Featurizers: audio numerics checked against known signals, image and token choices."""

from __future__ import annotations

import numpy as np
import pytest

from nnguru.data.features.audio import (
    AudioFeaturizer,
    fit_length,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
    read_audio,
    resample,
)
from nnguru.data.features.image import ImageFeaturizer, probe_image
from nnguru.data.features.text import TokenFeaturizer
from nnguru.errors import NNGuruError


def test_mel_scale_is_htk():
    assert hz_to_mel(1000.0) == pytest.approx(999.99, abs=0.01)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel([0.0, 440.0, 4000.0])), [0.0, 440.0, 4000.0], atol=1e-9)


def test_filterbank_triangles_have_unit_area_and_ascending_centers():
    rate, n_fft = 16000, 4096
    bank = mel_filterbank(rate, n_fft, 40)
    assert bank.shape == (40, n_fft // 2 + 1) and (bank >= 0).all()
    assert np.all(np.diff(bank.argmax(axis=1)) > 0)
    bin_hz = rate / n_fft
    np.testing.assert_allclose(bank.sum(axis=1) * bin_hz, 1.0, rtol=0.05)


def test_every_band_sees_some_frequencies_at_speech_settings():
    assert (mel_filterbank(8000, 256, 40).sum(axis=1) > 0).all()


def test_a_pure_tone_lights_the_band_around_its_frequency():
    rate, n_fft = 8000, 256
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)[None]
    bank = mel_filterbank(rate, n_fft, 40)
    spectrum = log_mel(tone, n_fft, 80, bank)[0].mean(axis=1)
    centers = mel_to_hz(np.linspace(0, hz_to_mel(rate / 2), 42))[1:-1]
    assert abs(centers[spectrum.argmax()] - 1000) < 60


def test_resample_and_fit_length():
    x = np.sin(np.linspace(0, 20, 16000)).astype(np.float32)
    assert len(resample(x, 16000, 8000)) == 8000
    assert len(fit_length(x[:100], 300)) == 300 and fit_length(x[:100], 300)[150] == 0
    assert len(fit_length(x, 300)) == 300


def test_audio_featurizer_chooses_rate_and_length_from_training_data(files):
    paths = [str(files.wav(f"{i}.wav", seconds=0.1 * (i + 1))) for i in range(20)]
    paths.append(str(files.wav("other.wav", seconds=0.3, rate=22050)))
    featurizer = AudioFeaturizer().fit(paths)
    assert featurizer.sample_rate == 8000
    assert featurizer.duration == pytest.approx(np.percentile([0.1 * (i + 1) for i in range(20)] + [0.3], 95))
    assert featurizer.transform(paths[:2]).shape == (2, *featurizer.output_shape)


def test_read_audio_mixes_stereo_to_mono(files):
    import soundfile

    path = files.root / "st.wav"
    soundfile.write(path, np.stack([np.full(100, 0.5), np.full(100, -0.5)], axis=1), 8000)
    samples, rate = read_audio(path)
    assert rate == 8000 and samples.shape == (100,) and np.allclose(samples, 0, atol=1e-4)
    with pytest.raises(NNGuruError, match="does not exist"):
        read_audio(files.root / "nothing.wav")


def test_image_featurizer_picks_most_common_size_and_majority_mode(files):
    paths = [str(files.png(f"{i}.png", size=(10, 6))) for i in range(3)]
    paths.append(str(files.png("c.png", size=(20, 20), mode="RGB")))
    featurizer = ImageFeaturizer().fit(paths)
    assert featurizer.size == (6, 10) and featurizer.mode == "L"
    assert featurizer.transform(paths).shape == (4, 6, 10, 1)


def test_large_images_are_capped(files):
    featurizer = ImageFeaturizer().fit([str(files.png("big.png", size=(400, 200)))])
    assert featurizer.size == (32, 64)  # the longer side capped at MAX_SIDE (64)


def test_probe_catches_truncated_images(files):
    good = files.png("g.png", size=(64, 64))
    assert probe_image(good).ok and probe_image(good).size == (64, 64)
    cut = files.text("cut.png", good.read_bytes()[:60])
    assert not probe_image(cut).ok


def test_tokens_kept_only_when_shared_by_many_rows():
    names = [f"Person{i}, Mr. X{i}" if i % 2 else f"Person{i}, Mrs. Y{i}" for i in range(40)]
    featurizer = TokenFeaturizer().fit(names)
    assert set(featurizer.tokens_) == {"person", "mr", "mrs", "x", "y"}
    np.testing.assert_array_equal(featurizer.transform(["Smith, Mr. John"])[0], [t == "mr" for t in featurizer.tokens_])
