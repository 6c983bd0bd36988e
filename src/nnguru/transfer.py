"""Transfer learning: start a run from a trained one (``nnguru train DATA --from RUN_DIR``).

The recipe of the Keras guide, made the default:

1. **Reuse** the base model's layers up to its head (the last layer with weights, and what follows
   it: the task's output layers), and give the new task a new head for its classes or values. A
   feature extractor (conv, recurrent) ending in a dense classifier block keeps the extractor and
   gets that block rebuilt with fresh weights (see :func:`_feature_end`).
2. **Reuse the base's preprocessing** for the new data (the base's layers learned on features scaled
   that way), with the new task's classes; data it cannot read is refused before training.
3. **Freeze, then unfreeze**: train the new head alone for up to ``--freeze-epochs`` epochs (a random
   head would otherwise send large gradients into the reused layers), stopped early when the
   validation loss stops improving and keeping its best epoch; frozen BatchNormalization layers run
   in inference mode meanwhile (Keras's rule). Then the whole network trains with discriminative
   learning rates: the reused layers at ``FINE_TUNE_LR_FACTOR`` x the learning rate so they move
   gently, the new head at the full rate so it keeps adapting. ``--l2sp F`` (opt-in) also pulls the
   reused weights towards the base's (L2-SP, :mod:`nnguru.training.l2sp`).

The base is a run directory, a model folder (``model.save``) or a checkpoint file with its
architecture (``ModelCheckpoint``), all safetensors + JSON. ``resnet18:PATH`` (or ``resnet34:PATH``)
is an ImageNet ResNet rebuilt from nnguru layers and loaded from torchvision's weights file
(:mod:`nnguru.nn.backbones`; torchvision itself is not needed).
``transfer.json`` in the run directory says what was reused, frozen and trained.
"""

from __future__ import annotations

import copy
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnguru.errors import NNGuruError

# the unfrozen body's learning rate, relative to the head's. 0.3 beat 0.1 and 1.0 on MNIST 0-4 -> 5-9
# (3 seeds; 1.0 again on 5 seeds in the fourth round) and FSDD digits 0-4 -> 5-9 (benchmarks/RESULTS.md,
# "Transfer, third/fourth round"): these small bases are near their new data; Keras's guide's 0.01 is for
# ImageNet backbones far from it.
FINE_TUNE_LR_FACTOR = 0.3
DEFAULT_FREEZE_EPOCHS = 20  # most head-only epochs when --freeze-epochs is not given (stopped early)
WARM_UP_PATIENCE = 3  # head-only epochs without a better val_loss before unfreezing
WARM_UP_MIN_DELTA = 1e-3  # "better" by at least this: a converging linear head need not be polished

DENSE_BLOCK = ("Dense", "Dropout", "Activation", "ReLU", "LeakyReLU", "Softmax")  # a classifier block's layers
# what a base preprocessor of each kind can read, by the new Dataset's kind
READS = {"image": {"image"}, "audio": {"audio"}, "array": {"table", "image"},
         "table": {"table", "text", "image", "audio"}}


@dataclass
class Base:
    """A trained model to start from, and what it was trained on."""

    model: Any
    pre: Any  # its preprocessor, or None (a bare model folder or checkpoint)
    where: str
    cfg: dict = field(default_factory=dict)  # the base run's config.yaml ({} for a model folder)
    kind: str | None = None  # the data kind it reads, when it has no preprocessor (a pretrained backbone)
    # a backbone's model is built for the new data's input shape (any image size): shape -> Sequential
    build: Callable[[tuple[int, ...]], Any] | None = None
    same_task: bool = False  # the new data has the base's task and classes (set by adopt_preprocessor)


def load_base(spec: str | Path) -> Base:
    """The model ``--from`` names: a run directory, a model folder or a checkpoint file."""
    from nnguru.bundle import load_model
    from nnguru.nn import backbones

    text = str(spec)
    named = backbones.parse(text)
    if named is not None:
        return _backbone_base(*named, where=text)
    path = Path(text)
    if not path.exists():
        raise NNGuruError(f"--from {text!r}: no such run directory or model file. Pass the --out folder of an earlier "
                          "`nnguru train`, a folder written by model.save(...), or a ModelCheckpoint file.")
    cfg: dict = {}
    if path.is_dir() and (path / "model").is_dir():
        from nnguru.inference import load_run

        try:
            model, cfg = load_run(path)
        except NNGuruError as exc:
            raise NNGuruError(f"--from {text!r}: {exc}") from None
    else:
        try:
            model = load_model(path)
        except NNGuruError as exc:
            raise NNGuruError(f"--from {text!r} is not a usable nnguru model: {exc}") from None
    from nnguru.nn.sequential import Sequential

    if not isinstance(model, Sequential):
        raise NNGuruError(f"--from {text!r} holds a {type(model).__name__} model; transfer reuses the layers of a "
                          "Sequential model (every template, and Sequential([...]) models). Rebuild the base as a "
                          "Sequential, or reuse its layers in code (layer.trainable = False).")
    return Base(model, model.preprocessor, text, cfg)


def _backbone_base(name: str, path: str, where: str) -> Base:
    """An ImageNet backbone (``resnet18:PATH``): the weights are read now (a missing or foreign file
    is refused before any data is loaded); the network is built once the data's image size is known."""
    from nnguru.nn import backbones

    state = backbones.read_state(path, name)

    def build(input_shape: tuple[int, ...]):
        model = backbones.build(name, input_shape)
        backbones.load_weights(name, model, state, where=f"--from {where}")
        return model

    return Base(None, None, where, kind="image", build=build)


def _sha256(path: Path) -> str:
    from nnguru.datasets import file_digest

    return file_digest(path, "sha256")


def download_weights(url: str, path: str | Path, sha256: str | None = None, sha256_prefix: str | None = None) -> Path:
    """Fetch a weights file once, verified: written under a temporary name and renamed only when its
    SHA-256 matches (``sha256``, or its first digits ``sha256_prefix``, as torchvision names files)."""
    if not (sha256 or sha256_prefix):
        raise NNGuruError("download_weights needs sha256= (or sha256_prefix=): a file is never used unverified.")
    path = Path(path)
    expected = (sha256 or sha256_prefix or "").lower()
    if path.is_file() and _sha256(path).startswith(expected):
        return path
    tmp = path.with_name(path.name + ".part")
    try:
        urllib.request.urlretrieve(url, tmp)  # noqa: S310 - the caller's URL, checked below
    except (OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        raise NNGuruError(f"Could not download {url!r} ({exc}). Download it yourself into {str(path)!r}.") from None
    got = _sha256(tmp)
    if not got.startswith(expected):
        tmp.unlink(missing_ok=True)
        raise NNGuruError(f"The file from {url!r} has SHA-256 {got[:16]}..., not {expected[:16]}...: corrupt or "
                          "replaced. It was deleted; try again or fetch it from the official source.")
    os.replace(tmp, path)
    return path


# ---- the prepare stage: the base's preprocessing for the new data ----------------------------------------
def check_data(base: Base, ds) -> None:
    """Refuse new data of another kind than the base's before anything is computed."""
    kind = getattr(base.pre, "kind", None) or base.kind
    ds_kind = getattr(ds, "kind", None)
    if kind is not None and ds_kind in READS and kind not in READS[ds_kind]:
        raise NNGuruError(f"--from {base.where!r} was trained on {kind} data, but the new data is {ds_kind} data. "
                          f"Transfer needs the same kind of input; train the base on {ds_kind} data, or leave "
                          "--from out.")


def adopt_preprocessor(base: Base, X_train, y_train, task_name: str):
    """The base's fitted preprocessing with the new task's classes (features scaled as the base
    learned them); refused when it cannot read the new rows."""
    from nnguru import tasks
    from nnguru.data.preprocess import _sorted_classes

    pre = copy.deepcopy(base.pre)
    pre.task = task_name
    pre.categorical = tasks.get(task_name).categorical_target
    pre.classes = _sorted_classes(np.asarray(y_train, dtype=object).ravel()) if pre.categorical else None
    base.same_task = bool(pre.categorical and getattr(base.pre, "task", None) == task_name
                          and list(base.pre.classes or []) == list(pre.classes))
    try:
        pre.transform(X_train[:2] if hasattr(X_train, "__getitem__") else X_train)
    except NNGuruError as exc:
        raise NNGuruError(f"--from {base.where!r}: the base run's preprocessing cannot read the new data ({exc}). "
                          "The new data needs the base's columns (tables) or the same kind of files.") from None
    return pre


# ---- the build stage: reused body + new head -----------------------------------------------------------
def transfer_model(base: Base, head: list, input_shape) -> tuple[Any, dict]:
    """A Sequential of the base's layers up to its head, then ``head``; and what was reused."""
    from nnguru.nn.layers import Input, deserialize, serialize
    from nnguru.nn.model import weight_count
    from nnguru.nn.sequential import Sequential

    if base.build is not None:  # a pretrained backbone reads any image size: built for this data's
        base.model = base.build(tuple(input_shape))
    layers = [m for m in copy.deepcopy(base.model).layers if type(m).__name__ not in ("Input", "InputLayer")]
    if tuple(base.model.input_shape or ()) != tuple(input_shape):
        raise NNGuruError(f"--from {base.where!r} takes inputs of shape {tuple(base.model.input_shape or ())}, but "
                          f"the new data gives {tuple(input_shape)}. Transfer needs the same input shape (same image "
                          "size and channels, same columns or window); resize the data or train the base on it.")
    weighted = [i for i, m in enumerate(layers) if weight_count(m) > 0]
    if len(weighted) < 2:
        raise NNGuruError(f"--from {base.where!r} has {len(weighted)} layer(s) with weights; transfer reuses the "
                          "layers before the head, so the base needs at least two. Train from scratch instead.")
    if base.same_task:  # same classes, new domain (a new speaker): the head already knows them, keep it all
        body, fresh, head, tail = layers, [], [], []
    else:
        cut = _feature_end(layers, weighted)
        body, tail = layers[:cut], layers[weighted[-1]:]
        fresh = [deserialize(serialize(m)) for m in layers[cut:weighted[-1]]]  # same shape, new weights
    model = Sequential([Input(shape=tuple(input_shape)), *body, *fresh, *head], name=f"{base.model.name}-transfer")
    record = {"base": base.where,
              "reused": [{"layer": getattr(m, "name", type(m).__name__), "type": type(m).__name__,
                          "params": weight_count(m)} for m in body],
              "rebuilt": [getattr(m, "name", type(m).__name__) for m in fresh],
              "replaced": [getattr(m, "name", type(m).__name__) for m in tail],
              "same_classes": base.same_task,
              "new_head": [type(m).__name__ for m in head],
              "reused_params": sum(weight_count(m) for m in body)}
    model.__dict__["_transfer_body"] = body  # plain references (not submodules): the layers to freeze
    return model, record


def _feature_end(layers: list, weighted: list[int]) -> int:
    """Where the reused body ends. A network with a feature extractor (convolutions, recurrent layers,
    embeddings) ending in a dense classifier block reuses the extractor and rebuilds the block: the
    block's units were shaped by the base's classes (measured on MNIST 0-4 -> 5-9: a logistic
    regression on the conv features scores 0.94, through the reused Dense layer 0.82). A network of
    Dense layers only (an MLP) reuses everything below its head."""
    extractor = [i for i in weighted if type(layers[i]).__name__ not in DENSE_BLOCK]
    if not extractor:
        return weighted[-1]
    cut = extractor[-1] + 1
    while cut < weighted[-1] and type(layers[cut]).__name__ != "Dense":
        cut += 1  # pooling and flattening stay with the extractor
    return cut


def set_body_trainable(model, trainable: bool) -> None:
    for layer in model.__dict__.get("_transfer_body", []):
        layer.trainable = trainable


# ---- the fit stage: freeze, then unfreeze -------------------------------------------------------------
def freeze_epochs(cfg: dict) -> int:
    n = cfg.get("freeze_epochs")
    return DEFAULT_FREEZE_EPOCHS if n is None else int(n)


def warm_up_head(model, p, cfg: dict, console, class_weight=None) -> dict[str, list]:
    """Train the new head with the reused layers frozen (stopped early on val_loss, best epoch
    kept), then unfreeze them at a lower learning rate than the head's; returns the warm-up
    epochs' history logs (prepended to the run's history)."""
    from nnguru.callbacks import EarlyStopping

    n = freeze_epochs(cfg)
    logs: dict[str, list] = {}
    if _nothing_new(model):  # same classes: no new head to warm up; every layer fine-tunes gently
        lr = float(model.optimizer.param_groups[0]["lr"])
        model.compile(optimizer=fine_tune_optimizer(model, cfg["optimizer"], lr),
                      loss=model._compile_args["loss"], metrics=model._compile_args["metrics"])
        console.print(f"Transfer: same classes as the base; fine-tuning every layer, head included, at lr "
                      f"{lr * FINE_TUNE_LR_FACTOR:.3g} ({FINE_TUNE_LR_FACTOR:g} x).")
    elif n > 0 and len(p.x["train"]):
        set_body_trainable(model, False)
        has_val = len(p.x["val"]) > 0
        early = (EarlyStopping(monitor="val_loss", patience=WARM_UP_PATIENCE, min_delta=WARM_UP_MIN_DELTA,
                               restore_best_weights=True)
                 if has_val and cfg.get("early_stopping", True) else None)
        console.print(f"Transfer: up to {n} epoch(s) training the new head with the reused layers frozen"
                      + (f" (stopped after {WARM_UP_PATIENCE} without a better val_loss)." if early else "."))
        batch = None if cfg["batch_size"] == "auto" else int(cfg["batch_size"])
        history = model.fit(p.x["train"], p.y["train"], epochs=n, batch_size=batch,
                            validation_data=(p.x["val"], p.y["val"]) if has_val else None,
                            callbacks=[early] if early else None, class_weight=class_weight, verbose=cfg["verbose"])
        logs = history.logs
        set_body_trainable(model, True)
        lr = float(model.optimizer.param_groups[0]["lr"])
        model.compile(optimizer=fine_tune_optimizer(model, cfg["optimizer"], lr),
                      loss=model._compile_args["loss"], metrics=model._compile_args["metrics"])
        console.print(f"Transfer: unfrozen; fine-tuning the reused layers at lr {lr * FINE_TUNE_LR_FACTOR:.3g} "
                      f"({FINE_TUNE_LR_FACTOR:g} x) and the new head at {lr:.3g}.")
    if cfg.get("l2sp"):  # opt-in: neutral on both measured pairs, where the 0.3x body barely moves
        from nnguru.training import l2sp

        l2sp.attach(model.__dict__.get("_transfer_body", []), float(cfg["l2sp"]))
        console.print(f"Transfer: L2-SP {float(cfg['l2sp']):g} x the squared distance of the reused weights from "
                      "their pretrained values joins the loss.")
    return logs


def _nothing_new(model) -> bool:
    """Every weighted layer is a reused one (the base's head kept: same classes)."""
    body = {id(m) for m in model.__dict__.get("_transfer_body", [])}
    return bool(body) and all(id(m) in body for m in model.layers if any(True for _ in m.parameters()))


def fine_tune_optimizer(model, name, lr: float):
    """The optimizer ``name`` with two parameter groups: the new head at ``lr``, the reused body at
    ``FINE_TUNE_LR_FACTOR * lr`` (discriminative learning rates: the pretrained layers move gently,
    the head keeps adapting). The head's group comes first, so history's ``lr`` is the head's.
    Optimizers that are not ``torch.optim`` ones (L-BFGS, Hessian-free, ...) get one lowered rate."""
    import torch

    from nnguru import optim

    opt = optim.get(name, model, lr=lr)
    body = {id(w) for m in model.__dict__.get("_transfer_body", []) for w in m.parameters()}
    if not isinstance(opt, torch.optim.Optimizer) or len(opt.param_groups) != 1 or opt.state:
        return {"name": name, "lr": lr * FINE_TUNE_LR_FACTOR} if isinstance(name, str) else name
    group = opt.param_groups[0]
    weights = group["params"]
    group["params"] = [w for w in weights if id(w) not in body]
    reused = [w for w in weights if id(w) in body]
    if not group["params"]:  # nothing new (same classes): one group, lowered
        group["params"], group["lr"] = reused, lr * FINE_TUNE_LR_FACTOR
    elif reused:
        opt.add_param_group({"params": reused, "lr": lr * FINE_TUNE_LR_FACTOR})
    return opt


def merge_history(first: dict[str, list], second: dict[str, list]) -> dict[str, list]:
    """One history: the warm-up epochs, then the fine-tuning ones (epoch numbers continue)."""
    if not first:
        return second
    keys = list(dict.fromkeys([*second, *first]))
    n1, n2 = len(next(iter(first.values()), [])), len(next(iter(second.values()), []))
    out = {k: list(first.get(k, [float("nan")] * n1)) + list(second.get(k, [float("nan")] * n2)) for k in keys}
    if "epoch" in out:
        out["epoch"] = list(range(len(out["epoch"])))
    return out


def write_record(task, model, run_dir: Path, console) -> dict:
    """transfer.json: what was reused, what is frozen first and for how long, what is trained."""
    from nnguru.jsonutil import jsonable
    from nnguru.rundir import write_json

    record, cfg = dict(task.transfer), task.cfg
    n = freeze_epochs(cfg)
    cfg["freeze_epochs"] = n  # config.yaml holds the resolved value
    total = model.count_params()
    record.update({"freeze_epochs": n, "fine_tune_lr_factor": FINE_TUNE_LR_FACTOR, "warm_up_epochs": 0,
                   "l2sp": float(cfg.get("l2sp") or 0.0),
                   "new_params": total - record["reused_params"], "total_params": total,
                   "schedule": (f"the base's classes: every layer, its head included, trains from the start at "
                                f"{FINE_TUNE_LR_FACTOR:g} x the learning rate" if record.get("same_classes") else
                                f"up to {n} epoch(s): the new head trains, the {len(record['reused'])} reused layers "
                                f"are frozen (stopped early on val_loss); then every layer trains, the reused ones at "
                                f"{FINE_TUNE_LR_FACTOR:g} x the new head's learning rate"
                                if n else "every layer trains from the start (--freeze-epochs 0)"),
                   "preprocessing": "the base run's (new classes)" if task.base.pre is not None else
                   "fitted on the new data (the base has none)"})
    write_json(run_dir / "transfer.json", jsonable(record))
    console.print(f"Transfer from {task.base.where}: reused {len(record['reused'])} layers "
                  f"({record['reused_params']:,} weights), rebuilt {', '.join(record['rebuilt']) or 'none'} with fresh "
                  f"weights, " + (f"replaced {', '.join(record['replaced'])} with a new head "
                                  f"({record['new_params']:,} weights)" if record["replaced"] else "kept its head")
                  + f"; {record['schedule']}.", highlight=False)
    return record


def record_phases(task, run_dir: Path, warm: dict[str, list]) -> None:
    """Add to transfer.json how many epochs each phase ran (the report marks the switch)."""
    from nnguru.jsonutil import jsonable
    from nnguru.rundir import write_json

    task.transfer["warm_up_epochs"] = len(warm.get("loss", []))
    path = run_dir / "transfer.json"
    if path.is_file():
        import json

        record = json.loads(path.read_text())
        record["warm_up_epochs"] = task.transfer["warm_up_epochs"]
        write_json(path, jsonable(record))
