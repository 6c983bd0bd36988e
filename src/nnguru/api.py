"""``nnguru.train(data, target=...)``: the whole expert workflow in one call, read top to bottom.

    load -> clean (report) -> split 70/15/15 -> preprocess (fit on train only) -> model template
    -> fit (early stopping) -> evaluate on test, once, next to a baseline -> diagnose -> report
    -> bundle

Everything a run produces lands in one run directory (DESIGN.md's contract): metrics.json,
history.csv, diagnosis.json, data_report.json, config.yaml, report.html, plots and model/.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from nnguru.errors import NNGuruError, describe
from nnguru.jsonutil import jsonable

DEFAULTS: dict[str, Any] = {
    "data": None,
    "target": None,
    "task": "auto",  # classification | regression | auto (from the target's values)
    "model": "auto",  # auto | mlp | cnn (template per data kind)
    "optimizer": "adam",
    "lr": None,  # None: the optimizer's documented default
    "epochs": None,  # None: chosen from the data size, with early stopping
    "batch_size": 32,  # Keras's default; small batches generalize well on small data
    "seed": 0,
    "val_frac": 0.15,
    "test_frac": 0.15,
    "early_stopping": True,
    "patience": None,  # None: 10 epochs on small data, 5 on large
    "class_weight": None,  # None | "balanced"
    "dropout": None,  # None: the template's default
    "hidden_scale": 1.0,  # width multiplier of the template
    "missing": "fill",  # fill (median / most frequent + indicator) | drop
    "placeholder_zeros": "flag",  # flag | missing (implausible zeros, e.g. a glucose of 0, become missing)
    "column_types": None,  # {column: numeric|categorical|text|datetime|path|identifier|ignore}
    "drop_outliers": False,
    "sep": None,
    "header": None,  # None: detected
    "columns": None,
    "label_from_name": None,
    "positive": None,  # binary: the positive class (default: the minority class)
    "threshold": None,  # None (0.5) | "auto" (best F1 on validation) | a float
    "auto_fix": False,
    "tensorboard": False,
    "device": "auto",
    "verbose": "auto",
}
SOURCE_OPTIONS = ("sep", "header", "columns", "label_from_name", "column_types")
RUN_FILES = ("metrics.json", "history.csv", "diagnosis.json", "data_report.json", "config.yaml",
             "report.html", "model_summary.txt", "auto_fix.json", "environment.json")


@dataclass
class Run:
    """What ``train`` returns: the trained model, its history, test metrics, diagnosis and files."""

    run_dir: Path
    model: Any
    history: dict[str, list[float]]
    metrics: dict[str, Any]
    diagnosis: list[Any]
    data_report: dict[str, Any]
    config: dict[str, Any]
    report_path: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def preprocessor(self):
        return self.model.preprocessor

    def predict(self, data: Any) -> np.ndarray:
        """Predicted labels (classification) or values (regression) for raw rows, files or arrays."""
        return predict_frame(self.model, data, self.config)["prediction"].to_numpy()

    def predict_proba(self, data: Any) -> np.ndarray:
        return self.model.predict(data)


def resolve_config(config: dict | str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """Defaults, then the YAML/dict config, then explicit arguments (the flag wins)."""
    resolved = dict(DEFAULTS)
    if isinstance(config, (str, Path)):
        path = Path(config)
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise NNGuruError(f"Could not read the config file {str(path)!r}: {exc}") from None
        config = loaded
    if config is not None:
        if not isinstance(config, dict):
            raise NNGuruError(f"The config must be a mapping of option: value; received {describe(config)}.")
        unknown = sorted(set(config) - set(DEFAULTS))
        if unknown:
            raise NNGuruError(
                f"Unknown config keys {unknown}. Valid keys: {', '.join(sorted(DEFAULTS))}."
            )
        resolved.update(config)
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise NNGuruError(f"Unknown options {unknown}. Valid options: {', '.join(sorted(DEFAULTS))}.")
    resolved.update({k: v for k, v in overrides.items() if v is not None})
    return resolved


def prepare_run_dir(out: str | Path | None, name: str, overwrite: bool) -> Path:
    """A fresh run directory; an existing one is replaced only with ``overwrite`` (and only our files)."""
    if out is None:
        base = Path("runs") / name
        out, k = base, 2
        while out.exists() and any(out.iterdir()):
            out, k = Path(f"{base}-{k}"), k + 1
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NNGuruError(f"--out {str(out)!r} is an existing file; pass a folder for the run.")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise NNGuruError(
                f"The run directory {str(out)!r} already exists and is not empty. Pass --overwrite "
                "(overwrite=True) to replace that run, or choose another --out."
            )
        foreign = [p.name for p in out.iterdir() if p.name not in RUN_FILES and p.name != "model"
                   and p.suffix != ".png" and p.name != "tensorboard"]
        if foreign:
            raise NNGuruError(
                f"Refusing to overwrite {str(out)!r}: it holds files nnguru did not write "
                f"({', '.join(sorted(foreign)[:5])}). Choose another --out."
            )
        for p in out.iterdir():
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def auto_epochs(n_train: int) -> int:
    """Enough epochs for early stopping to decide on small data, few passes over big data."""
    if n_train <= 2_000:
        return 200
    if n_train <= 10_000:
        return 60
    if n_train <= 100_000:
        return 20
    return 8


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(jsonable(obj), indent=2))


def write_history(path: Path, history: dict[str, list[float]]) -> None:
    """history.csv: one row per epoch, ``epoch, loss, val_loss, <metric>, val_<metric>, lr, seconds``."""
    n = len(history.get("loss", []))
    order = ["loss", "val_loss"]
    order += [k for k in history if k not in order and not k.startswith("val_") and k not in ("lr", "seconds")]
    order += [f"val_{k}" for k in order[2:] if f"val_{k}" in history]
    order += [k for k in history if k not in order]
    frame = pd.DataFrame({"epoch": range(1, n + 1)})
    for key in order:
        values = history.get(key, [])
        frame[key] = list(values) + [float("nan")] * (n - len(values))
    frame.to_csv(path, index=False)


# ---- the pipeline ------------------------------------------------------------------------------
def train(data: Any = None, target: str | int | None = None, task: str | None = None,
          out: str | Path | None = None, *, config: dict | str | Path | None = None,
          overwrite: bool = False, model: Any = None, console=None, **options: Any) -> Run:
    """Load, clean, split, preprocess, train, evaluate, diagnose and report; returns a :class:`Run`.

    ``data``: a CSV/TSV/Parquet path, a folder (class subfolders of images/audio, MNIST IDX files),
    ``builtin:NAME``, or a ``(X, y)`` pair of arrays. ``model`` may be a template name or an
    (uncompiled or compiled) ``nnguru.Sequential``. Other options: see ``DEFAULTS``.
    """
    from rich.console import Console

    cfg = resolve_config(config, data=data if isinstance(data, (str, Path)) else None,
                         target=target, task=task, **options)
    if isinstance(model, str):
        cfg["model"] = model
    _check_names(cfg)
    console = console or Console(quiet=cfg["verbose"] == 0)
    import nnguru

    nnguru.set_seed(int(cfg["seed"]))
    ds = _load(data if data is not None else cfg["data"], cfg)
    run_dir = prepare_run_dir(out, _safe_name(ds.name), overwrite)
    first = _train_once(ds, cfg, run_dir, console, model)
    if not cfg["auto_fix"]:
        return first
    return _auto_fix(first, ds, cfg, run_dir, console)


def _check_names(cfg: dict) -> None:
    """Refuse an unknown optimizer or template name before the data is loaded and reported."""
    from nnguru.nn import templates
    from nnguru.optim import registry

    opt = cfg["optimizer"]
    if isinstance(opt, dict) and "name" in opt:
        opt = opt["name"]
    if isinstance(opt, str):
        registry.entry(opt)
    if isinstance(cfg["model"], str):
        templates.check(cfg["model"])


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "run"


def _load(data: Any, cfg: dict):
    from nnguru.data import columns, sources
    from nnguru.data.types import Dataset

    if data is None:
        raise NNGuruError("No data given. Pass a file, a folder, builtin:NAME, or (X, y) arrays.")
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = np.asarray(data[0]), np.asarray(data[1])
        if len(X) != len(y):
            raise NNGuruError(f"Found input variables with inconsistent numbers of samples: [{len(X)}, {len(y)}].")
        return Dataset(X=X, y=y, name="arrays", kind="array", info={"source": "arrays"})
    if isinstance(data, pd.DataFrame):
        if cfg["target"] is None:
            raise NNGuruError("A DataFrame needs target=COLUMN to know what to predict.")
        name = sources.resolve_target(cfg["target"], list(data.columns), "the DataFrame")
        X = data.drop(columns=[name])
        overrides = {c: t for c, t in (cfg["column_types"] or {}).items() if c != name}
        types = {c: t.type for c, t in columns.infer_types(X, overrides).items()}  # checks the overrides
        return Dataset(X=X, y=data[name].to_numpy(), name="dataframe", kind="table", target=name,
                       info={"source": "dataframe", "column_types": types})
    ds = sources.load(str(data), target=cfg["target"], **{k: cfg[k] for k in SOURCE_OPTIONS})
    if ds.y is None:
        raise NNGuruError(
            f"No target for {str(data)!r}: pass --target COLUMN (a name, or a position such as -1 for "
            "the last column)."
        )
    return ds


@dataclass
class Prepared:
    """Cleaned, split and preprocessed data (steps 1-3 of a run)."""

    task: str
    data_report: dict
    pre: Any
    x: dict[str, np.ndarray]  # "train" / "val" / "test"
    y: dict[str, np.ndarray]
    leakage: int
    n_out: int
    target: str | None


def prepare(ds, cfg: dict, console) -> Prepared:
    """Clean (and report), split (test first, untouched), and fit preprocessing on train only."""
    from nnguru.data.clean import clean, duplicates_across
    from nnguru.data.inspect import print_data_report
    from nnguru.data.preprocess import Preprocessor
    from nnguru.data.split import three_way_split
    from nnguru.tasks import check_task, infer_task

    # 1. clean and report what was found and done
    task = check_task(cfg["task"])
    ds, data_report = clean(ds, missing=cfg["missing"], drop_outliers=bool(cfg["drop_outliers"]),
                            placeholder_zeros=cfg["placeholder_zeros"], task=task)
    task = task or infer_task(ds.y)
    console.rule(f"[bold]1. Data[/] · {ds.name} · {task}")
    print_data_report(data_report, console)

    # 2. split (test first, untouched until the end), stratified for classification
    train_i, val_i, test_i = three_way_split(
        len(ds), ds.y if task == "classification" else None, val_frac=cfg["val_frac"],
        test_frac=cfg["test_frac"], seed=int(cfg["seed"]), split_hint=ds.split_hint)
    tr, va, te = ds.take(train_i), ds.take(val_i), ds.take(test_i)
    leakage = duplicates_across(tr, te) if len(te) else 0
    data_report["split"] = {"train": len(tr), "val": len(va), "test": len(te),
                            "stratified": task == "classification", "seed": int(cfg["seed"]),
                            "official_test_set": ds.split_hint is not None,
                            "duplicates_train_test": leakage}
    console.rule("[bold]2. Split[/]")
    console.print(f"train {len(tr):,} · validation {len(va):,} · test {len(te):,} (the test part stays "
                  "untouched until the end)"
                  + (f" · [yellow]{leakage} test rows also appear in train[/]" if leakage else ""))

    # 3. preprocess: everything learned from the training split only
    # zeros the cleaner treated as missing stay missing in new data too (predict, evaluate)
    zeros = [c for c, f in data_report.get("placeholder_zeros", {}).items() if f["action"] == "treated as missing"]
    pre = Preprocessor(task, zeros_missing=zeros).fit(tr.X, tr.y)
    x = {"train": pre.transform(tr.X), "val": pre.transform(va.X), "test": pre.transform(te.X)}
    y = {"train": pre.encode_y(tr.y), "val": pre.encode_y(va.y), "test": pre.encode_y(te.y)}
    if task == "classification" and len(pre.classes) < 2:
        raise NNGuruError(
            f"The target {ds.target or ''!s} has a single class ({pre.classes[0]!r}) in the training data: "
            "there is nothing to learn. Check the target column."
        )
    y_tr = y["train"]
    n_out = len(pre.classes) if task == "classification" else (1 if y_tr.ndim == 1 else y_tr.shape[1])
    return Prepared(task, data_report, pre, x, y, leakage, n_out, ds.target)


def _train_once(ds, cfg: dict, run_dir: Path, console, user_model=None) -> Run:
    from nnguru import evaluate, guru, report
    from nnguru.bundle import save_model
    from nnguru.callbacks import EarlyStopping
    from nnguru.nn import templates

    p = prepare(ds, cfg, console)
    task, pre, data_report, leakage, n_out = p.task, p.pre, p.data_report, p.leakage, p.n_out
    x_tr, x_va, x_te = p.x["train"], p.x["val"], p.x["test"]
    y_tr, y_va, y_te = p.y["train"], p.y["val"], p.y["test"]
    cfg = {**cfg, "task": task}

    # 4. model: the user's, or the template for this kind of data
    model = _build_model(user_model, cfg, pre.input_shape, task, n_out, len(x_tr), y_tr, templates)
    if cfg["device"] != "auto" or _cuda():
        model.to(_device(cfg["device"]))
        model.amp = model.device.type == "cuda"
    summary = model.summary(print_fn=None)
    (run_dir / "model_summary.txt").write_text(summary)
    console.rule("[bold]3. Model[/]")
    console.print(summary, highlight=False)

    # 5. train with early stopping that keeps the best weights
    epochs = int(cfg["epochs"] or auto_epochs(len(x_tr)))
    patience = int(cfg["patience"] or (10 if len(x_tr) <= 10_000 else 5))
    callbacks = []
    early = None
    if cfg["early_stopping"] and len(x_va):
        early = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
        callbacks.append(early)
    class_weight = _class_weight(cfg["class_weight"], y_tr, n_out) if task == "classification" else None
    cfg["epochs"], cfg["patience"] = epochs, patience  # config.yaml holds resolved values: rerunnable
    console.rule(f"[bold]4. Training[/] · up to {epochs} epochs"
                 + (f", early stopping (patience {patience})" if early else ""))
    t0 = time.perf_counter()
    history = model.fit(x_tr, y_tr, epochs=epochs, batch_size=int(cfg["batch_size"]),
                        validation_data=(x_va, y_va) if len(x_va) else None, callbacks=callbacks,
                        class_weight=class_weight, verbose=cfg["verbose"])
    train_seconds = time.perf_counter() - t0
    hist = history.history
    if hist.get("lr"):
        cfg["lr"] = hist["lr"][0]
    if model.stop_reason:
        console.print(f"[red]Stopped:[/] {model.stop_reason}")

    # 6. evaluate on the test split, once, next to the trivial baseline
    metrics: dict[str, Any] = {"task": task, "epochs_run": len(hist.get("loss", [])),
                               "train_seconds": round(train_seconds, 3)}
    proba_va = model.predict(x_va) if len(x_va) else None
    proba_te = model.predict(x_te) if len(x_te) else None
    plots: dict[str, Any] = {}
    if task == "classification":
        positive = cfg["positive"]
        threshold = None
        if len(pre.classes) == 2:
            pos_index = evaluate.resolve_positive(pre.classes, positive, y_tr)
            threshold = _threshold(cfg["threshold"], y_va, proba_va, pos_index, metrics)
            positive = pre.classes[pos_index]
            cfg["positive"], cfg["threshold"] = positive, threshold
            plots["positive_index"] = pos_index
        if proba_va is not None:
            metrics["val"] = evaluate.classification_metrics(y_va, proba_va, pre.classes, positive, threshold, y_tr)
        if proba_te is not None:
            metrics["test"] = evaluate.classification_metrics(y_te, proba_te, pre.classes, positive, threshold, y_tr)
            metrics["baseline"] = evaluate.baseline(task, y_tr, y_te, classes=pre.classes, positive=positive)
            plots.update(y_true=y_te, proba=proba_te)
    else:
        if proba_va is not None:
            metrics["val"] = evaluate.regression_metrics(y_va, proba_va)
        if proba_te is not None:
            metrics["test"] = evaluate.regression_metrics(y_te, proba_te)
            metrics["baseline"] = evaluate.baseline(task, y_tr, y_te)
            plots.update(y_true=y_te, y_pred=proba_te)
    if "test" not in metrics:
        metrics["test"] = {}
    console.rule("[bold]5. Test[/]")
    _print_metrics(metrics, console)

    # 7. diagnose: read the curves and the data like an expert
    # the restored (best) epoch, counted from 1 as the curves and the report show epochs
    restored = None if early is None or early.best_epoch is None else early.best_epoch + 1
    findings = guru.diagnose(
        history=hist, task=task, data_report=data_report, metrics=metrics, n_params=model.count_params(),
        n_train=len(x_tr), n_classes=len(pre.classes) if task == "classification" else None,
        lr=hist["lr"][0] if hist.get("lr") else None, leakage_count=leakage,
        class_weight=cfg["class_weight"],
        restored_epoch=restored)
    console.rule("[bold]6. Diagnosis[/]")
    guru.print_findings(findings, console)

    # 8. write the run directory: files, plots, bundle, report
    write_json(run_dir / "metrics.json", metrics)
    write_history(run_dir / "history.csv", hist)
    write_json(run_dir / "diagnosis.json", [f.to_dict() for f in findings])
    write_json(run_dir / "data_report.json", data_report)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(jsonable(cfg), sort_keys=False))
    if cfg["tensorboard"]:
        if report.tensorboard_available():
            report.write_history(hist, run_dir)
        else:
            console.print("[yellow]--tensorboard: the tensorboard package is not installed; skipped.[/]")
    write_json(run_dir / "environment.json", report.environment())
    report.save_run_plots(run_dir, history=hist, best_epoch=restored,
                          metrics=metrics.get("test"), **plots)
    model.preprocessor = pre  # from here on the model takes raw rows, files or arrays
    save_model(model, run_dir / "model")
    report_path = report.write_report(run_dir)
    console.rule("[bold]7. Files[/]")
    console.print(f"Run written to [bold]{run_dir}[/]: report {report_path.name}, model/, metrics.json, "
                  "history.csv, diagnosis.json, data_report.json, config.yaml")
    return Run(run_dir, model, hist, metrics, findings, data_report, cfg, report_path)


def _build_model(user_model, cfg, input_shape, task, n_out, n_train, y_tr, templates):
    from nnguru.nn.model import Model

    head_kw = {}
    if task == "regression":
        y = np.asarray(y_tr, dtype=np.float64)
        head_kw = {"y_mean": float(y.mean()), "y_std": float(y.std() or 1.0)}
    if isinstance(user_model, Model):
        model = user_model
    else:
        model = templates.build(cfg["model"], input_shape, task, n_out, n_train, dropout=cfg["dropout"],
                                hidden_scale=float(cfg["hidden_scale"]), **head_kw)
    if model._compile_args is None:
        loss = "sparse_categorical_crossentropy" if task == "classification" else "mse"
        metrics = ["accuracy"] if task == "classification" else ["mae"]
        opt = cfg["optimizer"] if cfg["lr"] is None else {"name": cfg["optimizer"], "lr": float(cfg["lr"])}
        model.compile(optimizer=opt, loss=loss, metrics=metrics)
    return model


def _class_weight(spec, y_tr: np.ndarray, n_out: int) -> dict | None:
    if spec is None or spec is False:
        return None
    if spec == "balanced":
        counts = np.bincount(y_tr, minlength=n_out).astype(np.float64)
        return {k: float(len(y_tr) / (n_out * c)) if c else 0.0 for k, c in enumerate(counts)}
    if isinstance(spec, dict):
        return {int(k): float(v) for k, v in spec.items()}
    raise NNGuruError(f"class_weight must be 'balanced' or a dict; received {describe(spec)}.")


def _threshold(spec, y_va, proba_va, pos_index: int, metrics: dict) -> float | None:
    from nnguru import evaluate

    if spec is None:
        return None
    if spec == "auto":
        if proba_va is None:
            return None
        value, table = evaluate.choose_threshold(y_va, proba_va, pos_index)
        metrics["threshold"] = {"value": value, "chosen_on": "validation", "tradeoff": table}
        return value
    try:
        value = float(spec)
    except (TypeError, ValueError):
        raise NNGuruError(f"threshold must be 'auto' or a number in (0, 1); received {spec!r}.") from None
    if not 0 < value < 1:
        raise NNGuruError(f"threshold must be in (0, 1); received {value}.")
    metrics["threshold"] = {"value": value, "chosen_on": "user"}
    return value


def _print_metrics(metrics: dict, console) -> None:
    from rich.table import Table

    test, base = metrics.get("test") or {}, metrics.get("baseline") or {}
    keys = [k for k in ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "r2", "mape")
            if isinstance(test.get(k), (int, float))]
    if not keys:
        return
    table = Table(title="Test set (used once) vs trivial baseline")
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("baseline", justify="right")
    for k in keys:
        b = base.get(k)
        table.add_row(k, f"{test[k]:.4f}", f"{b:.4f}" if isinstance(b, (int, float)) else "-")
    console.print(table)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _device(spec: str):
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(spec)
    except RuntimeError:
        raise NNGuruError(f"Unknown device {spec!r}; use 'cpu', 'cuda', 'cuda:1' or 'auto'.") from None


def _auto_fix(first: Run, ds, cfg: dict, run_dir: Path, console) -> Run:
    """Apply the guru's remedies once, retrain, and keep the better run (by validation loss)."""
    from nnguru import guru

    fix = guru.remedies(first.diagnosis, first.config)
    if not fix["changes"]:
        console.print("--auto-fix: the diagnosis calls for no change that retraining can make.")
        write_json(run_dir / "auto_fix.json", {"applied": False, "reason": "nothing to fix", **fix})
        return first
    console.rule("[bold]--auto-fix[/]: " + "; ".join(fix["description"]))
    second_dir = run_dir / "_auto_fix_tmp"
    second_dir.mkdir()
    second = _train_once(ds, {**cfg, **fix["changes"]}, second_dir, console)
    summary = {"applied": True, **fix, "before": _fix_summary(first), "after": _fix_summary(second)}
    # The fixed run replaces the first in the run directory; the first's numbers stay in auto_fix.json.
    for p in list(run_dir.iterdir()):
        if p != second_dir:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in second_dir.iterdir():
        p.rename(run_dir / p.name)
    second_dir.rmdir()
    second.run_dir = run_dir
    write_json(run_dir / "auto_fix.json", summary)
    from nnguru import report

    second.report_path = report.write_report(run_dir)
    second.extras["auto_fix"] = summary
    return second


def _fix_summary(run: Run) -> dict:
    return {"val": run.metrics.get("val"), "test": run.metrics.get("test"),
            "val_loss_best": min((v for v in run.history.get("val_loss", []) if v == v), default=None),
            "epochs_run": run.metrics.get("epochs_run"), "diagnosis": [f.code for f in run.diagnosis]}


def lr_find(data: Any, target: str | int | None = None, task: str | None = None, model: str | None = None,
            optimizer: str = "adam", out: str | Path | None = None, **options: Any):
    """Learning-rate range test on the training split with the default (or chosen) template."""
    from rich.console import Console

    from nnguru import report
    from nnguru.nn import templates

    cfg = resolve_config(None, data=str(data), target=target, task=task, optimizer=optimizer, **options)
    if model:
        cfg["model"] = model
    console = Console(quiet=True)
    p = prepare(_load(data, cfg), cfg, console)
    net = _build_model(None, cfg, p.pre.input_shape, p.task, p.n_out, len(p.x["train"]), p.y["train"], templates)
    result = net.find_lr(p.x["train"], p.y["train"])
    if out:
        report.plot_lr_finder(result, out)
    return result


# ---- using a saved run ---------------------------------------------------------------------------
def load_run(run_dir: str | Path):
    """The model (with its preprocessing) and resolved config of a saved run directory."""
    from nnguru.bundle import load_model

    run_dir = Path(run_dir)
    if not (run_dir / "model").is_dir():
        raise NNGuruError(
            f"{str(run_dir)!r} is not an nnguru run directory (no model/ folder). Pass the --out folder "
            "of `nnguru train`."
        )
    model = load_model(run_dir / "model")
    cfg = {}
    if (run_dir / "config.yaml").is_file():
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    return model, cfg


def _load_new_data(spec: Any, cfg: dict, with_target: bool, **source_options):
    from nnguru.data import sources

    options = {k: cfg.get(k) for k in SOURCE_OPTIONS}
    target = cfg.get("target") if with_target else None
    if options["column_types"]:
        # training's overrides, less those new data may rightly lack: the target, ignored columns
        options["column_types"] = {c: t for c, t in options["column_types"].items()
                                   if c != cfg.get("target") and t != "ignore"}
    options.update({k: v for k, v in source_options.items() if v is not None})
    return sources.load(str(spec), target=target, **options)


def predict_frame(model, data: Any, cfg: dict | None = None, **source_options) -> pd.DataFrame:
    """Predictions for raw data (a path, DataFrame or array) as a table: prediction + probabilities."""
    cfg = cfg or {}
    ds = None
    if isinstance(data, (str, Path)):
        ds = _load_new_data(data, cfg, with_target=False, **source_options)
        X = ds.X
    else:
        X = data
    proba = model.predict(X)
    frame = pd.DataFrame()
    if ds is not None and isinstance(ds.X, pd.DataFrame) and "path" in ds.X.columns:
        frame["path"] = ds.X["path"].to_numpy()
    pre = model.preprocessor
    if pre is not None and getattr(pre, "task", None) == "classification":
        idx = (proba[:, 0] > 0.5).astype(np.int64) if proba.shape[-1] == 1 else proba.argmax(-1)
        threshold = cfg.get("threshold")
        if isinstance(threshold, float) and proba.shape[-1] == 2 and cfg.get("positive") in pre.classes:
            pos = list(pre.classes).index(cfg["positive"])
            idx = np.where(proba[:, pos] >= threshold, pos, 1 - pos)
        frame["prediction"] = pre.decode_y(idx)
        for k, cls in enumerate(pre.classes):
            frame[f"proba_{cls}"] = proba[:, k]
    else:
        values = proba.reshape(len(proba), -1)
        if values.shape[1] == 1:
            frame["prediction"] = values[:, 0]
        else:
            for k in range(values.shape[1]):
                frame[f"prediction_{k}"] = values[:, k]
    return frame


def predict(run_dir: str | Path, data: Any, **source_options) -> pd.DataFrame:
    """``nnguru predict RUN_DIR DATA``: apply the saved preprocessing and model to raw data."""
    model, cfg = load_run(run_dir)
    return predict_frame(model, data, cfg, **source_options)


def evaluate_run(run_dir: str | Path, data: Any, **source_options) -> dict:
    """``nnguru evaluate RUN_DIR DATA``: the test metrics of a saved run on new labeled data."""
    from nnguru import evaluate
    from nnguru.data.clean import clean

    model, cfg = load_run(run_dir)
    ds = _load_new_data(data, cfg, with_target=True, **source_options)
    if ds.y is None:
        raise NNGuruError(
            f"{str(data)!r} has no target column {cfg.get('target')!r}; evaluate needs labeled data "
            "(use `nnguru predict` for unlabeled data)."
        )
    # placeholder zeros: only reported here; the model's preprocessor treats the columns that
    # training treated (detecting again on new data could pick other columns)
    ds, report = clean(ds, missing=cfg.get("missing", "fill"), placeholder_zeros="flag", task=cfg.get("task"))
    pre = model.preprocessor
    proba = model.predict(ds.X)
    y = pre.encode_y(ds.y)
    if cfg.get("task") == "classification":
        threshold = cfg.get("threshold") if isinstance(cfg.get("threshold"), float) else None
        metrics = evaluate.classification_metrics(y, proba, pre.classes, cfg.get("positive"), threshold)
    else:
        metrics = evaluate.regression_metrics(y, proba)
    return jsonable({"test": metrics, "rows": len(ds), "data": str(data), "cleaning": report.get("rows")})
