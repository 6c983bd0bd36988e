"""Keras's image augmentation layers: random flips, rotations, zooms, shifts and contrast.

Each draws new parameters per image and per training step, and is the identity at inference
(``predict``, ``evaluate``, validation), as in Keras. Images are channels-last ``(H, W, C)``; the
geometric layers resample through one affine grid (``F.affine_grid`` + ``F.grid_sample``), with
Keras's ``fill_mode`` ('reflect', 'constant', 'nearest'; 'wrap' is refused) and ``interpolation``
('bilinear', 'nearest'). ``seed=`` gives a layer its own generator, so its draws do not depend on
anything else that uses the global RNG.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from nnguru.errors import NNGuruError, describe
from nnguru.nn.layers.base import Layer, Shape, register

FILL_MODES = {"reflect": "reflection", "constant": "zeros", "nearest": "border"}
INTERPOLATIONS = ("bilinear", "nearest")


def _range(value, name: str, symmetric_min: float | None = None) -> tuple[float, float]:
    """Keras's factor: a number f means [-f, f]; a pair (lo, hi) is taken as given."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = -float(value), float(value)
    elif isinstance(value, Sequence) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
        lo, hi = float(value[0]), float(value[1])
    else:
        raise NNGuruError(f"{name} must be a number or a pair (lower, upper); received {describe(value)}.")
    if lo > hi:
        raise NNGuruError(f"{name}: the lower bound {lo} is above the upper bound {hi}.")
    if symmetric_min is not None and lo <= symmetric_min:
        raise NNGuruError(f"{name} must stay above {symmetric_min}; received ({lo}, {hi}).")
    return lo, hi


class _Random(Layer, abc.ABC):
    """Shared machinery: the per-layer generator and the training-only switch."""

    def __init__(self, seed: int | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self._generator: torch.Generator | None = None

    def _uniform(self, n: int, lo: float, hi: float, device: torch.device) -> torch.Tensor:
        """``n`` draws from U(lo, hi), on the CPU (the layer's own generator when seeded), then moved."""
        if self.seed is not None and self._generator is None:
            self._generator = torch.Generator().manual_seed(int(self.seed))
        return (torch.rand(n, generator=self._generator) * (hi - lo) + lo).to(device)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise NNGuruError(f"{type(self).__name__} expects images of shape (height, width, channels); "
                              f"received {input_shape}. Add a channel axis (e.g. x[..., None]).")
        return input_shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.shape[0] == 0:
            return x
        return self.augment(x)

    @abc.abstractmethod
    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """The batch ``x`` with this layer's random change (training only; see ``forward``)."""

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}


class _Affine(_Random):
    """Layers that move pixels: one affine resampling per batch."""

    def __init__(self, fill_mode: str = "reflect", interpolation: str = "bilinear", fill_value: float = 0.0,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        cls = type(self).__name__
        if fill_mode not in FILL_MODES:
            hint = " ('wrap' is not supported by nnguru)" if fill_mode == "wrap" else ""
            raise NNGuruError(f"{cls}(fill_mode={fill_mode!r}) must be one of "
                              f"{', '.join(map(repr, FILL_MODES))}{hint}.")
        if fill_mode == "constant" and fill_value != 0.0:
            raise NNGuruError(f"{cls}(fill_value={fill_value!r}) is not supported by nnguru; constant filling "
                              "uses 0. Leave fill_value at 0.0.")
        if interpolation not in INTERPOLATIONS:
            raise NNGuruError(f"{cls}(interpolation={interpolation!r}) must be 'bilinear' or 'nearest'.")
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)

    @abc.abstractmethod
    def theta(self, n: int, h: int, w: int, device: torch.device) -> torch.Tensor:
        """(n, 2, 3) affine maps from output to input coordinates, in [-1, 1] units."""

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, _ = x.shape
        theta = self.theta(n, h, w, x.device).to(x.dtype)
        chw = x.permute(0, 3, 1, 2)
        grid = F.affine_grid(theta, list(chw.shape), align_corners=False)
        out = F.grid_sample(chw, grid, mode=self.interpolation, padding_mode=FILL_MODES[self.fill_mode],
                            align_corners=False)
        return out.permute(0, 2, 3, 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


@register
class RandomFlip(_Random):
    """Flips each image left-right ('horizontal'), upside down ('vertical') or either, with
    probability 1/2 each."""

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode: str = "horizontal_and_vertical", seed: int | None = None, **kwargs) -> None:
        super().__init__(seed=seed, **kwargs)
        if mode not in self.MODES:
            raise NNGuruError(f"RandomFlip(mode={mode!r}) must be one of {', '.join(map(repr, self.MODES))}.")
        self.mode = mode

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            flip = (self._uniform(n, 0.0, 1.0, x.device) < 0.5).view(n, 1, 1, 1)
            x = torch.where(flip, x.flip(2), x)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            flip = (self._uniform(n, 0.0, 1.0, x.device) < 0.5).view(n, 1, 1, 1)
            x = torch.where(flip, x.flip(1), x)
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


@register
class RandomRotation(_Affine):
    """Rotates each image by a random angle: ``factor`` is a fraction of a full turn (0.1 means up to
    ±36 degrees), a number f giving [-f, f] or a pair (lower, upper)."""

    def __init__(self, factor, fill_mode: str = "reflect", interpolation: str = "bilinear", seed: int | None = None,
                 fill_value: float = 0.0, **kwargs) -> None:
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, fill_value=fill_value, seed=seed, **kwargs)
        self.factor = _range(factor, "RandomRotation(factor)")
        self._factor_arg = factor

    def theta(self, n, h, w, device):
        angle = self._uniform(n, *self.factor, device) * 2 * math.pi
        cos, sin = angle.cos(), angle.sin()
        # rotate in pixel units: normalized coordinates scale x by w and y by h
        theta = torch.zeros(n, 2, 3, device=device)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
        theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
        return theta

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self._factor_arg}


@register
class RandomZoom(_Affine):
    """Zooms each image in or out: ``height_factor`` f means a zoom of up to ±f (a positive draw
    zooms out, as Keras); ``width_factor`` None keeps the aspect ratio."""

    def __init__(self, height_factor, width_factor=None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: int | None = None, fill_value: float = 0.0, **kwargs) -> None:
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, fill_value=fill_value, seed=seed, **kwargs)
        self.height_factor = _range(height_factor, "RandomZoom(height_factor)", symmetric_min=-1.0)
        self.width_factor = None if width_factor is None else _range(width_factor, "RandomZoom(width_factor)",
                                                                     symmetric_min=-1.0)
        self._args = (height_factor, width_factor)

    def theta(self, n, h, w, device):
        zy = 1.0 + self._uniform(n, *self.height_factor, device)
        zx = zy if self.width_factor is None else 1.0 + self._uniform(n, *self.width_factor, device)
        theta = torch.zeros(n, 2, 3, device=device)
        theta[:, 0, 0], theta[:, 1, 1] = zx, zy  # sampling a larger area shows a smaller image
        return theta

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self._args[0], "width_factor": self._args[1]}


@register
class RandomTranslation(_Affine):
    """Shifts each image by up to ``height_factor`` of its height and ``width_factor`` of its width."""

    def __init__(self, height_factor, width_factor, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: int | None = None, fill_value: float = 0.0, **kwargs) -> None:
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, fill_value=fill_value, seed=seed, **kwargs)
        self.height_factor = _range(height_factor, "RandomTranslation(height_factor)")
        self.width_factor = _range(width_factor, "RandomTranslation(width_factor)")
        self._args = (height_factor, width_factor)

    def theta(self, n, h, w, device):
        theta = torch.zeros(n, 2, 3, device=device)
        theta[:, 0, 0] = theta[:, 1, 1] = 1.0
        # a shift of f of the size is 2f in [-1, 1] units; the grid maps output to input, hence the minus
        theta[:, 0, 2] = -2 * self._uniform(n, *self.width_factor, device)
        theta[:, 1, 2] = -2 * self._uniform(n, *self.height_factor, device)
        return theta

    def get_config(self) -> dict:
        return {**super().get_config(), "height_factor": self._args[0], "width_factor": self._args[1]}


@register
class RandomContrast(_Random):
    """Scales each image's deviation from its per-channel mean by a factor in [1 - f, 1 + f], then
    clips to ``value_range`` (Keras 3's default (0, 255))."""

    def __init__(self, factor, seed: int | None = None, value_range: Sequence[float] = (0, 255), **kwargs) -> None:
        super().__init__(seed=seed, **kwargs)
        # Keras: a number f draws the factor from [1 - f, 1 + f], a pair (lower, upper) from [1 - lower, 1 + upper]
        lo, hi = _range(factor if isinstance(factor, (int, float)) else
                        (-factor[0], factor[1]) if isinstance(factor, Sequence) and len(factor) == 2 else factor,
                        "RandomContrast(factor)")
        if lo < -1.0 or hi < 0:
            raise NNGuruError(f"RandomContrast(factor) must be in [0, 1] (or a pair within it); received {factor!r}.")
        self.factor, self._factor_arg = (lo, hi), factor
        self.value_range = (float(value_range[0]), float(value_range[1]))

    def augment(self, x):
        n = x.shape[0]
        c = 1.0 + self._uniform(n, *self.factor, x.device).view(n, 1, 1, 1).to(x.dtype)
        mean = x.mean(dim=(1, 2), keepdim=True)
        return ((x - mean) * c + mean).clamp(*self.value_range)

    def get_config(self) -> dict:
        return {**super().get_config(), "factor": self._factor_arg, "value_range": list(self.value_range)}
