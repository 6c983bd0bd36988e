"""A run as stages: prepare -> build -> fit -> evaluate -> diagnose -> write.

Each stage is a short function that takes the artifacts before it, asks the run's task (one
object from ``nnguru.tasks``) whatever varies by task, and writes its own artifact to the run
directory as soon as it exists:

    prepare   data_report.json, config.yaml   cleaned, split, preprocessed data (``Prepared``);
                                              the run directory is made once the data is accepted
    build     model_summary.txt               the user's model or the task's template
    fit       history.csv, config.yaml        training with early stopping (``Fitted``)
    evaluate  metrics.json, *.png             val/test metrics next to baselines (``Evaluation``)
    diagnose  diagnosis.json                  the guru's findings
    write     model/, environment.json, report.html

The stages write into the run's partial folder (``nnguru.rundir``: a transaction renamed into
place when the run succeeds); fit backs up its whole state there every epoch (and every
``checkpoint_every`` steps), so ``train(resume=RUN_DIR)`` re-runs prepare and build (deterministic
from the seed, on data whose fingerprint must match), continues fit from the last backup, and
re-runs the cheap evaluate, diagnose and write stages, ending with exactly the uninterrupted run's
files. Tools that repeat part of a run (tuning, a time estimate) call the stages they need.
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

from nnguru import rundir, tasks
from nnguru.config import DEFAULTS, SOURCE_OPTIONS, check_names, resolve_config
from nnguru.errors import NNGuruError
from nnguru.rundir import check_run_dir, write_config, write_history, write_json, write_text
from nnguru.tasks.base import Evaluation, Prepared, Task
from nnguru.training import distributed


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

    @property
    def task(self) -> Task:
        from nnguru.inference import run_task

        return run_task(self.config)

    def predict(self, data: Any, **options: Any) -> np.ndarray:
        """Predicted labels (classification), values (regression) or forecasts for raw data."""
        frame = self.predict_table(data, **options)
        return frame["prediction"].to_numpy() if "prediction" in frame else frame.to_numpy()

    def predict_table(self, data: Any, **options: Any) -> pd.DataFrame:
        """What ``nnguru predict`` writes for ``data``: the task's prediction columns."""
        return self.task.predict_table(self.model, data, **options)

    def predict_proba(self, data: Any) -> np.ndarray:
        return self.model.predict(data)


@dataclass
class Fitted:
    """The fit stage's artifact."""

    history: dict[str, list[float]]
    train_seconds: float
    restored_epoch: int | None  # 1-based epoch whose weights early stopping kept


def train(data: Any = None, target: str | int | None = None, task: str | None = None,
          out: str | Path | None = None, *, config: dict | str | Path | None = None,
          overwrite: bool = False, model: Any = None, console=None, resume: str | Path | None = None,
          **options: Any) -> Run:
    """Load, clean, split, preprocess, train, evaluate, diagnose and report; returns a :class:`Run`.

    ``data``: a CSV/TSV/Parquet path, a folder (class subfolders of images/audio, MNIST IDX files),
    ``builtin:NAME``, a DataFrame (with ``target=``) or a ``(X, y)`` pair of arrays. ``model`` may
    be a template name or an (uncompiled or compiled) ``nnguru.Sequential``. ``resume``: the
    RUN_DIR of an interrupted run to continue (its options are used; pass the same data again
    when it was a DataFrame or arrays). Other options: see ``nnguru.config.DEFAULTS``.
    """
    from rich.console import Console

    import nnguru

    if resume is not None:
        return _resume(resume, data, target, task, out, config, model, console, options)
    with distributed.together():  # under torchrun: bad input stops every rank, with one message
        cfg = resolve_config(config, data=data if isinstance(data, (str, Path)) else None,
                             target=target, task=task, **options)
        if isinstance(model, str):
            cfg["model"] = model
        check_names(cfg)
        nnguru.set_seed(int(cfg["seed"]))
        console = distributed.quiet(console or Console(quiet=cfg["verbose"] == 0))
        source = data if data is not None else cfg["data"]
        ds = load_or_stream(source, cfg, console)  # a table larger than memory is read in chunks
        final = check_run_dir(distributed.output(out), _safe_name(ds.name), overwrite)
    begin, rd = _opener(final, overwrite, cfg, {"data": rundir.fingerprint_data(source)}, console)
    first = run_stages(ds, cfg, console, model, begin, rd)
    return _finish(first, ds, cfg, console, rd())


def run(ds, cfg: dict, out: str | Path | None, overwrite: bool, console, user_model=None) -> Run:
    """All stages on loaded data ``ds`` into a new run directory (a transaction, see ``rundir``).

    Under torchrun every rank runs every stage (their collectives must match), but only rank 0
    writes the run directory and prints: the others write to a scratch folder of their own.
    """
    console = distributed.quiet(console)
    with distributed.together():  # a rank's unwritable folder stops every rank
        final = check_run_dir(distributed.output(out), _safe_name(ds.name), overwrite)
    begin, rd = _opener(final, overwrite, cfg, {"data": ds.name})
    result = run_stages(ds, cfg, console, user_model, begin, rd)
    return _commit(result, rd())


def _opener(final: Path, overwrite: bool, cfg: dict, fingerprint: dict, console=None):
    """``(begin, rd)`` for :func:`run_stages`: ``begin()`` makes the partial folder (locked and marked)
    once the data is accepted and returns its path; ``rd()`` is that :class:`rundir.RunDir`."""
    held: list[rundir.RunDir] = []

    def begin() -> Path:
        held.append(rundir.begin(final, overwrite, options=cfg, fingerprint=fingerprint))
        if console is not None:
            console.print(f"Writing the run to {held[0].path} (renamed to {final} when it succeeds; "
                          f"if interrupted, continue it with `nnguru train --resume {final}`).", highlight=False)
        return held[0].path

    return begin, lambda: held[0]


def run_stages(ds, cfg: dict, console, user_model, begin, rd) -> Run:
    """All stages on loaded data ``ds``; ``begin()`` makes the folder once the data is accepted;
    ``rd()`` is the run's :class:`rundir.RunDir`, which records each stage."""
    from nnguru.data.stream import TableStream

    streamed = isinstance(ds, TableStream)  # a table larger than memory, read in chunks
    with distributed.together():  # a rank's bad data stops every rank, with one message
        task = choose_task(ds.sample if streamed else ds, cfg, console)
        if cfg.get("base") is not None:  # --from: the trained run this one starts from (nnguru.transfer)
            from nnguru import transfer

            task.base = transfer.load_base(cfg["base"])
            transfer.check_data(task.base, ds.sample if streamed else ds)
        # bad data stops here, before anything is written
        p = task.prepare_stream(ds, console) if streamed else task.prepare(ds, console)
        run_dir = begin()
        write_prepared(task, p, run_dir)
        rd().stage_done("prepare", run_dir)
        model = build(task, p, run_dir, console, user_model)
        rd().stage_done("build", run_dir)
    fitted = fit(task, model, p, run_dir, console)
    rd().stage_done("fit", run_dir)
    ev = evaluate(task, model, p, fitted, run_dir, console)
    rd().stage_done("evaluate", run_dir)
    findings = diagnose(task, model, p, fitted, ev, run_dir, console)
    rd().stage_done("diagnose", run_dir)
    result = write(task, model, p, fitted, ev, findings, run_dir, console)
    rd().stage_done("write", run_dir)
    return result


def _finish(first: Run, ds, cfg: dict, console, rd) -> Run:
    result = _auto_fix(first, ds, cfg, first.run_dir, console, rd) if cfg["auto_fix"] else first
    return _commit(result, rd)


def _commit(result: Run, rd) -> Run:
    """Rename the finished run into place; the Run's paths follow it."""
    final = rd.commit()
    result.run_dir = final
    if result.report_path is not None:
        result.report_path = final / result.report_path.name
    return result


# Options a resumed run may change: they alter no result.
RESUME_FREE = ("verbose", "device")


def _resume(resume, data, target, task, out, config, model, console, options: dict) -> Run:
    """Continue an interrupted run: same options, same data (checked), stages re-run, fit resumed."""
    from rich.console import Console

    import nnguru

    if distributed.world_size() > 1:
        raise NNGuruError(f"--resume {str(resume)!r} runs in one process: the interrupted run's backup holds "
                          "rank 0's state only. Resume without --devices/torchrun.")
    final, part = rundir.find_resumable(resume)
    marker = rundir.read_marker(part) or {}
    stored = dict(marker.get("options") or {})
    if out is not None and Path(out) != final:
        raise NNGuruError(f"--out {str(out)!r} differs from the run being resumed ({str(final)!r}); "
                          "leave --out out when resuming.")
    given = {k: v for k, v in options.items() if v is not None}
    given.update({k: v for k, v in (("target", target), ("task", task)) if v is not None})
    if isinstance(data, (str, Path)):
        given["data"] = str(data)
    if isinstance(model, str):
        given["model"] = model
    if config is not None:
        raise NNGuruError(f"--resume {str(resume)!r}: leave --config out; a resumed run uses the options "
                          "it started with (they are in its marker and config.yaml).")
    changed = [k for k, v in given.items() if k not in RESUME_FREE and k in stored
               and str(resolve_config(None, **{k: v}).get(k)) != str(stored[k])]
    if changed:
        raise NNGuruError(
            f"--resume {str(resume)!r}: options differ from the interrupted run's: "
            + ", ".join(f"{k} (was {stored[k]!r}, now {given[k]!r})" for k in changed)
            + ". A resumed run uses its original options; leave these out, or start a new run.")
    cfg = {**stored, **{k: given[k] for k in RESUME_FREE if k in given}}
    source = data if data is not None else cfg.get("data")
    if source is None:
        raise NNGuruError(f"--resume {str(resume)!r}: the run trained on in-memory data (a DataFrame or "
                          "arrays); pass the same data again: train(data, resume=RUN_DIR).")
    now = rundir.fingerprint_data(source)
    if now != (marker.get("fingerprint") or {}).get("data"):
        raise NNGuruError(f"--resume {str(resume)!r}: the data {describe_source(source)} changed since the run "
                          "began (its fingerprint differs), so the resumed run could not match the original. "
                          "Restore the original data, or start a new run.")
    console = console or Console(quiet=cfg.get("verbose") == 0)
    rd = rundir.take_over(final, part)
    try:
        nnguru.set_seed(int(cfg["seed"]))
        ds = load_or_stream(source, cfg, console)
        from nnguru.data.stream import TableStream

        if isinstance(ds, TableStream):
            raise NNGuruError(f"--resume {str(resume)!r}: the run streamed its table in chunks (data larger than "
                              "memory), and resuming a streamed run is not supported yet. Start it again.")
        console.print(f"Resuming the run into {final} (stages done: {', '.join(rd.stages) or 'none'}).",
                      highlight=False)
        first = run_stages(ds, cfg, console, model if not isinstance(model, str) else None,
                           lambda: rd.path, lambda: rd)
        return _finish(first, ds, cfg, console, rd)
    finally:
        rd.release()


def describe_source(source: Any) -> str:
    return repr(str(source)) if isinstance(source, (str, Path)) else f"(the {type(source).__name__} passed)"


# ---- the stages --------------------------------------------------------------------------------
def choose_task(ds, cfg: dict, console) -> Task:
    """The task named in the config, or the one the data plainly is (with hints for the others)."""
    name = tasks.check(cfg["task"])
    cls, hints = (tasks.get(name), []) if name else tasks.infer(ds)
    tasks.check_options(cls, cfg, DEFAULTS)
    for hint in hints:
        console.print(f"[yellow]Note:[/] {hint}")
    return cls({**cfg, "task": cls.name}, hints)


def write_prepared(task: Task, p: Prepared, run_dir: Path) -> None:
    """The prepare stage's files: what cleaning and splitting found and did, and the config so far."""
    p.data_report["warnings"] = p.data_report.get("warnings", []) + task.hints
    write_json(run_dir / "data_report.json", p.data_report)
    write_config(run_dir / "config.yaml", task.cfg)


def build(task: Task, p: Prepared, run_dir: Path, console, user_model=None):
    """The model (see :func:`make_model`) and its summary."""
    model = make_model(task, p, user_model)
    if getattr(task, "transfer", None):
        from nnguru import transfer

        transfer.write_record(task, model, run_dir, console)
    summary = model.summary(print_fn=None)
    write_text(run_dir / "model_summary.txt", summary)
    console.rule("[bold]3. Model[/]")
    console.print(summary, highlight=False)
    return model


def make_model(task: Task, p: Prepared, user_model=None):
    """The user's model, or the template for this kind of data with the task's head, compiled."""
    from nnguru.nn import templates
    from nnguru.nn.model import Model

    cfg = task.cfg
    if isinstance(user_model, Model):
        model = user_model
    elif getattr(task, "base", None) is not None:  # --from: the base's layers, a new head
        from nnguru import transfer

        model, task.transfer = transfer.transfer_model(task.base, task.head(p.n_out, p.y["train"]), p.pre.input_shape)
    else:
        model = templates.build(cfg["model"], p.pre.input_shape, task.head(p.n_out, p.y["train"]),
                                len(p.x["train"]), dropout=cfg["dropout"],
                                hidden_scale=float(cfg["hidden_scale"]))
    if model._compile_args is None:
        opt = cfg["optimizer"] if cfg["lr"] is None else {"name": cfg["optimizer"], "lr": float(cfg["lr"])}
        model.compile(optimizer=opt, loss=task.loss, metrics=list(task.history_metrics))
    if cfg["device"] != "auto" or _cuda():
        model.to(_device(cfg["device"]))
        model.amp = model.device.type == "cuda"
    return model


def auto_epochs(n_train: int) -> int:
    """Enough epochs for early stopping to decide on small data, few passes over big data."""
    if n_train <= 2_000:
        return 200
    if n_train <= 10_000:
        return 60
    if n_train <= 100_000:
        return 20
    return 8


def fit(task: Task, model, p: Prepared, run_dir: Path, console) -> Fitted:
    """Train with early stopping that keeps the best weights, backing up the whole training state
    in ``run_dir/checkpoints`` (each epoch, and every ``checkpoint_every`` steps) for --resume."""
    from nnguru.callbacks import BackupAndRestore, EarlyStopping
    from nnguru.training.monitor import NetworkMonitor

    cfg = task.cfg
    x_tr, x_va = p.x["train"], p.x["val"]
    epochs = int(cfg["epochs"] or auto_epochs(len(x_tr)))
    patience = int(cfg["patience"] or (10 if len(x_tr) <= 10_000 else 5))
    early = None
    if cfg["early_stopping"] and len(x_va):
        early = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    class_weight = task.class_weight(p.y["train"], p.n_out, counts=p.context.get("train_class_counts"))
    cfg["epochs"], cfg["patience"] = epochs, patience  # config.yaml holds resolved values: rerunnable
    console.rule(f"[bold]4. Training[/] · up to {epochs} epochs"
                 + (f", early stopping (patience {patience})" if early else ""))
    backup = BackupAndRestore(run_dir / rundir.CHECKPOINTS, save_freq=cfg.get("checkpoint_every") or "epoch",
                              delete_checkpoint=False)  # removed when the run commits
    monitor = NetworkMonitor(cfg.get("monitor_every") or "auto") if cfg.get("monitor", True) else None
    t0 = time.perf_counter()
    warm: dict = {}
    if getattr(task, "transfer", None):  # --from: the new head alone first, then everything at a lower lr
        from nnguru import transfer

        warm = transfer.warm_up_head(model, p, cfg, console, class_weight)
    streamed = "stream" in p.context  # streamed splits carry their targets
    callbacks = [cb for cb in (early, backup, monitor) if cb is not None]
    history = model.fit(x_tr, None if streamed else p.y["train"], epochs=epochs, batch_size=int(cfg["batch_size"]),
                        validation_data=(x_va, None if streamed else p.y["val"]) if len(x_va) else None,
                        callbacks=callbacks, class_weight=class_weight, verbose=cfg["verbose"])
    train_seconds = time.perf_counter() - t0
    hist = history.logs  # with the learning rate and seconds of each epoch (history.csv, the guru)
    if warm:
        from nnguru import transfer

        hist = transfer.merge_history(warm, hist)
        transfer.record_phases(task, run_dir, warm)
    if hist.get("lr"):
        cfg["lr"] = hist["lr"][0]
    if model.stop_reason:
        console.print(f"[red]Stopped:[/] {model.stop_reason}")
    write_history(run_dir / "history.csv", hist)
    write_config(run_dir / "config.yaml", cfg)
    if monitor is not None:
        monitor.save(run_dir / "monitor.json")
    # the restored (best) epoch, counted from 1 as the curves and the report show epochs
    restored = None if early is None or early.best_epoch is None else early.best_epoch + 1
    if restored is not None and warm:
        restored += len(warm.get("loss", []))
    return Fitted(hist, train_seconds, restored)


def evaluate(task: Task, model, p: Prepared, fitted: Fitted, run_dir: Path, console) -> Evaluation:
    """Score the test split, once, next to the task's baselines; write metrics.json and the plots."""
    from nnguru import report

    ev = task.evaluate_stream(model, p) if "stream" in p.context else task.evaluate(model, p)
    ev.metrics = {"task": task.name, **ev.metrics, "epochs_run": len(fitted.history.get("loss", [])),
                  "train_seconds": round(fitted.train_seconds, 3)}
    ev.metrics.setdefault("test", {})
    task.cfg.update(ev.choices)
    write_json(run_dir / "metrics.json", ev.metrics)
    write_config(run_dir / "config.yaml", task.cfg)
    report.save_run_plots(run_dir, history=fitted.history, best_epoch=fitted.restored_epoch)
    task.write_outputs(run_dir, ev)
    console.rule("[bold]5. Test[/]")
    _print_metrics(task, ev.metrics, console)
    return ev


def diagnose(task: Task, model, p: Prepared, fitted: Fitted, ev: Evaluation, run_dir: Path, console) -> list:
    """Read the curves and the data like an expert; write diagnosis.json."""
    from nnguru import guru

    hist = fitted.history
    monitor_file = run_dir / "monitor.json"  # the network monitor's samples (training/monitor.py)
    monitor = json.loads(monitor_file.read_text(encoding="utf-8")) if monitor_file.is_file() else None
    findings = guru.diagnose(
        history=hist, data_report=p.data_report, metrics=ev.metrics, rules=task.guru_rules,
        headline=task.headline, n_params=model.count_params(),
        n_classes=p.n_out if task.categorical_target else None,
        lr=hist["lr"][0] if hist.get("lr") else None,
        class_weight=task.cfg["class_weight"], restored_epoch=fitted.restored_epoch, monitor=monitor)
    write_json(run_dir / "diagnosis.json", [f.to_dict() for f in findings])
    console.rule("[bold]6. Diagnosis[/]")
    guru.print_findings(findings, console)
    return findings


def write(task: Task, model, p: Prepared, fitted: Fitted, ev: Evaluation, findings: list,
          run_dir: Path, console) -> Run:
    """The bundle (a model that takes raw data), the environment and the HTML report."""
    from nnguru import report
    from nnguru.bundle import save_model

    if task.cfg["tensorboard"]:
        if report.tensorboard_available():
            report.write_history(fitted.history, run_dir)
        else:
            console.print("[yellow]--tensorboard: the tensorboard package is not installed; skipped.[/]")
    write_json(run_dir / "environment.json", report.environment())
    model.preprocessor = p.pre  # from here on the model takes raw rows, files or series
    save_model(model, run_dir / "model")
    report_path = report.write_report(run_dir)
    console.rule("[bold]7. Files[/]")
    console.print(f"Run written to [bold]{rundir.final_path(run_dir)}[/]: report {report_path.name}, model/, "
                  "metrics.json, history.csv, diagnosis.json, data_report.json, config.yaml")
    return Run(run_dir, model, fitted.history, ev.metrics, findings, p.data_report, task.cfg, report_path)


# ---- helpers -----------------------------------------------------------------------------------
def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "run"


def load_or_stream(data: Any, cfg: dict, console):
    """A :class:`TableStream` for a table to stream (``stream``: true, or auto and a large file),
    else the loaded Dataset. A large file whose task cannot stream (forecasting) is loaded."""
    from nnguru.data import stream

    if not stream.should_stream(data, cfg):
        return load(data, cfg)
    table = stream.open_table(data, cfg)
    if cfg["stream"] is True:
        return table
    cls = tasks.get(tasks.check(cfg["task"])) if tasks.check(cfg["task"]) else tasks.infer(table.sample)[0]
    if cls.streams:
        console.print(f"[yellow]Note:[/] {table.name} is large: streamed in chunks (--no-stream loads it).")
        return table
    return load(data, cfg)


def load(data: Any, cfg: dict):
    """The raw Dataset of a path, ``builtin:NAME``, a DataFrame (with a target) or (X, y) arrays."""
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


def _print_metrics(task: Task, metrics: dict, console) -> None:
    from rich.table import Table

    from nnguru.schema import baselines as named_baselines

    test = metrics.get("test") or {}
    keys = [k for k in task.summary_metrics if isinstance(test.get(k), (int, float))]
    if not keys:
        return
    baselines = named_baselines(metrics)
    table = Table(title="Test set (used once) vs " + ("trivial baseline" if len(baselines) == 1 else "baselines"))
    table.add_column("metric")
    table.add_column("model", justify="right")
    for name in baselines:
        table.add_column(name.replace("_", " ") if len(baselines) > 1 else "baseline", justify="right")
    for k in keys:
        cells = [baselines[b].get(k) for b in baselines]
        table.add_row(k, f"{test[k]:.4f}", *(f"{c:.4f}" if isinstance(c, (int, float)) else "-" for c in cells))
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


# ---- --auto-fix and the learning-rate finder ---------------------------------------------------
def _auto_fix(first: Run, ds, cfg: dict, run_dir: Path, console, rd) -> Run:
    """Apply the guru's remedies once, retrain, and keep the better run (by validation loss).

    The second run is written into ``run_dir/_auto_fix_tmp`` inside the same transaction; a resumed
    run repeats the first run's stages (from its checkpoints while they exist) and then this."""
    from nnguru import guru, report

    fix = guru.remedies(first.diagnosis, first.config)
    if not fix["changes"]:
        console.print("--auto-fix: the diagnosis calls for no change that retraining can make.")
        write_json(run_dir / "auto_fix.json", {"applied": False, "reason": "nothing to fix", **fix})
        return first
    console.rule("[bold]--auto-fix[/]: " + "; ".join(fix["description"]))
    second_dir = run_dir / "_auto_fix_tmp"

    def begin() -> Path:
        second_dir.mkdir(exist_ok=True)
        return second_dir

    second = run_stages(ds, {**cfg, **fix["changes"]}, console, None, begin, lambda: rd)
    summary = {"applied": True, **fix, "before": _fix_summary(first), "after": _fix_summary(second)}
    # The fixed run replaces the first in the run directory; the first's numbers stay in auto_fix.json.
    keep = {second_dir.name, rundir.MARKER, rundir.LOCK}
    shutil.rmtree(second_dir / rundir.CHECKPOINTS, ignore_errors=True)
    for p in list(run_dir.iterdir()):
        if p.name not in keep:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in second_dir.iterdir():
        p.rename(run_dir / p.name)
    second_dir.rmdir()
    second.run_dir = run_dir
    write_json(run_dir / "auto_fix.json", summary)
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

    cfg = resolve_config(None, data=str(data), target=target, task=task, optimizer=optimizer, **options)
    if model:
        cfg["model"] = model
    check_names(cfg)
    console = Console(quiet=True)
    ds = load(data, cfg)
    chosen = choose_task(ds, cfg, console)
    p = chosen.prepare(ds, console)
    net = make_model(chosen, p)
    result = net.find_lr(p.x["train"], p.y["train"])
    if out:
        report.plot_lr_finder(result, out)
    return result
