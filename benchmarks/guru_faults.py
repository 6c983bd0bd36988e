"""Planted-fault benchmark of the guru (issue 14): detection, false alarms, auto-fix repairs.

Each case trains a small model on one modality (tables: MLP, images: CNN, audio: GRU over a
waveform's frames, text: LSTM over token ids), with one fault planted, or none (healthy
controls, as many as faulty runs). The guru diagnoses the run (curves + data checks); a fault is
detected when one of its expected finding codes is reported. Then three repairs are compared:

* auto-fix: the strongest finding's remedy (``nnguru.guru.strongest_remedy``), retrained, up to
  3 rounds while the fault is still found (as ``--auto-fix``);
* random repair: a remedy drawn at random from the same registry (Kim et al., ICST 2023), the
  same number of rounds;
* plain retraining: the same data retrained once with the default configuration.

A run counts as repaired when the fault's codes are gone from the retrained run's diagnosis and
its validation accuracy is within 0.05 of the healthy run's. Per fault: detection recall, epoch
of first detection (the diagnosis re-read on the first k epochs), repair shares; the healthy
controls give the false-alarm rate (any finding other than ``healthy`` and info-level ones).

Adding a fault is one entry in FAULTS. ``--quick`` runs tables and images with 2 seeds.
Network faults (NETWORK_FAULTS: vanishing/exploding gradients, dead units, saturation, bad
initialization, unnormalized inputs, output/loss mismatch, non-finite values) are planted in the
user's model (``MODEL`` keys) or the optimizer, each in the modalities it names; every run is
watched by the training monitor, and remedies rewrite the model through ``nn/adjust.py`` as the
pipeline does. ``--network`` runs only them:

    python benchmarks/guru_faults.py --network --out benchmarks/guru_network.json

    python benchmarks/guru_faults.py --quick --out benchmarks/guru_faults.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits

import nnguru
from nnguru import Sequential, initializers, losses
from nnguru.callbacks import EarlyStopping
from nnguru.errors import NNGuruError
from nnguru.guru import Finding, diagnose, strongest_remedy
from nnguru.guru.data_checks import label_issues, near_duplicates
from nnguru.guru.remedies import REMEDIES
from nnguru.layers import GRU, LSTM, Conv2D, Dense, Dropout, Embedding, Flatten
from nnguru.nn.adjust import apply_config
from nnguru.training.monitor import NetworkMonitor

DEFAULT = {"optimizer": "adam", "lr": 1e-3, "epochs": 20, "batch_size": 32, "dropout": 0.0,
           "hidden_scale": 1.0, "early_stopping": False, "class_weight": None, "seed": 0,
           "drop_train_rows": None}
REPAIR_MARGIN = 0.05
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


def audio(rng: np.random.Generator, n: int = 600) -> Data:
    """Tones of 4 pitches in noise, as 16 frames of 16 samples (a GRU reads the frames)."""
    y = rng.integers(0, 4, n)
    t = np.arange(256) / 256
    x = np.sin(2 * np.pi * (4 + 3 * y[:, None]) * t + rng.uniform(0, 6.3, (n, 1)))
    x = x + rng.normal(0, 0.6, x.shape)
    return _split(x.reshape(n, 16, 16).astype("float32"), y, rng, "audio")


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
        body = [Embedding(64, 16, input_shape=shape), LSTM(max(h // 2, 4))]
    else:
        body = [Dense(h, input_shape=shape, **hid), *[Dense(h, **hid) for _ in range(int(m["depth"]) - 1)]]
    return Sequential([*body, *drop, *head])


# ---- training and diagnosis -----------------------------------------------------------------
def train(data: Data, cfg: dict) -> dict:
    nnguru.set_seed(int(cfg["seed"]))
    x, y = data.x["train"], data.y["train"]
    if cfg["drop_train_rows"]:
        keep = np.ones(len(y), bool)
        keep[cfg["drop_train_rows"]] = False
        x, y = x[keep], y[keep]
    model = build(data, cfg)
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
        early = EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
        callbacks.append(early)
    cw = None
    if cfg["class_weight"] == "balanced":
        counts = np.bincount(y, minlength=data.n_classes)
        cw = {i: len(y) / (data.n_classes * max(c, 1)) for i, c in enumerate(counts)}
    h = model.fit(x, y, epochs=int(cfg["epochs"]), batch_size=int(cfg["batch_size"]), verbose=0,
                  validation_data=(data.x["val"], data.y["val"]), callbacks=callbacks,
                  class_weight=cw)
    proba = model.predict(data.x["val"], verbose=0)
    val_acc = float(np.mean(np.argmax(proba, 1) == data.y["val"]))
    restored = None if early is None or early.best_epoch is None else early.best_epoch + 1
    return {"history": dict(h.history), "val_accuracy": val_acc, "restored": restored,
            "n_params": model.count_params(), "monitor": monitor.result()}


def _hashes(a: np.ndarray) -> set:
    return {r.tobytes() for r in np.ascontiguousarray(a.reshape(len(a), -1))}


_CHECKS: dict[int, tuple[Data, dict]] = {}


def checks(data: Data, cfg: dict) -> dict:
    """The data-side facts the pipeline gives the guru (label issues, duplicates, class counts);
    computed once per data set (repairs retrain on the same data)."""
    key = id(data)
    if key not in _CHECKS or _CHECKS[key][0] is not data:
        _CHECKS[key] = (data, _checks(data))
    facts = dict(_CHECKS[key][1])
    issues = facts["label_issues"]
    if issues and cfg["drop_train_rows"]:  # already left out: the check sees what trains
        left = sorted(set(issues["train_indices"]) - set(cfg["drop_train_rows"]))
        facts["label_issues"] = {**issues, "count": len(left), "train_indices": left,
                                 "share": len(left) / issues["checked"]}
    return facts


def _checks(data: Data) -> dict:
    x_tr = data.x["train"]
    y_tr = data.y["train"]
    seen = _hashes(x_tr)
    exact = sum(r in seen for r in _hashes(data.x["test"]))
    near = near_duplicates(x_tr, data.x["test"]) if data.kind != "text" else None
    issues = label_issues(x_tr, y_tr) if data.kind != "text" else None
    counts = np.bincount(np.concatenate([data.y[s] for s in ("train", "val", "test")]),
                         minlength=data.n_classes)
    report = {"split": {"train": len(y_tr), "val": len(data.y["val"]), "test": len(data.y["test"]),
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
    metrics = {"val": {"accuracy": result["val_accuracy"]},
               "baseline": {"accuracy": float(counts.max() / counts.sum())}}
    return diagnose(history=hist, data_report=facts["data_report"], metrics=metrics,
                    n_classes=data.n_classes, n_params=result["n_params"], lr=cfg["lr"],
                    class_weight=cfg["class_weight"], label_issues=facts["label_issues"],
                    near_duplicates=facts["near_duplicates"], monitor=mon,
                    restored_epoch=None if epochs else result["restored"])


# ---- faults: one entry each ------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    codes: tuple[str, ...]  # findings that count as detecting it
    config: dict[str, Any] = field(default_factory=dict)  # planted in the configuration
    data: Callable[[Data, np.random.Generator], Data] | None = None  # planted in the data


def _flip_labels(d: Data, rng: np.random.Generator, share: float = 0.2) -> Data:
    y = d.y["train"].copy()
    flip = rng.random(len(y)) < share
    y[flip] = (y[flip] + rng.integers(1, d.n_classes, flip.sum())) % d.n_classes
    return Data(d.x, {**d.y, "train": y}, d.n_classes, d.kind)


def _leak(d: Data, rng: np.random.Generator, share: float = 0.3) -> Data:
    pick = rng.choice(len(d.y["test"]), int(share * len(d.y["test"])), replace=False)
    x = np.concatenate([d.x["train"], d.x["test"][pick]])
    y = np.concatenate([d.y["train"], d.y["test"][pick]])
    return Data({**d.x, "train": x}, {**d.y, "train": y}, d.n_classes, d.kind)


def _imbalance(d: Data, rng: np.random.Generator, ratio: float = 20.0) -> Data:
    out_x, out_y = dict(d.x), dict(d.y)
    counts = np.bincount(d.y["train"])
    keep_rare = max(int(counts.max() / ratio), 2)
    for s in ("train", "val", "test"):
        rare = np.flatnonzero(d.y[s] == 0)
        drop = rare[keep_rare if s == "train" else max(keep_rare // 4, 1):]
        mask = np.ones(len(d.y[s]), bool)
        mask[drop] = False
        out_x[s], out_y[s] = d.x[s][mask], d.y[s][mask]
    return Data(out_x, out_y, d.n_classes, d.kind)


def _unnormalize(d: Data, rng: np.random.Generator) -> Data:
    scale = rng.uniform(100, 1000)
    return Data({k: v * scale for k, v in d.x.items()}, d.y, d.n_classes, d.kind)


def _tiny_train(d: Data, rng: np.random.Generator) -> Data:
    pick = rng.choice(len(d.y["train"]), min(60, len(d.y["train"])), replace=False)
    return Data({**d.x, "train": d.x["train"][pick]}, {**d.y, "train": d.y["train"][pick]},
                d.n_classes, d.kind)


FAULTS: dict[str, Fault] = {
    "lr_too_high": Fault(("lr_too_high",), {"optimizer": "sgd", "lr": 30.0}),
    "lr_too_low": Fault(("lr_too_low",), {"optimizer": "sgd", "lr": 1e-5}),
    "overfitting": Fault(("overfitting", "small_data"), {"hidden_scale": 4.0, "epochs": 60},
                         _tiny_train),
    "label_errors": Fault(("label_errors",), data=_flip_labels),
    "leakage": Fault(("leakage",), data=_leak),
    "class_imbalance": Fault(("class_imbalance", "accuracy_paradox"), data=_imbalance),
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
FAULTS.update({name: fault for name, (fault, _) in NETWORK_FAULTS.items()})
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


def repair(data: Data, cfg: dict, findings: list, codes: tuple, healthy_acc: float,
           choose: Callable[[list, dict], dict]) -> bool:
    """Up to ROUNDS rounds of ``choose(findings, cfg) -> changes`` and a retrain (as --auto-fix
    does); repaired when a round is free of the fault's codes and within REPAIR_MARGIN of the
    healthy run's validation accuracy."""
    for _ in range(ROUNDS):
        changes = choose(findings, cfg)
        if not changes:
            return False
        try:
            result = train(data, {**cfg, **changes})
        except NNGuruError:  # a remedy that cannot apply to this model (a random pick): a lost round
            continue
        cfg = {**cfg, **changes}
        findings = read(data, cfg, result, checks(data, cfg))
        # info-level notes (a rare class that is now handled) do not count as the fault
        if not set(codes) & {f.code for f in findings if f.severity != "info"}:
            return result["val_accuracy"] >= healthy_acc - REPAIR_MARGIN
    return False


def auto_choice(findings: list, cfg: dict) -> dict:
    return strongest_remedy(findings, cfg)["changes"]


def random_choice(pick: random.Random) -> Callable[[list, dict], dict]:
    """A remedy drawn at random from the same registry (it may be the right one)."""
    def choose(findings: list, cfg: dict) -> dict:
        codes = list(REMEDIES)
        pick.shuffle(codes)
        for code in codes:
            remedy = REMEDIES[code](Finding(code, "warning", {}), cfg)
            if remedy is not None and remedy.changes:
                return remedy.changes
        return {}
    return choose


def run_case(modality: str, fault: str | None, seed: int, rng_pick: random.Random,
             variant: dict | None = None) -> dict:
    rng = np.random.default_rng(seed)
    data = MODALITIES[modality](rng)
    cfg = {**DEFAULT, "seed": seed}
    healthy = train(data, {**cfg, **(variant or {})})
    row: dict[str, Any] = {"modality": modality, "fault": fault or "healthy", "seed": seed}
    if fault is None:
        findings = read(data, cfg, healthy, checks(data, cfg))
        row.update(alarms=alarms(findings), false_alarm=bool(alarms(findings)), variant=variant or {})
        return row
    spec = FAULTS[fault]
    fdata = spec.data(data, rng) if spec.data else data
    fcfg = {**cfg, **spec.config}
    result = train(fdata, fcfg)
    facts = checks(fdata, fcfg)
    findings = read(fdata, fcfg, result, facts)
    detected = bool(set(spec.codes) & {f.code for f in findings})
    row.update(detected=detected, found=[f.code for f in findings],
               first_epoch=first_detection(fdata, fcfg, result, facts, spec.codes)
               if detected else None)
    acc = healthy["val_accuracy"]
    row["auto_fix"] = repair(fdata, fcfg, findings, spec.codes, acc, auto_choice)
    row["random_repair"] = repair(fdata, fcfg, findings, spec.codes, acc, random_choice(rng_pick))
    # plain retraining: the default configuration (and a new seed) on the same data, once
    row["plain_retrain"] = repair(fdata, fcfg, findings, spec.codes, acc,
                                  lambda f, c: {**cfg, "seed": seed + 100} if c != cfg else {})
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
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tables and images, 2 seeds")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per fault (default 3; quick 2)")
    ap.add_argument("--modalities", default=None, help="comma-separated subset of "
                    + ",".join(MODALITIES))
    ap.add_argument("--faults", default=None, help="comma-separated subset of " + ",".join(FAULTS))
    ap.add_argument("--out", default=None, help="write rows and summary as JSON here")
    ap.add_argument("--network", action="store_true", help="the network faults only (NETWORK_FAULTS)")
    ap.add_argument("--monitor-every", default="auto", help="monitor sampling: auto (as nnguru train) or N")
    args = ap.parse_args(argv)
    MONITOR["every"] = int(args.monitor_every) if args.monitor_every.isdigit() else args.monitor_every
    seeds = args.seeds or (2 if args.quick else 3)
    mods = args.modalities.split(",") if args.modalities else (
        ["tables", "images"] if args.quick else list(MODALITIES))
    faults = args.faults.split(",") if args.faults else list(NETWORK_FAULTS if args.network else FAULTS)
    pick = random.Random(0)
    rows, t0 = [], time.perf_counter()
    for m in mods:
        # a network fault is planted in the modalities it names (NETWORK_FAULTS)
        planted = [f for f in faults if f not in NETWORK_FAULTS or m in NETWORK_FAULTS[f][1]]
        for s in range(seeds):
            for fault in planted:
                rows.append(run_case(m, fault, s, pick))
                print(json.dumps(rows[-1]), flush=True)
            # as many healthy controls as faulty runs: one per fault, each its own seed
            for k in range(len(planted)):
                rows.append(run_case(m, None, 1000 + s * len(faults) + k, pick,
                                     HEALTHY_VARIANTS[(s * len(faults) + k) % len(HEALTHY_VARIANTS)]))
                print(json.dumps(rows[-1]), flush=True)
    summary = summarize(rows)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(summary, indent=2))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"rows": rows, "summary": summary}, fh, indent=1, default=str)
    return summary


if __name__ == "__main__":
    main()
