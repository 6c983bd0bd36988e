"""Pretrained image backbones, built from nnguru layers and loaded from torchvision's weight files.

``nnguru train PHOTOS --from resnet18:PATH`` fine-tunes an ImageNet ResNet on the user's images. The
network is rebuilt here as a ``Sequential`` (stem, :class:`~nnguru.nn.layers.residual.ResidualBlock`
stages, global average pooling, the 1000-class head), so torchvision is not needed: its ``.pth``
files are plain state dicts, read with ``torch.load(weights_only=True)`` (no code runs) and mapped
key by key. Nothing is downloaded at run time; :func:`download` fetches a file once, checksummed.

Adding a backbone is one :data:`BACKBONES` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nnguru.errors import NNGuruError

# torchvision's ImageNet input normalization (pixels in 0-1, RGB)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_SIDE = 32  # five stride-2 stages: smaller images vanish before the pooling

@dataclass(frozen=True)
class Backbone:
    """One pretrained network: its stages, and where torchvision publishes its ImageNet weights."""

    stages: tuple[int, ...]  # basic blocks per stage (64, 128, 256, 512 filters)
    url: str
    sha256_prefix: str  # torchvision names its files by the SHA-256's first 8 hex digits

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

BACKBONES: dict[str, Backbone] = {
    "resnet18": Backbone((2, 2, 2, 2), "https://download.pytorch.org/models/resnet18-f37072fd.pth", "f37072fd"),
    "resnet34": Backbone((3, 4, 6, 3), "https://download.pytorch.org/models/resnet34-b627a593.pth", "b627a593"),
}

def get(name: str) -> Backbone:
    if name not in BACKBONES:
        raise NNGuruError(f"Unknown backbone {name!r}; available: {', '.join(sorted(BACKBONES))}. "
                          "Use --from NAME:PATH with one of them, or --from RUN_DIR.")
    return BACKBONES[name]

def build(name: str, input_shape: tuple[int, ...], classes: int = 1000):
    """The backbone as a Sequential for channels-last images of ``input_shape`` (1 or 3 channels),
    with fresh weights: ImageNet normalization, stem, residual stages, pooling, the ``classes`` head."""
    from nnguru.nn.layers import (
        Activation,
        BatchNormalization,
        Conv2D,
        Dense,
        GlobalAveragePooling2D,
        Input,
        MaxPooling2D,
        Normalization,
        ZeroPadding2D,
    )
    from nnguru.nn.layers.residual import BN, GrayscaleToRGB, ResidualBlock
    from nnguru.nn.sequential import Sequential

    spec = get(name)
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or shape[-1] not in (1, 3) or min(shape[:2]) < MIN_SIDE:
        raise NNGuruError(f"The {name} backbone reads images of shape (height, width, 1 or 3) with sides of at "
                          f"least {MIN_SIDE} pixels; the data gives {shape}. Use an image folder (grayscale or "
                          f"color) of at least {MIN_SIDE}x{MIN_SIDE} pixels, or --from a run trained on your data.")
    layers = [Input(shape=shape), GrayscaleToRGB(),
              Normalization(mean=IMAGENET_MEAN, variance=[s * s for s in IMAGENET_STD]),
              ZeroPadding2D((3, 3)), Conv2D(64, 7, strides=2, use_bias=False, kernel_initializer="he_normal"),
              BatchNormalization(**BN), Activation("relu"), ZeroPadding2D((1, 1)), MaxPooling2D(3, strides=2)]
    for stage, blocks in enumerate(spec.stages):
        for i in range(blocks):
            layers.append(ResidualBlock(64 * 2 ** stage, strides=2 if stage and not i else 1))
    layers += [GlobalAveragePooling2D(), Dense(classes, activation="softmax")]
    return Sequential(layers, name=name)

def torchvision_keys(name: str) -> list[tuple[str, str]]:
    """``(torchvision key prefix, module path in :func:`build`'s model)`` for every weighted module."""
    pairs = [("conv1", "stem_conv"), ("bn1", "stem_bn")]
    for stage, blocks in enumerate(get(name).stages, start=1):
        for i in range(blocks):
            src, dst = f"layer{stage}.{i}", f"block{stage}.{i}"
            pairs += [(f"{src}.conv1", f"{dst}.conv1"), (f"{src}.bn1", f"{dst}.bn1"),
                      (f"{src}.conv2", f"{dst}.conv2"), (f"{src}.bn2", f"{dst}.bn2")]
            if stage > 1 and i == 0:
                pairs += [(f"{src}.downsample.0", f"{dst}.down"), (f"{src}.downsample.1", f"{dst}.down_bn")]
    return [*pairs, ("fc", "fc")]

def _modules(name: str, model) -> dict[str, object]:
    """The model's weighted modules under the names :func:`torchvision_keys` uses."""
    from nnguru.nn.layers import BatchNormalization, Conv2D, Dense
    from nnguru.nn.layers.residual import ResidualBlock

    layers = [m for m in model.layers if type(m).__name__ not in ("Input", "InputLayer")]
    out: dict[str, object] = {}
    out["stem_conv"] = next(m for m in layers if isinstance(m, Conv2D))
    out["stem_bn"] = next(m for m in layers if isinstance(m, BatchNormalization))
    out["fc"] = next(m for m in reversed(layers) if isinstance(m, Dense))
    blocks = iter(m for m in layers if isinstance(m, ResidualBlock))
    for stage, count in enumerate(get(name).stages, start=1):
        for i in range(count):
            block = next(blocks)
            for part in ("conv1", "bn1", "conv2", "bn2", "down", "down_bn"):
                if getattr(block, part, None) is not None:
                    out[f"block{stage}.{i}.{part}"] = getattr(block, part)
    return out

def load_weights(name: str, model, state: dict, where: str = "the weights file") -> None:
    """Copy a torchvision state dict into :func:`build`'s model, checking every name and shape."""
    import torch

    modules = _modules(name, model)
    used = set()
    for src, dst in torchvision_keys(name):
        module = modules[dst]
        for param, tensor in module.state_dict().items():
            key = f"{src}.{param}"
            if key not in state:
                raise NNGuruError(f"{where} is not a torchvision {name} state dict: it has no {key!r}. Pass the "
                                  f"file torchvision publishes ({get(name).filename}).")
            value = state[key]
            if tuple(value.shape) != tuple(tensor.shape):
                raise NNGuruError(f"{where}: {key!r} has shape {tuple(value.shape)}, but {name} needs "
                                  f"{tuple(tensor.shape)}. Is it the weights of another network?")
            used.add(key)
        with torch.no_grad():
            module.load_state_dict({p: state[f"{src}.{p}"].to(t.dtype) for p, t in module.state_dict().items()})
    extra = [k for k in state if k not in used and not k.endswith("num_batches_tracked")]
    if extra:
        raise NNGuruError(f"{where} has weights {name} does not use (e.g. {extra[:3]}): not a torchvision {name} "
                          f"state dict. Pass the file torchvision publishes ({get(name).filename}).")

def read_state(path: str | Path, name: str) -> dict:
    """A torchvision weights file as a state dict; refused clearly when missing or not one."""
    import torch

    path = Path(path)
    spec = get(name)
    if not path.is_file():
        raise NNGuruError(
            f"--from {name}:{path}: no such file. nnguru downloads nothing at run time; get the ImageNet weights "
            f"once with `python -c \"import nnguru.nn.backbones as b; b.download({name!r}, {str(path)!r})\"` "
            f"(from {spec.url}, checked against its SHA-256), then rerun.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a weights file"
        raise NNGuruError(f"--from {name}:{path}: cannot read it as a PyTorch weights file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0][:200]}). Download it again with "
                          f"nnguru.nn.backbones.download({name!r}, PATH).") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise NNGuruError(f"--from {name}:{path} holds a {type(state).__name__}, not a state dict of {name}'s "
                          "weights. Pass the .pth file torchvision publishes.")
    return state

def pretrained(name: str, path: str | Path, input_shape: tuple[int, ...]):
    """:func:`build`'s model with the ImageNet weights of ``path``."""
    state = read_state(path, name)
    model = build(name, input_shape)
    load_weights(name, model, state, where=f"--from {name}:{path}")
    return model

def download(name: str, path: str | Path, url: str | None = None) -> Path:
    """Fetch ``name``'s ImageNet weights once into ``path``, verified against the SHA-256 prefix in
    the file name torchvision publishes (``url`` overrides the source, e.g. a mirror)."""
    from nnguru.transfer import download_weights

    spec = get(name)
    return download_weights(url or spec.url, path, sha256_prefix=spec.sha256_prefix)

def parse(spec: str) -> tuple[str, str] | None:
    """``'resnet18:PATH'`` -> ``('resnet18', 'PATH')``; None when ``spec`` names no backbone."""
    name, sep, path = str(spec).partition(":")
    return (name, path) if sep and name in BACKBONES else None
