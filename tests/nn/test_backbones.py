"""ImageNet backbones rebuilt from nnguru layers: torchvision's weights load and compute the same."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nnguru.errors import NNGuruError
from nnguru.nn import backbones


class _Basic(nn.Module):
    """torchvision's BasicBlock, written out in plain torch (NCHW): the oracle."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class _TorchResNet(nn.Module):
    """torchvision.models.resnet18/34's layout and state-dict names."""

    def __init__(self, stages: tuple[int, ...]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        cin = 64
        for s, blocks in enumerate(stages, start=1):
            cout = 64 * 2 ** (s - 1)
            setattr(self, f"layer{s}", nn.Sequential(*[_Basic(cin if i == 0 else cout, cout, 2 if s > 1 and i == 0
                                                              else 1) for i in range(blocks)]))
            cin = cout
        self.fc = nn.Linear(512, 1000)
        self.stages = len(stages)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for s in range(1, self.stages + 1):
            x = getattr(self, f"layer{s}")(x)
        return self.fc(x.mean(dim=(2, 3)))


def _randomized(model: nn.Module) -> dict:
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics, so inference mode is tested
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    return model.state_dict()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    oracle = _TorchResNet(backbones.get("resnet18").stages).eval()
    state = _randomized(oracle)
    path = tmp_path_factory.mktemp("w") / "resnet18-f37072fd.pth"
    torch.save(state, path)
    return oracle, path


@pytest.mark.parametrize("size", [(64, 64), (48, 80)])
def test_resnet18_matches_torchvision_layout(weights, size):
    """The same weights give the same ImageNet probabilities as the torch network (inference mode),
    including torchvision's input normalization and odd sizes (padding on every side)."""
    oracle, path = weights
    model = backbones.pretrained("resnet18", path, (*size, 3))
    x = np.random.default_rng(0).random((2, *size, 3), dtype=np.float32)
    mean, std = torch.tensor(backbones.IMAGENET_MEAN), torch.tensor(backbones.IMAGENET_STD)
    with torch.no_grad():
        want = torch.softmax(oracle(((torch.from_numpy(x) - mean) / std).permute(0, 3, 1, 2)), -1).numpy()
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-4)


def test_grayscale_images_read_as_rgb(weights):
    oracle, path = weights
    gray = np.random.default_rng(1).random((2, 40, 40, 1), dtype=np.float32)
    got = backbones.pretrained("resnet18", path, (40, 40, 1)).predict(gray, verbose=0)
    rgb = backbones.pretrained("resnet18", path, (40, 40, 3)).predict(np.repeat(gray, 3, -1), verbose=0)
    np.testing.assert_allclose(got, rgb, atol=1e-6)


def test_parameter_count_is_torchvisions():
    """11,689,512 trainable parameters (torchvision's resnet18), plus the BatchNorm statistics."""
    model = backbones.build("resnet18", (64, 64, 3))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == 11_689_512


def test_foreign_or_missing_files_are_refused(tmp_path, weights):
    with pytest.raises(NNGuruError, match="no such file.*download"):
        backbones.read_state(tmp_path / "none.pth", "resnet18")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(NNGuruError, match="cannot read it as a PyTorch weights file"):
        backbones.read_state(junk, "resnet18")
    state = torch.load(weights[1], weights_only=True)
    state.pop("layer3.0.downsample.0.weight")
    with pytest.raises(NNGuruError, match="no 'layer3.0.downsample.0.weight'"):
        backbones.load_weights("resnet18", backbones.build("resnet18", (32, 32, 3)), state)
    with pytest.raises(NNGuruError, match="not a torchvision resnet34"):  # resnet18's file has fewer blocks
        backbones.load_weights("resnet34", backbones.build("resnet34", (32, 32, 3)), backbones.read_state(weights[1],
                                                                                                      "resnet34"))
    state = torch.load(weights[1], weights_only=True)
    state["fc.weight"] = torch.zeros(10, 512)
    with pytest.raises(NNGuruError, match="shape \\(10, 512\\).*another network"):
        backbones.load_weights("resnet18", backbones.build("resnet18", (32, 32, 3)), state)
    with pytest.raises(NNGuruError, match="at least 32"):
        backbones.build("resnet18", (16, 16, 3))


def test_download_goes_through_the_registry(tmp_path, weights):
    """The real download path (urllib), on a local file, checked against the entry's SHA-256 prefix."""
    from nnguru.datasets import file_digest

    digest = file_digest(weights[1], "sha256")
    backbones.BACKBONES["test-resnet"] = backbones.Backbone((2, 2, 2, 2), weights[1].as_uri(), digest[:8])
    try:
        got = backbones.download("test-resnet", tmp_path / "w.pth")
    finally:
        backbones.BACKBONES.pop("test-resnet")
    assert file_digest(got, "sha256") == digest


def test_residual_blocks_train_save_load_and_export(tmp_path):
    """A small residual Sequential trains, reloads with the same outputs, freezes (BatchNorm in
    inference mode) and exports to ONNX within 1e-4."""
    import nnguru
    from nnguru.layers import Dense, GlobalAveragePooling2D, Input
    from nnguru.nn.layers.residual import GrayscaleToRGB, ResidualBlock

    rng = np.random.default_rng(0)
    x, y = rng.random((24, 12, 12, 1), dtype=np.float32), rng.integers(0, 2, 24)
    model = nnguru.Sequential([Input(shape=(12, 12, 1)), GrayscaleToRGB(), ResidualBlock(4),
                               ResidualBlock(8, strides=2), GlobalAveragePooling2D(), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m")
    np.testing.assert_allclose(nnguru.load_model(tmp_path / "m").predict(x, verbose=0), want, atol=1e-6)
    block = model.layers[2]
    stats = block.bn1.running_mean.clone()
    block.trainable = False
    assert not block.bn1.trainable and not any(p.requires_grad for p in block.parameters())
    model.fit(x, y, epochs=1, verbose=0)
    assert torch.equal(block.bn1.running_mean, stats)  # frozen: its statistics stay
    pytest.importorskip("onnxruntime")
    from nnguru.export import export_model, run_onnx

    export_model(model, tmp_path / "m.onnx")
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", [x[:5]]), model.predict(x[:5], verbose=0), atol=1e-4)


def test_the_strided_shortcut_is_a_strided_1x1_convolution():
    """The downsampling shortcut convolves the rows and columns its stride keeps (oneDNN's strided 1x1
    kernel corrupts the heap in backward on AVX2 CPUs): the numbers of a stride-2 1x1 convolution."""
    import torch.nn.functional as F

    from nnguru.nn.layers.residual import ResidualBlock

    block = ResidualBlock(8, strides=2)
    block.ensure_built((9, 9, 3))
    x = torch.rand(4, 9, 9, 3)
    with torch.no_grad():
        got = block.down(x[:, ::2, ::2]).permute(0, 3, 1, 2)
        want = F.conv2d(x.permute(0, 3, 1, 2).contiguous(), block.down.weight, None, stride=2)
        assert block(x).shape == (4, 5, 5, 8)
    torch.testing.assert_close(got, want)
