"""Planted-fault benchmark of the guru (issue 14): detection, false alarms, auto-fix repairs.

Each case trains a small model on one modality (tables: MLP, images: CNN, audio: GRU over
spectrogram frames, as nnguru's audio task feeds log-mel frames; text: LSTM over token ids), with
one fault planted, or none (healthy controls, as many as faulty runs). Every run uses nnguru's
defaults where they matter (Adam 1e-3, early stopping on validation loss with the best epoch
restored). The guru diagnoses the run (curves + data checks); a fault is detected when one of its
``codes`` is reported. Then three repairs are compared:

* auto-fix: the strongest finding's remedy (``nnguru.guru.strongest_remedy``), retrained (as
  ``--auto-fix``);
* random repair: a remedy drawn at random from the same registry (Kim et al., ICST 2023), the
  same rounds (only remedies whose changes this harness applies are drawn);
* plain retraining: the same data retrained once with the default configuration (a new seed).

Every arm acts while the run has a finding at warning level or above (at most 3 rounds; plain
retraining once), and keeps the round --auto-fix would keep (best on validation).
**Repaired** means the same for the three: the kept run (the faulty run itself when nothing
changed) has none of the fault's ``repair_codes`` at warning level or above and passes the
fault's ``judge``:

* ``as_healthy`` (lr_too_high, lr_too_low): the model trains as a well-set run does: validation
  accuracy within 0.05 of a well-set run of the same optimizer on the same data and seed (the
  better of its documented rate and 10x it; the default Adam run if that is lower).
* ``not_worse`` (overfitting): validation accuracy not below the faulty run's (one validation
  sample of slack). Small data stays small: ``small_data`` counts as detecting overfitting, but
  repairing it is not asked (no retrain can add rows).
* ``labels_cleaned`` (label_errors, 20% of training labels flipped): training samples were left
  out, at least 80% of them really flipped, and validation accuracy is not below the faulty
  run's (one sample of slack).
* ``leak_free`` (leakage): no validation or test sample repeats a training sample any more (the
  remedy scores without them; the files are untouched), so the scores measure skill again.
* ``balanced`` (class_imbalance): validation balanced accuracy within 0.05 (or one rare
  validation sample) of a model trained with 'balanced' class weights on the same data (the
  textbook fix, as a reference).

Network faults (NETWORK_FAULTS: vanishing/exploding gradients, dead units, saturation, bad
initialization, unnormalized inputs, output/loss mismatch, non-finite values) are planted in the
user's model (``MODEL`` keys) or the optimizer, each in the modalities it names; every run is
watched by the training monitor, and remedies rewrite the model through ``nn/adjust.py`` as the
pipeline does. ``--network`` runs only them:

    python benchmarks/guru_faults.py --network --out benchmarks/guru_network.json

Per fault: detection recall, epoch of first detection (the diagnosis re-read on the first k
epochs), repair shares; healthy controls give the false-alarm rate (any finding other than
``healthy`` at warning level or above).

Adding a fault is one entry in FAULTS. ``--quick`` runs every modality with 1 seed.

    OMP_NUM_THREADS=1 python benchmarks/guru_faults.py --quick --out guru_faults.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.metrics import log_loss

import nnguru
from nnguru import Sequential, initializers, losses
from nnguru.callbacks import EarlyStopping
from nnguru.errors import NNGuruError
from nnguru.guru import Finding, diagnose, strongest_remedy
from nnguru.guru.data_checks import copies_of_train, label_issues, near_duplicates
from nnguru.guru.remedies import REMEDIES
from nnguru.layers import GRU, LSTM, Conv2D, Dense, Dropout, Embedding, Flatten
from nnguru.nn.adjust import MODEL_KEYS, apply_config
from nnguru.optim import registry
from nnguru.pipeline import VAL_TIE_REL
from nnguru.training.monitor import NetworkMonitor

# nnguru's defaults where they matter: Adam 1e-3, early stopping (restoring the best epoch).
DEFAULT = {"optimizer": "adam", "lr": 1e-3, "epochs": 20, "batch_size": 32, "dropout": 0.0,
           "hidden_scale": 1.0, "early_stopping": True, "class_weight": None, "seed": 0,
           "drop_train_rows": None, "drop_leaked": False, "patience": None}
# Config keys train() applies: a random repair draws only remedies that change these.
APPLIED = frozenset(DEFAULT) | frozenset(MODEL_KEYS) | {"clipnorm", "lr_scale"}
REPAIR_MARGIN = 0.05
NOISE = 2.0  # audio: tone amplitude 1 in noise of this std (a well-set GRU reaches ~0.97)
ROUNDS = 3  # as --auto-fix-rounds' default
# The network monitor samples as nnguru train's does (monitor_every "auto"); --monitor-every N fixes it.
MONITOR = {"every": "auto"}
# The user's model, as written (network faults plant these; repairs keep them and rewrite the model
# through nn/adjust.py, as the pipeline does): hidden activation, hidden Dense layers (MLP; CNN: after
# the convolution), kernel and hidden-bias initializers, output activation, loss from_logits.
MODEL = {"act": "relu", "depth": 2, "init": "glorot_uniform", "bias": "zeros", "last": "softmax",
         "from_logits": False}


@dataclass
class Data:
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    n_classes: int
    kind: str
    extra: dict[str, Any] = field(default_factory=dict)


# ---- modalities -----------------------------------------------------------------------------
def _split(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, kind: str) -> Data:
    order = rng.permutation(len(x))
    n_va = n_te = len(x) // 6
    parts = {"val": order[:n_va], "test": order[n_va:n_va + n_te], "train": order[n_va + n_te:]}
    return Data({k: x[v] for k, v in parts.items()}, {k: y[v] for k, v in parts.items()},
                int(y.max()) + 1, kind)


def tables(rng: np.random.Generator) -> Data:
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(0)) / x.std(0)
    return _split(x.astype("float32"), y, rng, "table")


def images(rng: np.random.Generator) -> Data:
    x, y = load_digits(return_X_y=True)
    return _split((x / 16).reshape(-1, 8, 8, 1).astype("float32"), y, rng, "image")


def audio(rng: np.random.Generator, n: int = 600, frames: int = 16, width: int = 32) -> Data:
    """Tones of 4 pitches in noise, as log-magnitude spectrum frames (a GRU reads the frames)."""
    y = rng.integers(0, 4, n)
    t = np.arange(frames * width)
    wave = np.sin(2 * np.pi * (2 + 3 * y[:, None]) * t / width + rng.uniform(0, 6.3, (n, 1)))
    wave = wave + rng.normal(0, NOISE, wave.shape)
    spec = np.log1p(np.abs(np.fft.rfft(wave.reshape(n, frames, width), axis=-1)))
    return _split(spec.astype("float32"), y, rng, "audio")


def text(rng: np.random.Generator, n: int = 600, length: int = 12, vocab: int = 50) -> Data:
    """Token sequences; the class is which of 3 keyword sets appears (an LSTM reads the ids)."""
    y = rng.integers(0, 3, n)
    x = rng.integers(10, vocab, (n, length))
    pos = rng.integers(0, length, (n, 2))
    for i in range(n):
        x[i, pos[i]] = 1 + 3 * y[i] + rng.integers(0, 3, 2)
    return _split(x.astype("int64"), y, rng, "text")


MODALITIES: dict[str, Callable[[np.random.Generator], Data]] = {
    "tables": tables, "images": images, "audio": audio, "text": text}


def build(data: Data, cfg: dict) -> Sequential:
    """The user's model (``MODEL`` keys in ``cfg``), before any remedy."""
    h = max(int(64 * cfg["hidden_scale"]), 4)
    m = {k: cfg.get(k, v) for k, v in MODEL.items()}
    kw = {"kernel_initializer": m["init"]}
    hid = {**kw, "activation": m["act"], "bias_initializer": m["bias"]}
    head = [Dense(data.n_classes, activation=m["last"], **kw)]
    drop = [Dropout(cfg["dropout"])] if cfg["dropout"] else []
    shape = data.x["train"].shape[1:]
    if data.kind == "image":
        body = [Conv2D(max(h // 4, 4), 3, input_shape=shape, **hid), Flatten(),
                *[Dense(h, **hid) for _ in range(max(int(m["depth"]) - 1, 1))]]
    elif data.kind == "audio":
        body = [GRU(max(h // 2, 4), input_shape=shape)]
    elif data.kind == "text":
        # the width (hidden_scale) and dropout reach the embedding and the LSTM as a text template's
        # would: the token vectors are where 60 rows get memorized (40 noise tokens x 16 dims stayed
        # at full width when only the LSTM shrank), and dropout on the LSTM's inputs and state
        # (variational dropout, Gal & Ghahramani 2016; Keras's dropout/recurrent_dropout)
        # regularizes the weights that memorize sequences, where Dropout on its last state alone
        # regularizes only the head (planted overfitting, 6 seeds: 1 repaired before, 6 after)
        rate = float(cfg["dropout"] or 0.0)
        body = [Embedding(64, max(int(16 * cfg["hidden_scale"]), 4), input_shape=shape),
                LSTM(max(h // 2, 4), dropout=rate, recurrent_dropout=rate)]
    else:
        body = [Dense(h, input_shape=shape, **hid), *[Dense(h, **hid) for _ in range(int(m["depth"]) - 1)]]
    return Sequential([*body, *drop, *head])


# ---- training and diagnosis -----------------------------------------------------------------
def scored(data: Data, cfg: dict) -> Data:
    """The data a configuration trains and scores on: suspected label errors left out of
    training (``drop_train_rows``), validation/test copies of training samples left out
    of scoring (``drop_leaked``), as the pipeline does."""
    x, y = dict(data.x), dict(data.y)
    if cfg["drop_train_rows"]:
        keep = np.ones(len(y["train"]), bool)
        keep[cfg["drop_train_rows"]] = False
        x["train"], y["train"] = x["train"][keep], y["train"][keep]
    if cfg["drop_leaked"]:
        for s in ("val", "test"):
            keep = np.ones(len(y[s]), bool)
            keep[copies_of_train(data.x["train"], x[s])] = False
            x[s], y[s] = x[s][keep], y[s][keep]
    return Data(x, y, data.n_classes, data.kind, data.extra)


def train(data: Data, cfg: dict) -> dict:
    nnguru.set_seed(int(cfg["seed"]))
    d = scored(data, cfg)
    x, y = d.x["train"], d.y["train"]
    model = build(d, cfg)
    opt = cfg["optimizer"] if cfg["lr"] is None else {"name": cfg["optimizer"], "lr": cfg["lr"]}
    loss = losses.SparseCategoricalCrossentropy(from_logits=bool(cfg.get("from_logits")))
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    # the network remedies (activation, batch_norm, initializers, normalize_inputs, output
    # activation, clipnorm) rewrite the compiled model as the pipeline's build stage does
    model = apply_config(model, cfg, x, loss)
    monitor = NetworkMonitor(MONITOR["every"])
    callbacks = [monitor]
    early = None
    if cfg["early_stopping"]:
        early = EarlyStopping(monitor="val_loss", patience=int(cfg["patience"] or 5),
                              restore_best_weights=True)
        callbacks.append(early)
    cw = None
    if cfg["class_weight"] == "balanced":
        counts = np.bincount(y, minlength=d.n_classes)
        cw = {i: len(y) / (d.n_classes * max(c, 1)) for i, c in enumerate(counts)}
    h = model.fit(x, y, epochs=int(cfg["epochs"]), batch_size=int(cfg["batch_size"]), verbose=0,
                  validation_data=(d.x["val"], d.y["val"]), callbacks=callbacks,
                  class_weight=cw)
    proba = model.predict(d.x["val"], verbose=0)
    pred = np.argmax(proba, 1)
    truth = d.y["val"]
    recall = {str(c): float(np.mean(pred[truth == c] == c))
              for c in range(d.n_classes) if np.any(truth == c)}
    val = {"accuracy": float(np.mean(pred == truth)), "loss": float(log_loss(
               truth, np.clip(proba, 1e-7, 1), labels=list(range(d.n_classes)))),
           "balanced_accuracy": float(np.mean(list(recall.values()))),
           "per_class": {c: {"recall": r} for c, r in recall.items()}}
    restored = None if early is None or early.best_epoch is None else early.best_epoch + 1
    return {"history": dict(h.history), "val": val, "val_accuracy": val["accuracy"],
            "n_val": len(truth), "restored": restored, "n_params": model.count_params(),
            "copies_scored": int(sum(len(copies_of_train(d.x["train"], d.x[s], seed=0))
                                     for s in ("val", "test"))),
            "monitor": monitor.result()}


def _hashes(a: np.ndarray) -> set:
    return {r.tobytes() for r in np.ascontiguousarray(a.reshape(len(a), -1))}


_CHECKS: dict[tuple, tuple[Data, dict]] = {}


def checks(data: Data, cfg: dict) -> dict:
    """The data-side facts the pipeline gives the guru (label issues, duplicates, class counts);
    computed once per data set and leakage setting (repairs retrain on the same data)."""
    key = (id(data), bool(cfg["drop_leaked"]))
    if key not in _CHECKS or _CHECKS[key][0] is not data:
        _CHECKS[key] = (data, _checks(data, scored(data, {**cfg, "drop_train_rows": None})))
    facts = dict(_CHECKS[key][1])
    issues = facts["label_issues"]
    if issues and cfg["drop_train_rows"]:  # already left out: the check sees what trains
        left = sorted(set(issues["train_indices"]) - set(cfg["drop_train_rows"]))
        facts["label_issues"] = {**issues, "count": len(left), "train_indices": left,
                                 "share": len(left) / issues["checked"]}
    return facts


def _checks(data: Data, d: Data) -> dict:
    x_tr = data.x["train"]
    y_tr = data.y["train"]
    seen = _hashes(x_tr)
    exact = sum(r in seen for r in _hashes(d.x["test"]))
    near = near_duplicates(x_tr, d.x["test"]) if data.kind != "text" else None
    issues = label_issues(x_tr, y_tr)
    counts = np.bincount(np.concatenate([d.y[s] for s in ("train", "val", "test")]),
                         minlength=data.n_classes)
    report = {"split": {"train": len(y_tr), "val": len(d.y["val"]), "test": len(d.y["test"]),
                        "duplicates_train_test": exact},
              "target": {"class_balance": {"counts": {str(i): int(c) for i, c in enumerate(counts)}}}}
    return {"data_report": report, "near_duplicates": near["count"] if near else None,
            "label_issues": issues}


def read(data: Data, cfg: dict, result: dict, facts: dict, epochs: int | None = None) -> list:
    hist = result["history"] if epochs is None else {
        k: v[:epochs] for k, v in result["history"].items()}
    mon = result.get("monitor")
    if mon is not None and epochs is not None:  # what the monitor had seen by the end of epoch k
        seen = (mon.get("nonfinite") or {}).get("epoch")
        mon = {**mon, "samples": [s for s in mon["samples"] if s["epoch"] <= epochs],
               "nonfinite": mon["nonfinite"] if seen is not None and seen <= epochs else None}
    counts = np.bincount(data.y["train"], minlength=data.n_classes)
    metrics = {"val": result["val"],
               "baseline": {"accuracy": float(counts.max() / counts.sum())}}
    return diagnose(history=hist, data_report=facts["data_report"], metrics=metrics,
                    n_classes=data.n_classes, n_params=result["n_params"], lr=cfg["lr"],
                    class_weight=cfg["class_weight"], label_issues=facts["label_issues"],
                    near_duplicates=facts["near_duplicates"], monitor=mon,
                    steps_per_epoch=math.ceil(len(data.y["train"]) / int(cfg["batch_size"])),
                    restored_epoch=None if epochs else result["restored"])


# ---- what "repaired" means, per fault (the same for every repair arm) ------------------------
@dataclass
class Case:
    """One faulty run and its references: what a repaired round is judged against."""

    data: Data  # the faulty data
    cfg: dict  # the faulty configuration
    healthy: dict  # train() of the healthy configuration on the clean data, same seed
    faulty: dict  # train() of the faulty run
    _balanced: dict | None = None

    def balanced_reference(self) -> dict:
        """A model trained with 'balanced' class weights on the faulty data (computed once)."""
        if self._balanced is None:
            self._balanced = train(self.data, {**self.cfg, "class_weight": "balanced"})
        return self._balanced


_WELL_SET: dict[tuple[int, str, int], float] = {}


def well_set_accuracy(case: Case) -> float:
    """Validation accuracy of a well-set run of the faulty run's optimizer on the same data: the
    better of its documented rate and 10x it (measured once per data set and optimizer)."""
    name = case.cfg["optimizer"]
    key = (id(case.data), name, int(case.cfg["seed"]))
    if key not in _WELL_SET:
        rate = registry.entry(name).default_lr
        _WELL_SET[key] = max(train(case.data, {**DEFAULT, "seed": case.cfg["seed"],
                                               "optimizer": name, "lr": lr})["val_accuracy"]
                             for lr in (rate, 10 * rate))
    return _WELL_SET[key]


def _as_healthy(case: Case, result: dict) -> bool:
    """Within 0.05 of a well-set run of the same optimizer (or of the default Adam run, if lower:
    a repair may also switch optimizer)."""
    ref = min(well_set_accuracy(case), case.healthy["val_accuracy"])
    return result["val_accuracy"] >= ref - REPAIR_MARGIN


def _not_worse(case: Case, result: dict) -> bool:
    return result["val_accuracy"] >= case.faulty["val_accuracy"] - 1 / result["n_val"] - 1e-9


def _labels_cleaned(case: Case, result: dict) -> bool:
    """Training rows were left out, at least 80% of them really flipped, and validation accuracy
    is not below the faulty run's."""
    flipped = set(case.data.extra["flipped"].tolist())
    dropped = result["cfg"]["drop_train_rows"] or []
    right = sum(int(i) in flipped for i in dropped) / max(len(dropped), 1)
    return bool(dropped) and right >= 0.8 and _not_worse(case, result)


def _leak_free(case: Case, result: dict) -> bool:
    return result["copies_scored"] == 0


def _balanced(case: Case, result: dict) -> bool:
    """Within 0.05, or one rare validation sample, of the balanced-weighted reference."""
    ref = case.balanced_reference()["val"]
    rare = min(np.sum(case.data.y["val"] == c) for c in range(case.data.n_classes))
    margin = max(REPAIR_MARGIN, 1 / (len(ref["per_class"]) * max(rare, 1)))
    return result["val"]["balanced_accuracy"] >= ref["balanced_accuracy"] - margin


JUDGES: dict[str, Callable[[Case, dict], bool]] = {
    "as_healthy": _as_healthy, "not_worse": _not_worse, "labels_cleaned": _labels_cleaned,
    "leak_free": _leak_free,
    "balanced": _balanced}


# ---- faults: one entry each ------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    codes: tuple[str, ...]  # findings that count as detecting it
    config: dict[str, Any] = field(default_factory=dict)  # planted in the configuration
    data: Callable[[Data, np.random.Generator], Data] | None = None  # planted in the data
    judge: str = "as_healthy"  # JUDGES: what a repaired round must reach
    repair_codes: tuple[str, ...] | None = None  # must be gone after a repair (default: codes)
    modalities: tuple[str, ...] | None = None  # where the fault makes sense (None: all)


def _flip_labels(d: Data, rng: np.random.Generator, share: float = 0.2) -> Data:
    y = d.y["train"].copy()
    flip = rng.random(len(y)) < share
    y[flip] = (y[flip] + rng.integers(1, d.n_classes, flip.sum())) % d.n_classes
    return Data(d.x, {**d.y, "train": y}, d.n_classes, d.kind, {"flipped": np.flatnonzero(flip)})


def _leak(d: Data, rng: np.random.Generator, share: float = 0.3) -> Data:
    pick = rng.choice(len(d.y["test"]), int(share * len(d.y["test"])), replace=False)
    x = np.concatenate([d.x["train"], d.x["test"][pick]])
    y = np.concatenate([d.y["train"], d.y["test"][pick]])
    return Data({**d.x, "train": x}, {**d.y, "train": y}, d.n_classes, d.kind)


def _imbalance(d: Data, rng: np.random.Generator, ratio: float = 20.0,
               min_scored: int = 5) -> Data:
    """Class 0 made 20x rarer than the largest class in training, and as rare in validation and
    test but with at least 5 samples there (a recall on 2 samples is noise)."""
    out_x, out_y = dict(d.x), dict(d.y)
    counts = np.bincount(d.y["train"])
    share = max(int(counts.max() / ratio), 2) / counts[0]
    for s in ("train", "val", "test"):
        rare = np.flatnonzero(d.y[s] == 0)
        keep = max(int(round(share * len(rare))), 2 if s == "train" else min_scored)
        drop = rare[keep:]
        mask = np.ones(len(d.y[s]), bool)
        mask[drop] = False
        out_x[s], out_y[s] = d.x[s][mask], d.y[s][mask]
    return Data(out_x, out_y, d.n_classes, d.kind)


def _tiny_train(d: Data, rng: np.random.Generator) -> Data:
    pick = rng.choice(len(d.y["train"]), min(60, len(d.y["train"])), replace=False)
    return Data({**d.x, "train": d.x["train"][pick]}, {**d.y, "train": d.y["train"][pick]},
                d.n_classes, d.kind)


# The curve and data faults.
FAULTS: dict[str, Fault] = {
    "lr_too_high": Fault(("lr_too_high",), {"optimizer": "sgd", "lr": 30.0}),
    "lr_too_low": Fault(("lr_too_low",), {"optimizer": "sgd", "lr": 1e-5}),
    # 60 training rows, a 4x wider model, 60 epochs and no early stopping
    "overfitting": Fault(("overfitting", "small_data"),
                         {"hidden_scale": 4.0, "epochs": 60, "early_stopping": False},
                         _tiny_train, judge="not_worse", repair_codes=("overfitting",)),
    "label_errors": Fault(("label_errors",), data=_flip_labels, judge="labels_cleaned"),
    "leakage": Fault(("leakage",), data=_leak, judge="leak_free"),
    "class_imbalance": Fault(("class_imbalance", "accuracy_paradox"), data=_imbalance,
                             judge="balanced"),
}


# ---- network faults (the training monitor's findings, guru/network_rules.py) ---------------------
def _scale_shift(d: Data, rng: np.random.Generator) -> Data:
    """Raw-unit inputs: every feature times 100-1000 plus an offset of the same order."""
    scale, shift = rng.uniform(100, 1000), rng.uniform(-1000, 1000)
    return Data({k: v * scale + shift for k, v in d.x.items()}, d.y, d.n_classes, d.kind)


NETWORK_FAULTS: dict[str, tuple[Fault, tuple[str, ...]]] = {  # fault, the modalities it is planted in
    # ten sigmoid layers: the gradient shrinks ~4x per layer on the way back
    "vanishing_gradients": (Fault(("vanishing_gradients",), {"act": "sigmoid", "depth": 10}),
                            ("tables", "images")),
    # an RNN trained by plain SGD at a large rate, no clipping
    "exploding_gradients": (Fault(("exploding_gradients",), {"optimizer": "sgd", "lr": 100.0}),
                            ("audio", "text")),
    # hidden ReLUs start (and stay) below zero
    "dead_units": (Fault(("dead_units",), {"bias": initializers.Constant(-5.0)}), ("tables", "images")),
    # tanh with weights 30x Glorot's scale: the units sit at +-1
    "saturation": (Fault(("saturation",), {"act": "tanh", "init": initializers.RandomNormal(0, 1.5)}),
                   ("tables", "images")),
    # ReLU nets drawn at a huge scale: outputs in the hundreds before any step
    "bad_initialization": (Fault(("bad_initialization",), {"init": initializers.RandomNormal(0, 1.5)}),
                           ("tables", "images")),
    "unnormalized_input": (Fault(("unnormalized_input",), data=_scale_shift), ("tables", "audio")),
    # softmax output read by a from_logits=True loss
    "output_loss_mismatch": (Fault(("output_loss_mismatch",), {"from_logits": True}),
                             ("tables", "text")),
    # a rate that overflows the weights within the first steps
    # (ELU, unbounded above and never dead: ReLUs die at this rate and an LSTM's gates stay
    # bounded, so both keep a finite loss)
    "nonfinite": (Fault(("nonfinite",), {"optimizer": "sgd", "lr": 1e4, "act": "elu"}), ("tables", "images")),
}
FAULTS.update({name: replace(fault, modalities=mods) for name, (fault, mods) in NETWORK_FAULTS.items()})
# Healthy controls of the same architectures, cycled over: deep-but-fine and tanh/sigmoid nets
# (recurrent modalities are RNNs already; these keys change only the MLP and CNN). The larger ones
# train with early stopping, as nnguru train does: without it, 6-8 layers on 380 rows do overfit
# (the guru said so in 8 of 21 runs), and a control must be healthy.
_FINE = {"early_stopping": True}
HEALTHY_VARIANTS: tuple[dict[str, Any], ...] = (
    {}, {"depth": 8, **_FINE}, {"act": "tanh", **_FINE}, {"act": "sigmoid", "depth": 3},
    {"act": "tanh", "depth": 6, **_FINE})


def alarms(findings: list) -> list[str]:
    return [f.code for f in findings if f.code != "healthy" and f.severity != "info"]


def first_detection(data: Data, cfg: dict, result: dict, facts: dict, codes: tuple) -> int | None:
    for k in range(1, len(result["history"]["loss"]) + 1):
        if set(codes) & {f.code for f in read(data, cfg, result, facts, epochs=k)}:
            return k
    return None


def _kept(rounds: list[tuple[dict, dict, list]]) -> tuple[dict, dict, list]:
    """The round --auto-fix keeps (pipeline._auto_fix): the best on validation among the rounds
    scored without leaked samples once one is; lowest validation loss of the weights kept, or
    balanced accuracy when the rounds differ in class weights (that changes what the loss
    measures)."""
    honest = [r for r in rounds if r[0]["drop_leaked"]] or rounds
    if len({str(r[0]["class_weight"]) for r in rounds}) > 1:
        return max(honest, key=lambda r: r[1]["val"]["balanced_accuracy"])
    kept = honest[0]
    for r in honest[1:]:  # a tie in loss goes to fewer findings (pipeline._better_on_val)
        new, old = r[1]["val"]["loss"], kept[1]["val"]["loss"]
        if (len(alarms(r[2])) < len(alarms(kept[2])) if math.isclose(new, old, rel_tol=VAL_TIE_REL)
                else new < old):
            kept = r
    return kept


def repair(case: Case, spec: Fault, findings: list,
           choose: Callable[[list, dict], dict]) -> dict:
    """Rounds of ``choose(findings, cfg) -> changes`` and a retrain while the run has a finding at
    warning level or above, at most ROUNDS (as --auto-fix: it keeps going while a remedy applies);
    the round kept as --auto-fix keeps it (the faulty run itself when nothing changed) is
    repaired when it has none of the fault's repair codes at warning level or above and passes
    the fault's ``judge``. Returns ``{"repaired", "rounds", "changes"}``."""
    codes = set(spec.repair_codes or spec.codes)

    def problems(fs: list) -> set[str]:  # info-level notes (a rare class now handled) are not
        return {f.code for f in fs if f.severity != "info" and f.code != "healthy"}

    cfg, applied = case.cfg, []
    rounds = [(cfg, case.faulty, findings)]
    while problems(findings) and len(applied) < ROUNDS:
        changes = choose(findings, cfg)
        if not changes:
            break
        applied.append(sorted(changes))
        try:
            result = train(case.data, {**cfg, **changes})
        except NNGuruError:  # a remedy that cannot apply to this model (a random pick): a lost round
            continue
        cfg = {**cfg, **changes}
        findings = read(case.data, cfg, result, checks(case.data, cfg))
        rounds.append((cfg, result, findings))
    cfg, result, findings = _kept(rounds)
    repaired = not codes & problems(findings) and JUDGES[spec.judge](case, {**result, "cfg": cfg})
    return {"repaired": bool(repaired), "rounds": len(applied), "changes": applied,
            "kept": rounds.index((cfg, result, findings)), "left": sorted(problems(findings)),
            "kept_val_accuracy": result["val_accuracy"]}


def auto_choice(findings: list, cfg: dict) -> dict:
    return strongest_remedy(findings, cfg)["changes"]


def random_choice(pick: random.Random) -> Callable[[list, dict], dict]:
    """A remedy drawn at random from the same registry (it may be the right one), among those
    whose changes this harness applies."""
    def choose(findings: list, cfg: dict) -> dict:
        codes = list(REMEDIES)
        pick.shuffle(codes)
        seen = {f.code: f for f in findings}  # the run's own evidence when it has the finding
        for code in codes:
            remedy = REMEDIES[code](seen.get(code) or Finding(code, "warning", {}), cfg)
            if remedy is not None and remedy.changes and set(remedy.changes) <= APPLIED:
                return remedy.changes
        return {}
    return choose


_HEALTHY: dict[tuple[str, int], tuple[Data, dict]] = {}


def healthy_run(modality: str, seed: int) -> tuple[Data, dict]:
    """The clean data of (modality, seed) and its healthy run (trained once, reused)."""
    if (modality, seed) not in _HEALTHY:
        data = MODALITIES[modality](np.random.default_rng(seed))
        _HEALTHY[(modality, seed)] = (data, train(data, {**DEFAULT, "seed": seed}))
    return _HEALTHY[(modality, seed)]


def run_case(modality: str, fault: str | None, seed: int, rng_pick: random.Random,
             variant: dict | None = None) -> dict:
    data, healthy = healthy_run(modality, seed)
    cfg = {**DEFAULT, "seed": seed}
    if variant:  # a healthy control of another architecture (HEALTHY_VARIANTS)
        healthy = train(data, {**cfg, **variant})
    row: dict[str, Any] = {"modality": modality, "fault": fault or "healthy", "seed": seed}
    if fault is None:
        findings = read(data, cfg, healthy, checks(data, cfg))
        row.update(alarms=alarms(findings), false_alarm=bool(alarms(findings)), variant=variant or {})
        return row
    spec = FAULTS[fault]
    rng = np.random.default_rng([seed, 1])
    fdata = spec.data(data, rng) if spec.data else data
    fcfg = {**cfg, **spec.config}
    result = train(fdata, fcfg)
    facts = checks(fdata, fcfg)
    findings = read(fdata, fcfg, result, facts)
    detected = bool(set(spec.codes) & {f.code for f in findings})
    row.update(detected=detected, found=[f.code for f in findings],
               first_epoch=first_detection(fdata, fcfg, result, facts, spec.codes)
               if detected else None, val_accuracy=result["val_accuracy"])
    case = Case(fdata, fcfg, healthy, result)
    arms = {"auto_fix": auto_choice, "random_repair": random_choice(rng_pick),
            # plain retraining: the default configuration (and a new seed) on the same data, once
            "plain_retrain": lambda f, c: {**cfg, "seed": seed + 100} if c is fcfg else {}}
    for arm, choose in arms.items():
        out = repair(case, spec, findings, choose)
        row[arm], row[arm + "_changes"] = out["repaired"], out["changes"]
        row[arm + "_kept"] = out["kept"]
        # why a kept round is not a repair: the findings it still has, its validation accuracy
        row[arm + "_left"], row[arm + "_val_accuracy"] = out["left"], out["kept_val_accuracy"]
    return row


def summarize(rows: list[dict]) -> dict:
    out: dict[str, Any] = {}
    healthy = [r for r in rows if r["fault"] == "healthy"]
    out["healthy_runs"] = len(healthy)
    out["false_alarm_rate"] = float(np.mean([r["false_alarm"] for r in healthy])) if healthy else None
    for fault in sorted({r["fault"] for r in rows} - {"healthy"}):
        rs = [r for r in rows if r["fault"] == fault]
        firsts = [r["first_epoch"] for r in rs if r["first_epoch"]]
        out[fault] = {"runs": len(rs), "recall": float(np.mean([r["detected"] for r in rs])),
                      "first_epoch_median": float(np.median(firsts)) if firsts else None,
                      "auto_fix": float(np.mean([r["auto_fix"] for r in rs])),
                      "random_repair": float(np.mean([r["random_repair"] for r in rs])),
                      "plain_retrain": float(np.mean([r["plain_retrain"] for r in rs]))}
    out["by_modality (detected/auto-fixed/runs)"] = by_modality(rows)
    healthy_alarms = [a for r in healthy for a in r["alarms"]]
    out["false_alarm_codes"] = {c: healthy_alarms.count(c) for c in sorted(set(healthy_alarms))}
    return out


def by_modality(rows: list[dict]) -> dict:
    """Per fault and modality: detected / auto-fix repaired / runs (where a miss comes from)."""
    out: dict[str, dict[str, str]] = {}
    for r in rows:
        if r["fault"] == "healthy":
            continue
        cell = out.setdefault(r["fault"], {}).setdefault(r["modality"], [0, 0, 0])
        cell[0] += bool(r["detected"])
        cell[1] += bool(r["auto_fix"])
        cell[2] += 1
    return {f: {m: "{}/{}/{}".format(*c) for m, c in v.items()} for f, v in out.items()}


def markdown(summary: dict) -> str:
    """The per-fault table of RESULTS.md."""
    head = ("| fault | runs | recall | first detection (median epoch) | auto-fix repaired "
            "| random repair | plain retrain |\n| --- | --- | --- | --- | --- | --- | --- |")
    lines = [head]
    for fault, v in summary.items():
        if not isinstance(v, dict) or "recall" not in v:
            continue
        lines.append(f"| {fault} | {v['runs']} | {v['recall']:.2f} | {v['first_epoch_median']} | "
                     f"{v['auto_fix']:.2f} | {v['random_repair']:.2f} | {v['plain_retrain']:.2f} |")
    lines.append(f"| healthy controls: false-alarm rate | {summary['healthy_runs']} | "
                 f"{summary['false_alarm_rate']:.3f} | | | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    torch.set_num_threads(1)  # small models; runs share the machine
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="every modality, 1 seed")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per fault (default 3; quick 1)")
    ap.add_argument("--modalities", default=None, help="comma-separated subset of "
                    + ",".join(MODALITIES))
    ap.add_argument("--faults", default=None, help="comma-separated subset of " + ",".join(FAULTS))
    ap.add_argument("--out", default=None, help="write rows and summary as JSON here")
    ap.add_argument("--markdown", action="store_true", help="print the RESULTS.md table too")
    ap.add_argument("--summarize", nargs="+", default=None, metavar="JSON",
                    help="no runs: summarize the rows of earlier --out files or printed logs "
                    "(runs split over processes); a later file's row replaces an earlier one "
                    "of the same modality, fault and seed")
    ap.add_argument("--network", action="store_true", help="the network faults only (NETWORK_FAULTS)")
    ap.add_argument("--healthy-only", action="store_true",
                    help="only the healthy controls the selected faults would get (false alarms)")
    ap.add_argument("--monitor-every", default="auto", help="monitor sampling: auto (as nnguru train) or N")
    args = ap.parse_args(argv)
    MONITOR["every"] = int(args.monitor_every) if args.monitor_every.isdigit() else args.monitor_every
    if args.summarize:
        merged: dict[tuple, dict] = {}
        for path in args.summarize:
            with open(path) as fh:
                text = fh.read()
            try:
                rows = json.loads(text)["rows"]
            except json.JSONDecodeError:  # a run's printed log: one JSON row per line
                rows = [json.loads(line) for line in text.splitlines()
                        if line.startswith('{"modality"')]
            for r in rows:
                merged[(r["modality"], r["fault"], r["seed"])] = r
        summary = summarize(list(merged.values()))
        print(json.dumps(summary, indent=2))
        print(markdown(summary))
        return summary
    seeds = args.seeds or (1 if args.quick else 3)
    mods = args.modalities.split(",") if args.modalities else list(MODALITIES)
    faults = args.faults.split(",") if args.faults else list(NETWORK_FAULTS if args.network else FAULTS)
    pick = random.Random(0)
    rows, t0 = [], time.perf_counter()
    for m in mods:
        here = [f for f in faults if FAULTS[f].modalities is None or m in FAULTS[f].modalities]
        for s in range(seeds):
            for fault in here if not args.healthy_only else ():
                rows.append(run_case(m, fault, s, pick))
                print(json.dumps(rows[-1]), flush=True)
            # as many healthy controls as faulty runs: one per fault, each its own seed
            for k in range(len(here)):
                rows.append(run_case(m, None, 1000 + s * len(here) + k, pick,
                                     HEALTHY_VARIANTS[(s * len(here) + k) % len(HEALTHY_VARIANTS)]))
                print(json.dumps(rows[-1]), flush=True)
    summary = summarize(rows)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(summary, indent=2))
    if args.markdown:
        print(markdown(summary))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"rows": rows, "summary": summary}, fh, indent=1, default=str)
    return summary


if __name__ == "__main__":
    main()
