"""Keras's weight initializers: ``Dense(64, kernel_initializer='he_normal')`` or ``HeNormal(seed=0)``.

An initializer is called with a weight's shape in Keras's layout (a Dense kernel is
``(inputs, units)``, a Conv2D kernel ``(kh, kw, in, out)``) and returns a float32 tensor; the layer
moves it into torch's layout. Fans are computed as Keras computes them from that layout, so the
scale of every draw matches Keras. Each initializer has ``get_config``, so a layer stores it in
JSON (a name for the built-in defaults, ``{"class_name", "config"}`` for an object).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import torch

from nnguru.errors import NNGuruError, describe

Shape = Sequence[int]
TRUNCATED_STD = 0.87962566103423978  # std of a unit normal truncated at +-2: Keras divides by it


def fans(shape: Shape) -> tuple[int, int]:
    """Keras's ``compute_fans``: the last two axes are (in, out), the others the receptive field."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    field = math.prod(shape[:-2])
    return shape[-2] * field, shape[-1] * field


class Initializer(abc.ABC):
    """Base class: ``init(shape) -> tensor`` in Keras's layout."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def generator(self) -> torch.Generator | None:
        """A seeded generator makes the same weights every call, as a seeded Keras initializer does."""
        return None if self.seed is None else torch.Generator().manual_seed(int(self.seed))

    elementwise = True  # independent draws per value: any layout gives the same distribution

    @abc.abstractmethod
    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """New values of ``shape`` in Keras's layout (each subclass draws its own)."""

    def sample(self, shape: Shape, fan: tuple[int, int]) -> torch.Tensor:
        """Values of ``shape`` scaled for the fans ``fan`` (only VarianceScaling reads them)."""
        return self(shape)

    def draw(self, shape: Shape, layout: Sequence[int] | None = None) -> torch.Tensor:
        """The weight for Keras's ``shape`` in torch's layout (``layout``: Keras's axes in torch's
        order). Element-wise draws are made in torch's layout directly, with Keras's fans, so a
        seeded run draws the values torch's own init drew before (e.g. Glorot for Dense)."""
        shape = tuple(shape)
        if layout is None:
            return self(shape)
        if self.elementwise:
            return self.sample(tuple(shape[i] for i in layout), fans(shape))
        return self(shape).permute(*layout).contiguous()

    def get_config(self) -> dict:
        return {"seed": self.seed} if self.seed is not None else {}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        """Same class and config; a Keras name compares equal to its default (``Zeros() == 'zeros'``)."""
        if isinstance(other, str):
            other = NAMES.get(other.lower())
            other = other() if other is not None else None
        return isinstance(other, Initializer) and serialize(self) == serialize(other)

    def __hash__(self) -> int:
        return hash(str(serialize(self)))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    def __init__(self) -> None:
        super().__init__()

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.zeros(tuple(shape), dtype=dtype)


class Ones(Initializer):
    def __init__(self) -> None:
        super().__init__()

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.ones(tuple(shape), dtype=dtype)


class Constant(Initializer):
    def __init__(self, value: float = 0.0) -> None:
        super().__init__()
        self.value = float(value)

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.full(tuple(shape), self.value, dtype=dtype)

    def get_config(self) -> dict:
        return {"value": self.value}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        t = torch.empty(tuple(shape), dtype=dtype)
        return t.normal_(self.mean, self.stddev, generator=self.generator())

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomNormal):
    """Normal draws redrawn beyond two standard deviations (Keras's default stddev 0.05)."""

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return _truncated(shape, self.mean, self.stddev, self.generator(), dtype)


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        t = torch.empty(tuple(shape), dtype=dtype)
        return t.uniform_(self.minval, self.maxval, generator=self.generator())

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


def _truncated(shape: Shape, mean: float, std: float, gen: torch.Generator | None,
               dtype: torch.dtype) -> torch.Tensor:
    t = torch.empty(tuple(shape), dtype=dtype)
    return torch.nn.init.trunc_normal_(t, mean, std, mean - 2 * std, mean + 2 * std, generator=gen)


class VarianceScaling(Initializer):
    """Keras's family behind Glorot, He and LeCun: variance ``scale / n`` for n = fan_in,
    fan_out or their mean, drawn truncated-normal, normal or uniform."""

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None) -> None:
        super().__init__(seed)
        if mode not in self.MODES:
            raise NNGuruError(f"VarianceScaling mode must be one of {self.MODES}; received {mode!r}.")
        if distribution == "normal":  # Keras's older spelling
            distribution = "truncated_normal"
        if distribution not in self.DISTRIBUTIONS:
            raise NNGuruError(
                f"VarianceScaling distribution must be one of {self.DISTRIBUTIONS}; received {distribution!r}.")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return self.sample(shape, fans(shape), dtype)

    def sample(self, shape: Shape, fan: tuple[int, int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        fan_in, fan_out = fan
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        gen = self.generator()
        if self.distribution == "truncated_normal":
            return _truncated(shape, 0.0, math.sqrt(variance) / TRUNCATED_STD, gen, dtype)
        if self.distribution == "untruncated_normal":
            return torch.empty(tuple(shape), dtype=dtype).normal_(0.0, math.sqrt(variance), generator=gen)
        limit = math.sqrt(3.0 * variance)
        return torch.empty(tuple(shape), dtype=dtype).uniform_(-limit, limit, generator=gen)

    def get_config(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


def _scaled(name: str, scale: float, mode: str, distribution: str) -> type[VarianceScaling]:
    """A named VarianceScaling preset whose config is just its seed, as in Keras."""

    def __init__(self, seed: int | None = None) -> None:
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self) -> dict:
        return Initializer.get_config(self)

    doc = f"VarianceScaling(scale={scale}, mode={mode!r}, distribution={distribution!r})."
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


GlorotUniform = _scaled("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _scaled("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _scaled("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _scaled("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _scaled("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _scaled("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """An orthogonal matrix over (prod(shape[:-1]), shape[-1]) times ``gain`` (Keras's recurrent default)."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = float(gain)

    elementwise = False

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if len(shape) < 2:
            raise NNGuruError(f"Orthogonal initializer needs a shape of rank 2 or more; received {tuple(shape)}.")
        flat = torch.empty(math.prod(shape[:-1]), shape[-1], dtype=dtype)
        torch.nn.init.orthogonal_(flat, self.gain, generator=self.generator())
        return flat.reshape(tuple(shape))

    def get_config(self) -> dict:
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only)."""

    elementwise = False

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        self.gain = float(gain)

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if len(shape) != 2:
            raise NNGuruError(f"Identity initializer needs a 2-D shape; received {tuple(shape)}.")
        return self.gain * torch.eye(*shape, dtype=dtype)

    def get_config(self) -> dict:
        return {"gain": self.gain}


class RandomSign(Initializer):
    """Each value +1 or -1 with equal chance: TabM's first ensemble adapter (Gorishniy et al., ICLR 2025),
    so the members of a shared network start from differently signed copies of the input."""

    def __call__(self, shape: Shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        bits = torch.randint(0, 2, tuple(shape), generator=self.generator())
        return (bits * 2 - 1).to(dtype)


INITIALIZERS: dict[str, type[Initializer]] = {
    cls.__name__: cls for cls in (Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal,
                                  VarianceScaling, GlorotUniform, GlorotNormal, HeUniform, HeNormal,
                                  LecunUniform, LecunNormal, Orthogonal, Identity, RandomSign)
}
# Keras's snake_case names (what tutorials pass as strings)
NAMES: dict[str, type[Initializer]] = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal, "he_uniform": HeUniform,
    "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity, "random_sign": RandomSign,
    "uniform": RandomUniform, "normal": RandomNormal,  # Keras 2's short names (Embedding's 'uniform')
}


def get(identifier: str | dict | Initializer | None, arg: str = "initializer") -> Initializer:
    """A Keras name, a ``{"class_name", "config"}`` dict or an Initializer -> an Initializer."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = NAMES.get(identifier.lower()) or INITIALIZERS.get(identifier)
        if cls is None:
            raise NNGuruError(f"Unknown {arg} {identifier!r}. Valid names: {', '.join(NAMES)}; "
                              "or an object from nnguru.initializers (e.g. HeNormal(seed=0)).")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in INITIALIZERS:
        return INITIALIZERS[identifier["class_name"]].from_config(dict(identifier.get("config", {})))
    raise NNGuruError(f"{arg} must be a Keras initializer name (e.g. 'he_normal') or an nnguru.initializers "
                      f"object; received {describe(identifier)}.")


def serialize(init: Initializer) -> str | dict:
    """The JSON form: the snake_case name when the config is empty, else ``{"class_name", "config"}``."""
    config = init.get_config()
    name = next((k for k, v in NAMES.items() if v is type(init)), None)  # the first: Keras 3's
    if name is not None and config == type(init)().get_config():  # the class's defaults, no seed
        return name
    return {"class_name": type(init).__name__, "config": config}
