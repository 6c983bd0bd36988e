"""Transfer learning (--from): reuse, freezing, preprocessing reuse, and refusals."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

import nnguru
from nnguru import transfer
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
    assert record["warm_up_epochs"] == 2  # patience 3 cannot stop a 2-epoch warm-up
    head, body = run.model.optimizer.param_groups  # discriminative lr: the head keeps its rate
    assert body["lr"] == pytest.approx(head["lr"] * transfer.FINE_TUNE_LR_FACTOR)
    assert head["lr"] == pytest.approx(run.history["lr"][0])
    reused = {id(w) for m in run.model.__dict__["_transfer_body"] for w in m.parameters()}
    assert {id(w) for w in body["params"]} == reused
    assert {id(w) for w in head["params"]} == {id(w) for w in run.model.parameters()} - reused
    assert sorted(run.model.preprocessor.classes) == [5, 6, 7, 8, 9]
    html = (run.run_dir / "report.html").read_text()
    assert "Transfer learning" in html and "transfer phases" in html  # the section, with its plot
    assert first_dense in html.split('id="transfer"')[1].split("</section>")[0]  # a reused layer listed


def test_frozen_epochs_leave_the_body_unchanged(base_run, tmp_path):
    """With every epoch frozen (freeze = epochs of the warm-up only), the reused weights stay exactly."""
    from rich.console import Console

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
    assert "l2sp" in err("builtin:digits", "--from", str(base_run), "--l2sp", "-0.1", "--out", str(tmp_path / "e"))
    # a table of 13 features cannot go through an 8x8 image base
    message = err("builtin:wine", "--from", str(base_run), "--out", str(tmp_path / "d"))
    assert "--from" in message and ("image" in message or "shape" in message)


def test_pretrained_resnet18_base_from_the_cli(tmp_path, capsys):
    """``--from resnet18:PATH`` (torchvision's weights file, no torchvision): the residual body is
    reused and frozen first, the ImageNet head replaced, and the run saves, reloads and predicts."""
    import torch

    from nnguru.nn import backbones
    from photo_folder import make_photo_folder

    weights = tmp_path / "resnet18-f37072fd.pth"
    model = backbones.build("resnet18", (32, 32, 3))
    modules = backbones._modules("resnet18", model)
    torch.save({f"{src}.{p}": t for src, dst in backbones.torchvision_keys("resnet18")
                for p, t in modules[dst].state_dict().items()}, weights)  # a file in torchvision's layout
    data = make_photo_folder(tmp_path / "photos", n_per_class=6, n_classes=3, size=(32, 32))
    out = tmp_path / "run"
    assert main(["train", str(data), "--from", f"resnet18:{weights}", "--epochs", "2", "--freeze-epochs", "1",
                 "--out", str(out), "--quiet", "--no-monitor"]) == 0
    record = json.loads((out / "transfer.json").read_text())
    assert sum(r["type"] == "ResidualBlock" for r in record["reused"]) == 8
    assert record["reused_params"] > 11_000_000 and record["base"] == f"resnet18:{weights}"
    assert nnguru.load_model(out / "model").layers[-1].units == 3  # saved with its residual blocks; reloads
    preds = tmp_path / "preds.csv"
    assert main(["predict", str(out), str(data / "circle"), "--out", str(preds), "--quiet"]) == 0
    assert len(preds.read_text().splitlines()) == 1 + 6
    assert main(["train", str(data), "--from", f"resnet18:{tmp_path / 'missing.pth'}",
                 "--out", str(tmp_path / "x")]) == 2
    assert "download" in capsys.readouterr().err


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


def test_warm_up_stops_early_and_keeps_its_best_epoch(base_run, tmp_path):
    """A long warm-up stops when val_loss stops improving by 1e-3 (patience 3), not after all its epochs."""
    run = nnguru.train(_digits(5, 9, per_class=20), out=tmp_path / "ft", base=base_run, epochs=2, freeze_epochs=200,
                       verbose=0, monitor=False)
    warm = json.loads((run.run_dir / "transfer.json").read_text())["warm_up_epochs"]
    assert 4 <= warm < 200
    val = run.history["val_loss"][:warm]
    assert min(val[:-3]) - min(val[-3:]) < 1e-3  # stopped after 3 epochs that did not improve it by 1e-3


def test_fine_tune_optimizer_falls_back_to_one_lowered_rate():
    """Optimizers that are not torch.optim ones (here L-BFGS) get the lowered rate for every weight."""
    from nnguru.nn.layers import Dense, Input
    from nnguru.nn.sequential import Sequential
    from nnguru.transfer import FINE_TUNE_LR_FACTOR, fine_tune_optimizer

    body = Dense(4)
    model = Sequential([Input(shape=(3,)), body, Dense(2)])
    model.__dict__["_transfer_body"] = [body]
    opt = fine_tune_optimizer(model, "adam", 0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.01, pytest.approx(0.01 * FINE_TUNE_LR_FACTOR)]
    assert fine_tune_optimizer(model, "lbfgs", 0.5) == {"name": "lbfgs", "lr": 0.5 * FINE_TUNE_LR_FACTOR}


def test_a_conv_base_keeps_its_features_and_rebuilds_its_dense_block():
    """Conv features are reused with their weights; the dense block above them (shaped by the base's
    classes) is rebuilt with the same shape and fresh weights; an MLP keeps every layer below its head."""
    from nnguru.nn.layers import Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
    from nnguru.nn.sequential import Sequential
    from nnguru.transfer import Base, transfer_model

    c, hidden, drop, out = Conv2D(4, 3, activation="relu"), Dense(16, activation="relu"), Dropout(0.3), \
        Dense(5, activation="softmax")
    conv = Sequential([Input(shape=(8, 8, 1)), c, MaxPooling2D(2), Flatten(), hidden, drop, out])
    model, record = transfer_model(Base(conv, None, "conv"), [Dense(3, activation="softmax")], (8, 8, 1))
    assert [r["type"] for r in record["reused"]] == ["Conv2D", "MaxPooling2D", "Flatten"]
    # names by the layers' own (a process-wide counter numbers them)
    assert record["rebuilt"] == [hidden.name, drop.name] and record["replaced"] == [out.name]
    np.testing.assert_array_equal(model.get_layer(c.name).get_weights()[0], c.get_weights()[0])
    rebuilt = model.get_layer(hidden.name)
    assert rebuilt is not hidden and rebuilt.get_weights()[0].shape == (36, 16)
    assert not np.allclose(rebuilt.get_weights()[0], hidden.get_weights()[0])
    mlp = Sequential([Input(shape=(6,)), Dense(8), Dropout(0.2), Dense(4), Dense(2)])
    _, record = transfer_model(Base(mlp, None, "mlp"), [Dense(3)], (6,))
    assert [r["type"] for r in record["reused"]] == ["Dense", "Dropout", "Dense"] and record["rebuilt"] == []


def test_same_classes_keep_the_whole_network_head_included(base_run, tmp_path):
    """New data with the base's classes (a new speaker, a new camera) keeps the trained head: every
    layer is reused and fine-tunes at the lowered rate, with no warm-up (nothing new to warm up)."""
    from nnguru.transfer import FINE_TUNE_LR_FACTOR

    base = nnguru.load_model(base_run / "model")
    run = nnguru.train(_digits(0, 4, per_class=10, seed=1), out=tmp_path / "same", base=base_run, epochs=2,
                       verbose=0, monitor=False)
    record = json.loads((run.run_dir / "transfer.json").read_text())
    assert record["same_classes"] and record["replaced"] == [] and record["rebuilt"] == []
    assert record["warm_up_epochs"] == 0 and record["new_params"] == 0
    assert record["reused_params"] == base.count_params() == run.model.count_params()
    (group,) = run.model.optimizer.param_groups
    assert group["lr"] == pytest.approx(1e-3 * FINE_TUNE_LR_FACTOR)
    assert sorted(run.model.preprocessor.classes) == [0, 1, 2, 3, 4]


def test_l2sp_anchors_the_reused_layers_at_the_base_weights(base_run, tmp_path):
    """``l2sp=``: the reused weights get a penalty towards the base's values (training/l2sp.py), the new
    head none; transfer.json records the factor, and the saved model carries no anchor."""
    from nnguru.training.l2sp import StartingPoint

    base = nnguru.load_model(base_run / "model")
    run = nnguru.train(_digits(5, 9, per_class=10), out=tmp_path / "sp", base=base_run, epochs=2, freeze_epochs=1,
                       l2sp=0.5, verbose=0, monitor=False)
    assert json.loads((run.run_dir / "transfer.json").read_text())["l2sp"] == 0.5
    body = run.model.__dict__["_transfer_body"]
    anchored = [layer for layer in body if any(isinstance(r, StartingPoint) for r in layer._regularized.values())]
    assert anchored and len(anchored) == sum(1 for layer in body if layer.get_weights())
    first = next(layer for layer in anchored if type(layer).__name__ == "Dense")
    np.testing.assert_array_equal(first._regularized["weight"].anchor.numpy().T,
                                  base.get_layer(first.name).get_weights()[0])  # anchored at the base's weights
    assert not any(r for layer in run.model.layers[-1:] for r in layer._regularized.values())
    assert not any(layer._regularized for layer in nnguru.load_model(run.run_dir / "model").layers
                   if hasattr(layer, "_regularized"))
