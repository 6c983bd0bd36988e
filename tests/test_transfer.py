"""Transfer learning (--from): reuse, freezing, preprocessing reuse, and refusals."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

import nnguru
from nnguru.cli import main
from nnguru.errors import NNGuruError
from nnguru.transfer import download_weights, load_base


def _digits(lo: int, hi: int, per_class: int | None = None, seed: int = 0):
    d = load_digits()
    keep = (d.target >= lo) & (d.target <= hi)
    x, y = d.images[keep].astype(np.float32), d.target[keep]
    if per_class is not None:
        rng = np.random.default_rng(seed)
        idx = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
        x, y = x[idx], y[idx]
    return x, y


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "digits04"
    nnguru.train(_digits(0, 4), out=out, model="mlp", epochs=15, verbose=0, monitor=False)
    return out


def test_fine_tune_reuses_the_body_freezes_then_unfreezes(base_run, tmp_path):
    run = nnguru.train(_digits(5, 9, per_class=20), out=tmp_path / "ft", base=base_run, epochs=4, freeze_epochs=2,
                       verbose=0, monitor=False)
    record = json.loads((run.run_dir / "transfer.json").read_text())
    assert [r["type"] for r in record["reused"]] == ["Flatten", "Dense", "Dropout", "Dense", "Dropout"]
    assert record["freeze_epochs"] == 2 and record["reused_params"] > 0
    base = nnguru.load_model(base_run / "model")
    # the first Dense by type: layer names depend on how many layers the process made before
    first_dense = next(layer.name for layer in base.layers if type(layer).__name__ == "Dense")
    reused_first = base.get_layer(first_dense).get_weights()[0]
    tuned_first = run.model.get_layer(first_dense).get_weights()[0]
    assert tuned_first.shape == reused_first.shape
    assert not np.allclose(tuned_first, reused_first)  # unfrozen later: it moved
    lrs = run.history["lr"]
    assert len(lrs) >= 3 and lrs[2] == pytest.approx(lrs[0] * 0.1)  # the fine-tuning lr
    assert sorted(run.model.preprocessor.classes) == [5, 6, 7, 8, 9]


def test_frozen_epochs_leave_the_body_unchanged(base_run, tmp_path):
    """With every epoch frozen (freeze = epochs of the warm-up only), the reused weights stay exactly."""
    from rich.console import Console

    from nnguru import transfer
    from nnguru.tasks.base import Prepared

    base = load_base(base_run)
    x, y = _digits(5, 9, per_class=10)
    x = base.pre.transform(x)
    from nnguru.nn.layers import Dense

    model, _ = transfer.transfer_model(base, [Dense(5, activation="softmax")], base.pre.input_shape)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    before = [layer.get_weights() for layer in model.__dict__["_transfer_body"] if layer.get_weights()]
    p = Prepared({}, base.pre, {"train": x, "val": x[:0]}, {"train": y - 5, "val": y[:0]}, 5, None)
    transfer.warm_up_head(model, p, {"freeze_epochs": 2, "batch_size": 16, "verbose": 0, "optimizer": "adam"},
                          Console(quiet=True))
    after = [layer.get_weights() for layer in model.__dict__["_transfer_body"] if layer.get_weights()]
    assert all(np.array_equal(a, b) for wa, wb in zip(before, after, strict=True) for a, b in zip(wa, wb, strict=True))
    assert all(p_.requires_grad for p_ in model.parameters())  # unfrozen after the warm-up


def test_bad_bases_exit_2(base_run, tmp_path, capsys):
    def err(*argv):
        assert main(["train", *argv, "--quiet"]) == 2
        return capsys.readouterr().err

    missing = str(tmp_path / "nope")
    assert "no such run directory" in err("builtin:wine", "--from", missing, "--out", str(tmp_path / "a"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.json").write_text("{not json")
    assert "not a usable nnguru model" in err("builtin:wine", "--from", str(bad), "--out", str(tmp_path / "b"))
    assert "freeze_epochs" in err("builtin:digits", "--from", str(base_run), "--freeze-epochs", "-1",
                                  "--out", str(tmp_path / "c"))
    # a table of 13 features cannot go through an 8x8 image base
    message = err("builtin:wine", "--from", str(base_run), "--out", str(tmp_path / "d"))
    assert "--from" in message and ("image" in message or "shape" in message)


def test_torchvision_backbone_says_how_to_get_it():
    pytest.importorskip("nnguru")
    try:
        import torchvision  # noqa: F401
        pytest.skip("torchvision is installed")
    except ImportError:
        pass
    with pytest.raises(NNGuruError, match="needs torchvision.*download_weights"):
        load_base("resnet18:/tmp/resnet18.pth")


def test_download_weights_verifies_the_checksum(tmp_path):
    src = tmp_path / "weights.bin"
    src.write_bytes(b"pretend weights" * 100)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    got = download_weights(src.as_uri(), tmp_path / "w.pth", sha256_prefix=digest[:8])
    assert got.read_bytes() == src.read_bytes()
    with pytest.raises(NNGuruError, match="SHA-256"):
        download_weights(src.as_uri(), tmp_path / "x.pth", sha256="0" * 64)
    assert not (tmp_path / "x.pth").exists() and not (tmp_path / "x.pth.part").exists()
    with pytest.raises(NNGuruError, match="needs sha256"):
        download_weights(src.as_uri(), tmp_path / "y.pth")
