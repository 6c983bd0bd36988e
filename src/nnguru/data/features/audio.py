"""Recordings from file paths: one sample rate, one length, log-mel spectrograms.

The spectrogram is computed with numpy alone (framing, Hann window, rFFT, a triangular mel
filterbank, decibels) so no audio library beyond a WAV reader is needed.

A recording's header is checked before its samples are used: a sample rate outside
:data:`MIN_RATE`-:data:`MAX_RATE` (0 divides by zero, 2e9 asks for hundreds of GiB when resampled),
more than :data:`MAX_CHANNELS` channels or more than :data:`MAX_FILE_SECONDS` of sound make the file
unusable (skipped and listed by the cleaner), and files are opened only if they are regular files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile
from scipy.io import wavfile
from scipy.signal import resample_poly

from nnguru.data.paths import open_regular, regular_file_problem
from nnguru.errors import NNGuruError

MAX_SECONDS = 10.0  # longest clip length chosen from the data: bounds memory per recording
LENGTH_QUANTILE = 95  # clip length covers 95% of training recordings; longer ones are trimmed
# 25 ms analysis window as usual for speech; a 20 ms hop and 32 mel bands give a spectrogram 2.5x
# smaller than the common 10 ms / 40 bands, so a CNN trains in minutes on a laptop CPU, with the
# same accuracy on spoken digits (FSDD, logistic regression on the features: 0.98 either way).
WINDOW_SECONDS = 0.025
HOP_SECONDS = 0.020
N_MELS = 32
TOP_DB = 80.0  # quieter than this below the clip's peak is treated as silence
_CHUNK = 256  # recordings per spectrogram batch: bounds the temporary frame array
# Plausible recordings: telephone speech is 8 kHz, studio audio at most 384 kHz; a rate outside
# 1 kHz-384 kHz is a damaged or hostile header.
MIN_RATE = 1_000
MAX_RATE = 384_000
MAX_CHANNELS = 64  # more is a damaged header: the samples are averaged to mono anyway
# Longest file read (clips use at most MAX_SECONDS of it): 10 minutes at 384 kHz stereo is ~1.8 GB.
MAX_FILE_SECONDS = 600.0


class ImplausibleAudio(NNGuruError):
    """A recording whose header values are implausible; ``reason`` is the short form for reports."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AudioProbe:
    """Whether a recording decodes, and if so its sample rate, length and channel count."""

    ok: bool
    reason: str | None = None
    sample_rate: int | None = None
    frames: int | None = None
    channels: int | None = None


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the rate; an NNGuruError naming the file otherwise."""
    with open_regular(path, "Audio file") as file:
        try:
            header = soundfile.info(file)
        except Exception:  # libsndfile rejects the file: scipy knows a few more WAV variants
            header = None
        samples = None
        if header is not None:
            _check_header(path, int(header.samplerate), int(header.channels), int(header.frames))
            try:
                file.seek(0)
                samples, rate = soundfile.read(file, dtype="float32", always_2d=True)
            except Exception:  # a header libsndfile accepts over samples it cannot decode
                samples = None
        if samples is None:
            file.seek(0)
            samples, rate = _read_with_scipy(file, str(path))
    _check_header(path, int(rate), samples.shape[1], samples.shape[0])
    if samples.shape[0] == 0:
        raise NNGuruError(f"Audio file {str(path)!r} holds no samples (empty recording).")
    mono = samples.mean(axis=1, dtype=np.float32)
    if not np.isfinite(mono).all():
        raise NNGuruError(f"Audio file {str(path)!r} holds non-finite samples: it is corrupt.")
    return mono, int(rate)


def _check_header(path: str | Path, rate: int, channels: int, frames: int) -> None:
    """Refuse implausible header values before they size an allocation or divide by zero."""
    problem = None
    if not MIN_RATE <= rate <= MAX_RATE:
        problem = f"declares a sample rate of {rate} Hz, outside {MIN_RATE}-{MAX_RATE} Hz"
    elif not 1 <= channels <= MAX_CHANNELS:
        problem = f"declares {channels} channels, outside 1-{MAX_CHANNELS}"
    elif frames > MAX_FILE_SECONDS * rate:
        problem = f"lasts {frames / rate:.0f} s, over the {MAX_FILE_SECONDS:.0f} s limit"
    if problem:
        raise ImplausibleAudio(problem, f"Audio file {str(path)!r} {problem}: the header is damaged or the "
                               "file is not a single recording. Replace or remove it (cut long recordings "
                               "into clips).")


def _read_with_scipy(file, name: str) -> tuple[np.ndarray, int]:
    """scipy reads some WAV variants libsndfile rejects; both failing means the file is bad."""
    try:
        rate, data = wavfile.read(file, mmap=False)
    except Exception as exc:  # a damaged file can make a decoder raise almost anything
        raise NNGuruError(
            f"Audio file {name!r} could not be read ({exc}); it is truncated or not a WAV/"
            "FLAC/OGG recording. Replace or remove it; `nnguru inspect` lists every bad file."
        ) from None
    if data.ndim > 2:
        raise NNGuruError(f"Audio file {name!r} could not be read (samples of shape {data.shape}).")
    data = np.asarray(data)
    if data.dtype.kind in "iu":
        info = np.iinfo(data.dtype)
        data = (data.astype(np.float32) - (info.max + info.min + 1) / 2) / (info.max + 1)
    data = data.astype(np.float32)
    return (data[:, None] if data.ndim == 1 else data), int(rate)


def probe_audio(path: str | Path) -> AudioProbe:
    """Read the whole recording, so truncated or empty files are caught."""
    problem = regular_file_problem(path)
    if problem is not None:
        return AudioProbe(False, problem)
    if Path(path).stat().st_size == 0:
        return AudioProbe(False, "empty file (0 bytes)")
    try:
        with open_regular(path, "Audio file") as file:
            channels = soundfile.info(file).channels
    except Exception:  # the full read below decides whether the file is usable
        channels = None
    try:
        samples, rate = read_audio(path)
    except ImplausibleAudio as exc:
        return AudioProbe(False, exc.reason)
    except NNGuruError as exc:
        return AudioProbe(False, _reason(str(exc)))
    return AudioProbe(True, sample_rate=rate, frames=len(samples), channels=channels)


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Polyphase resampling (anti-aliased) from ``rate`` to ``target_rate``."""
    if rate == target_rate:
        return samples
    divisor = gcd(int(rate), int(target_rate))
    return resample_poly(samples, target_rate // divisor, rate // divisor).astype(np.float32)


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Zero-pad at the end or trim the end to exactly ``length`` samples."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 2595 * log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale, 0 to Nyquist.

    Each filter rises linearly from the previous center to its own and falls to the next one,
    scaled to unit area (Slaney normalization) so wide high-frequency bands are not louder.
    """
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (fft_hz - lower) / (center - lower)
    falling = (upper - fft_hz) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return (weights * (2.0 / (upper - lower))).astype(np.float32)


def log_mel(signals: np.ndarray, n_fft: int, hop: int, filterbank: np.ndarray) -> np.ndarray:
    """(N, n_mels, frames) log-mel power in dB, floored ``TOP_DB`` below each clip's peak."""
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    out = []
    for start in range(0, len(signals), _CHUNK):
        chunk = signals[start : start + _CHUNK]
        frames = np.lib.stride_tricks.sliding_window_view(chunk, n_fft, axis=1)[:, ::hop]
        power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
        mel = np.einsum("nft,mt->nmf", power.astype(np.float32), filterbank)
        decibels = 10.0 * np.log10(np.maximum(mel, 1e-10))
        peak = decibels.max(axis=(1, 2), keepdims=True)
        out.append(np.maximum(decibels, peak - TOP_DB).astype(np.float32))
    return np.concatenate(out) if out else np.empty((0, filterbank.shape[0], 0), np.float32)


class AudioFeaturizer:
    """Log-mel spectrograms of fixed shape (n_mels, frames, 1), standardized per mel band.

    The sample rate is the most common training rate and the clip length the 95th percentile
    of training lengths (at most ``max_seconds``); both can be set. Each clip is scaled to a
    peak of 1 first, so recording level does not change the features.
    """

    def __init__(
        self,
        sample_rate: int | None = None,
        duration: float | None = None,
        n_mels: int = N_MELS,
        max_seconds: float = MAX_SECONDS,
    ):
        self.sample_rate = None if sample_rate is None else int(sample_rate)
        self.duration = None if duration is None else float(duration)
        self.n_mels = int(n_mels)
        self.max_seconds = float(max_seconds)
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    @property
    def n_fft(self) -> int:
        return int(2 ** np.ceil(np.log2(WINDOW_SECONDS * self.sample_rate)))

    @property
    def hop(self) -> int:
        return max(1, round(HOP_SECONDS * self.sample_rate))

    @property
    def length(self) -> int:
        return max(self.n_fft, round(self.duration * self.sample_rate))

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (self.n_mels, 1 + (self.length - self.n_fft) // self.hop, 1)

    def fit(self, paths: list[str]) -> AudioFeaturizer:
        clips = [read_audio(p) for p in paths]
        if self.sample_rate is None:
            self.sample_rate = Counter(rate for _, rate in clips).most_common(1)[0][0]
        if self.duration is None:
            seconds = [len(s) / rate for s, rate in clips]
            self.duration = min(self.max_seconds, float(np.percentile(seconds, LENGTH_QUANTILE)))
        self.n_mels = min(self.n_mels, self.n_fft // 2)
        spectra = self._spectra(clips)
        self.mean_ = spectra.mean(axis=(0, 2)).astype(np.float32)
        self.std_ = np.maximum(spectra.std(axis=(0, 2)), 1e-3).astype(np.float32)
        return self

    def transform(self, paths: list[str]) -> np.ndarray:
        spectra = self._spectra([read_audio(p) for p in paths])
        spectra = (spectra - self.mean_[None, :, None]) / self.std_[None, :, None]
        return spectra[..., None].astype(np.float32)

    def _spectra(self, clips: list[tuple[np.ndarray, int]]) -> np.ndarray:
        signals = np.zeros((len(clips), self.length), dtype=np.float32)
        for i, (samples, rate) in enumerate(clips):
            samples = fit_length(resample(samples, rate, self.sample_rate), self.length)
            peak = np.abs(samples).max()
            signals[i] = samples / peak if peak > 0 else samples
        filterbank = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels)
        return log_mel(signals, self.n_fft, self.hop, filterbank)

    def config(self) -> dict:
        return {
            "sample_rate": self.sample_rate,
            "duration": self.duration,
            "n_mels": self.n_mels,
            "max_seconds": self.max_seconds,
            "n_fft": self.n_fft,
            "hop": self.hop,
        }

    def state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "std": self.std_}

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> AudioFeaturizer:
        featurizer = cls(
            sample_rate=config["sample_rate"],
            duration=config["duration"],
            n_mels=config["n_mels"],
            max_seconds=config["max_seconds"],
        )
        featurizer.mean_ = np.asarray(state["mean"], dtype=np.float32)
        featurizer.std_ = np.asarray(state["std"], dtype=np.float32)
        return featurizer


def _reason(message: str) -> str:
    """Short reason for the report from a NNGuruError message about one file."""
    for key, reason in (
        ("no samples", "empty recording (no samples)"),
        ("non-finite", "corrupt samples (not finite)"),
        ("does not exist", "file not found"),
    ):
        if key in message:
            return reason

    inner = message.split("could not be read (", 1)[-1].split(");", 1)[0]
    return f"unreadable audio ({inner})"
