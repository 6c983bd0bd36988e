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

import dataclasses
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnguru import clock, rundir, tasks
from nnguru.config import DEFAULTS, SOURCE_OPTIONS, check_names, resolve_config, table_options
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

    def similar(self, query: Any, k: int = 5, **source_options: Any) -> pd.DataFrame:
        """The ``k`` nearest training items of each query item (rows, a file or a folder):
        ``query, rank, item, distance`` (and ``label``), as ``nnguru similar`` writes."""
        from nnguru import similarity

        index = similarity.load_index(self.run_dir / "model")
        similarity.check_k(k, len(index))
        x, ids = similarity.query_inputs(self.model, self.config, query, **source_options)
        return similarity.search(self.task, self.model, index, x, ids, k)


@dataclass
class Fitted:
    """The fit stage's artifact."""

    history: dict[str, list[float]]
    train_seconds: float
    restored_epoch: int | None  # 1-based epoch whose weights early stopping kept
    estimate: dict | None = None  # the up-front estimate next to the actual time (nnguru.estimate.compare)
    time_budget: dict | None = None  # {"seconds", "reached", "best_epoch"} when a budget was set


@clock.command  # the automatic time budget counts from here (nnguru.clock)
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
        if cfg.get("drop_train_rows") and not streamed:
            _drop_train_rows(p, cfg["drop_train_rows"], console)
        if cfg.get("drop_leaked") and not streamed:
            _drop_leaked(p, int(cfg["seed"]), console)
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


def _drop_train_rows(p: Prepared, rows: list[int], console) -> None:
    """Leave training-split positions ``rows`` out (auto-fix: suspected label errors)."""
    keep = np.ones(len(p.y["train"]), dtype=bool)
    keep[[i for i in rows if 0 <= i < len(keep)]] = False
    p.x["train"], p.y["train"] = p.x["train"][keep], p.y["train"][keep]
    if p.context.get("train_items") is not None:
        p.context["train_items"] = [n for n, k in zip(p.context["train_items"], keep, strict=True) if k]
    p.data_report.setdefault("split", {})["dropped_label_errors"] = int((~keep).sum())
    p.data_report["split"]["train"] = int(keep.sum())
    console.print(f"{int((~keep).sum())} suspected label errors left out of training (auto-fix).")


def _drop_leaked(p: Prepared, seed: int, console) -> None:
    """Leave validation/test samples that repeat a training sample out of scoring (auto-fix:
    leakage); the user's files are untouched. Splits with per-row context are left as they are."""
    from nnguru.guru.data_checks import copies_of_train

    if any(isinstance(v, dict) and "test" in v for v in p.context.values()):
        console.print("[yellow]--auto-fix: this task's splits carry per-row context; leaked rows kept.[/]")
        return
    dropped = {}
    for split in ("val", "test"):
        x = p.x.get(split)
        if not isinstance(x, np.ndarray) or not len(x):
            continue
        rows = copies_of_train(p.x["train"], x, seed=seed)
        keep = np.ones(len(x), dtype=bool)
        keep[rows] = False
        p.x[split], p.y[split] = x[keep], p.y[split][keep]
        dropped[split] = int(len(rows))
        p.data_report.setdefault("split", {})[split] = int(keep.sum())
    split = p.data_report.setdefault("split", {})
    split["dropped_leaked"] = dropped
    split["duplicates_train_test"] = 0  # the copies left in test were just removed
    console.print(f"{sum(dropped.values())} validation/test samples that repeat training samples left out "
                  f"of scoring (auto-fix: leakage; {dropped}).")


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
    from nnguru.nn import adjust, templates
    from nnguru.nn.model import Model

    cfg = task.cfg
    recipe: dict = {}  # the table recipe applies to nnguru's mlp on a table (config.TABLE_DEFAULTS)
    if isinstance(user_model, Model):
        model = user_model
    elif getattr(task, "base", None) is not None:  # --from: the base's layers, a new head
        from nnguru import transfer

        model, task.transfer = transfer.transfer_model(task.base, task.head(p.n_out, p.y["train"]), p.pre.input_shape)
    else:
        template = task.template(p.pre.input_shape)  # the task's choice (autoencoders without labels)
        if p.pre.kind == "table" and templates.resolve(template, p.pre.input_shape) == "mlp":
            recipe = table_options(cfg)
        extra = ({"feature_scale": bool(recipe["feature_scale"]), "ensemble": int(recipe["ensemble"]),
                  "init": recipe["init"]} if recipe else {})
        model = templates.build(template, p.pre.input_shape, task.head(p.n_out, p.y["train"]),
                                len(p.x["train"]), dropout=cfg["dropout"],
                                hidden_scale=float(cfg["hidden_scale"]), augment=cfg.get("augment"), **extra)
    # the guru's network remedies (activation, batch_norm, ..., clipnorm, lr_scale): nn/adjust.py
    model = adjust.apply_config(model, cfg, p.x["train"], task.loss_spec(recipe))
    model.table_recipe = recipe  # fit reads the learning-rate schedule from it
    if not isinstance(user_model, Model) and getattr(task, "base", None) is None:  # fit reads the template's policy
        model.lr_decay = templates.LR_DECAY.get(templates.resolve(task.template(p.pre.input_shape),
                                                                  p.pre.input_shape), "none")
    if model._compile_args is None:
        opt = adjust.optimizer_spec(cfg["optimizer"], cfg["lr"], cfg.get("lr_scale"), cfg.get("clipnorm"))
        if recipe and cfg["optimizer"] == "adam":  # the recipe's Adam; a dict optimizer is the user's own
            opt = {**(opt if isinstance(opt, dict) else {"name": "adam"}), "beta_2": float(recipe["beta_2"])}
            if recipe["init"] == "ntk" and cfg["lr"] is None:  # NTK's weights need RealMLP's larger rate
                opt["lr"] = templates.NTK_LR
        model.compile(optimizer=opt, loss=task.loss_spec(recipe), metrics=list(task.history_metrics))
        if cfg.get("lr_scale") is not None:  # folded into lr, so config.yaml reruns the same rate
            cfg["lr"], cfg["lr_scale"] = opt["lr"], None
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


# The default budget (``time_budget: auto`` without --epochs) is a whole-command one (issue 12: a
# default run in <= 2 minutes on 2 cores, MNIST's 60,000 images included): training gets what is
# left of nnguru.clock's AUTO_COMMAND_SECONDS once the time spent so far (loading, preparing, the
# estimate) and the estimate's prediction of the stages after training are taken off. Where no
# estimate is made (a streamed table, several processes) AUTO_AFTER_FALLBACK_S is kept for them.
AUTO_AFTER_FALLBACK_S = 20.0


def auto_time_budget(cfg: dict) -> bool:
    """Whether the run's budget is the automatic, whole-command one."""
    return cfg.get("time_budget", "auto") == "auto" and cfg.get("epochs") is None


def time_budget_seconds(cfg: dict, after: float | None = None) -> float | None:
    """Seconds of training allowed: the option; the automatic budget (when epochs were not given:
    the command's deadline less its time so far and ``after``, the predicted seconds of the stages
    after training); or None (no limit)."""
    budget = cfg.get("time_budget", "auto")
    if budget == "auto":
        if cfg.get("epochs") is not None:
            return None
        optimizer = _optimizer_class(cfg.get("optimizer"))
        deadline = getattr(optimizer, "command_seconds", None) or clock.AUTO_COMMAND_SECONDS
        return clock.auto_budget(clock.command_elapsed(), AUTO_AFTER_FALLBACK_S if after is None else after,
                                 deadline=deadline)
    return None if budget in (None, "none") else float(budget)


def batch_size(cfg: dict) -> int | None:
    """The run's batch size; None ("auto") lets the optimizer take its own (whole-batch methods, 6000
    for hessian-free, 64 for random search, else Keras's 32)."""
    return None if cfg["batch_size"] == "auto" else int(cfg["batch_size"])


def steps_batch_size(cfg: dict, model, n_train: int) -> int:
    """The rows one training step sees (what an estimate times): batch_size, or the optimizer's own."""
    chosen = batch_size(cfg)
    if chosen is not None:
        return chosen
    opt = model.optimizer
    if getattr(opt, "full_batch", False):
        return max(n_train, 1)
    from nnguru.nn.model import DEFAULT_BATCH

    return int(getattr(opt, "preferred_batch_size", None) or DEFAULT_BATCH)


def training_plan(cfg: dict, n_train: int, n_val: int) -> tuple[int, int, bool, float | None]:
    """``(epochs, patience, early stopping?, time budget in seconds or None)`` of a run: what fit
    trains with and what ``nnguru estimate`` predicts."""
    # a whole-batch method takes one step per epoch: its own step budget, not the data's epochs
    epochs = int(cfg["epochs"] or _step_budget(cfg["optimizer"]) or auto_epochs(n_train))
    patience = int(cfg["patience"] or (10 if n_train <= 10_000 else 5))
    return epochs, patience, bool(cfg["early_stopping"] and n_val), time_budget_seconds(cfg)


def lr_decay(cfg: dict, model) -> str:
    """The run's learning-rate decay: the option, else the template's own (templates.LR_DECAY: budget for
    the cnn), else none; a user's own optimizer keeps its constant rate."""
    chosen = cfg.get("lr_decay") or getattr(model, "lr_decay", None) or "none"
    return chosen if _optimizer_name(cfg["optimizer"]) == "adam" or cfg.get("lr_decay") else "none"


def stops_early(cfg: dict, model, early_stopping: bool, budget_s: float | None) -> bool:
    """Whether early stopping may end the run. Under a budget decay with a time budget the run is the
    budget (its rate reaches zero there): early stopping only keeps the best epoch's weights."""
    return early_stopping and not (lr_decay(cfg, model) == "budget" and budget_s is not None)


def fit(task: Task, model, p: Prepared, run_dir: Path, console) -> Fitted:
    """Train with early stopping that keeps the best weights, within the time budget, backing up
    the whole training state in ``run_dir/checkpoints`` (each epoch, and every ``checkpoint_every``
    steps) for --resume. The time is estimated up front and compared with the actual."""
    from nnguru import estimate
    from nnguru.callbacks import BackupAndRestore, EarlyStopping, TimeBudget

    cfg = task.cfg
    x_tr, x_va = p.x["train"], p.x["val"]
    epochs, patience, early_stopping, budget_s = training_plan(cfg, len(x_tr), len(x_va))
    streamed = "stream" in p.context  # streamed splits carry their targets
    est = None
    stopping = stops_early(cfg, model, early_stopping, budget_s)
    if not streamed:  # the automatic budget is settled by the estimate's prediction of what follows
        est, budget_s = _estimate(task, model, p, epochs, patience if stopping else None, budget_s, console)
    early = None
    if early_stopping:  # without stopping (a budget decay): it only restores the best epoch's weights
        early = EarlyStopping(monitor="val_loss", patience=patience if stopping else epochs,
                              restore_best_weights=True)
        if stopping and est is not None and est.stop_nominal == "early stopping":  # the ETA's expected stop
            early.expected_epochs = est.epochs_nominal
    # with early stopping, its copy of the best weights is the one restored: no second copy
    budget = None if budget_s is None else TimeBudget(budget_s, monitor="val_loss" if len(x_va) else "loss",
                                                      restore_best_weights=early is None)
    class_weight = _class_weight(task, p)
    # config.yaml holds resolved values: rerunnable
    cfg["epochs"], cfg["patience"], cfg["time_budget"] = epochs, patience, budget_s or "none"
    decay = lr_decay(cfg, model)
    console.rule(f"[bold]4. Training[/] · up to {epochs} epochs"
                 + (f", early stopping (patience {patience})" if early and stopping else "")
                 + (", learning rate decaying to 0 over the budget" if decay == "budget" else "")
                 + (f", time budget {estimate_format(budget_s)}" if budget_s else ""))
    if est is not None:
        console.print(f"Estimate: {est.summary()}", highlight=False)
    backup = BackupAndRestore(run_dir / rundir.CHECKPOINTS, save_freq=cfg.get("checkpoint_every") or "epoch",
                              delete_checkpoint=False)  # removed when the run commits
    monitor = _monitor(cfg)
    t0 = time.perf_counter()
    warm: dict = {}
    if getattr(task, "transfer", None):  # --from: the new head alone first, then everything at a lower lr
        from nnguru import transfer

        warm = transfer.warm_up_head(model, p, cfg, console, class_weight)
    callbacks = [*_schedule(cfg, model, epochs, budget), *(cb for cb in (early, budget, backup, monitor) if cb)]
    history = model.fit(x_tr, None if streamed else p.y["train"], epochs=epochs, batch_size=batch_size(cfg),
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
    budget_info = None
    if budget is not None:
        budget_info = {"seconds": budget_s, "reached": budget.reached,
                       "best_epoch": None if budget.best_epoch is None else budget.best_epoch + 1}
        if budget.reached:
            console.print(f"[yellow]Time budget:[/] {budget.message()}")
    comparison = estimate.compare(est, train_seconds, len(hist.get("loss", [])))
    if comparison is not None:
        console.print(f"Training took {estimate_format(train_seconds)} (estimated {estimate_format(est.seconds)}, "
                      f"{comparison['error']:+.0%}).", highlight=False)
    write_history(run_dir / "history.csv", hist)
    write_config(run_dir / "config.yaml", cfg)
    if monitor is not None:
        monitor.save(run_dir / "monitor.json")
    # the restored (best) epoch, counted from 1 as the curves and the report show epochs
    restored = None if early is None or early.best_epoch is None else early.best_epoch + 1
    if restored is None and budget is not None and budget.reached and budget.best_epoch is not None:
        restored = budget.best_epoch + 1
    if restored is not None and warm:
        restored += len(warm.get("loss", []))
    return Fitted(hist, train_seconds, restored, comparison, budget_info)


def estimate_format(seconds: float) -> str:
    from nnguru.training.callbacks.time_budget import format_duration

    return format_duration(seconds)


def _class_weight(task: Task, p: Prepared):
    return task.class_weight(p.y["train"], p.n_out, counts=p.context.get("train_class_counts"))


def _monitor(cfg: dict):
    """The network monitor a run trains with (None: ``monitor: false``)."""
    from nnguru.training.monitor import NetworkMonitor

    return NetworkMonitor(cfg.get("monitor_every") or "auto") if cfg.get("monitor", True) else None


def _schedule(cfg: dict, model, epochs: int, budget=None) -> list:
    """The run's learning-rate schedule as callbacks: the table recipe's cosine, or a budget decay
    (``budget``: the run's TimeBudget callback, or None)."""
    # the table recipe's schedule goes with its Adam: a user's own optimizer (sgd at a chosen rate) keeps
    # a constant rate, so a crawl still looks like one to the guru
    if (getattr(model, "table_recipe", None) or {}).get("lr_schedule") == "cosine" \
            and _optimizer_name(cfg["optimizer"]) == "adam":
        return [_cosine_schedule(model, epochs)]
    if lr_decay(cfg, model) == "budget":
        from nnguru.training.callbacks.budget_decay import BudgetDecay

        return [BudgetDecay(epochs, budget)]
    return []


def _estimate(task: Task, model, p: Prepared, epochs: int, patience: int | None, budget_s: float | None,
              console) -> tuple[Any, float | None]:
    """``(estimate, time budget)``: the up-front estimate (nnguru.estimate) and the budget it
    settles (see :func:`estimate_run`); the estimate is None where it cannot be made (several
    processes, where timing steps would need collectives): the run goes on. Its scratch backup
    goes to the system's temp folder, never the run directory, where a kill would leave it."""
    if distributed.world_size() > 1:
        return None, budget_s
    try:
        return estimate_run(task, model, p, epochs, patience, budget_s)
    except Exception as exc:  # an estimate must never stop the run it describes
        console.print(f"[yellow]Estimate skipped:[/] {type(exc).__name__}: {exc}")
        return None, budget_s


def estimate_run(task: Task, model, p: Prepared, epochs: int, patience: int | None,
                 budget_s: float | None) -> tuple[Any, float | None]:
    """The whole command's estimate and the training budget: with ``time_budget: auto``, what is
    left of the command's deadline once the time so far (this estimate included) and the
    estimate's prediction of the stages after training are taken off. Where early stopping may end
    the run, its start is replayed (``estimate.probe_run``) with the run's batch size, class weights,
    schedule and monitor: a run of a few seconds is then known to the epoch. Not after ``--from``:
    the head's warm-up changes the weights the run starts from."""
    from nnguru import estimate

    cfg = task.cfg
    probe = None
    if patience is not None and len(p.x["val"]) and not getattr(task, "transfer", None):
        monitor = _monitor(cfg)
        probe = estimate.probe_run(model, p.x["train"], p.y["train"], p.x["val"], p.y["val"],
                                   batch_size=batch_size(cfg), epochs=epochs, patience=patience,
                                   class_weight=_class_weight(task, p),
                                   callbacks=[*_schedule(cfg, model, epochs), *([monitor] if monitor else [])])
    n = {s: len(p.x[s]) for s in ("train", "val", "test")}
    classes = p.n_out if tasks.get(cfg["task"]).categorical_target else None
    features = int(np.prod(np.shape(p.x["train"])[1:]))
    est = estimate.estimate_fit(model, p.x["train"], p.y["train"], p.x["val"], p.y["val"],
                                batch_size=steps_batch_size(cfg, model, n["train"]), epochs=epochs,
                                patience=patience, time_budget=budget_s,
                                after=estimate.after_rows(n["train"], n["val"], n["test"]), before_seconds=0.0,
                                checks=estimate.check_seconds(n["train"], n["test"], features, classes),
                                probe=probe)
    if auto_time_budget(cfg):
        budget_s = time_budget_seconds(cfg, est.after_seconds)
    est = estimate.plan(dataclasses.replace(est, before_seconds=clock.command_elapsed()), budget_s)
    return est, budget_s


def _cosine_schedule(model, epochs: int):
    """Cosine decay of the compiled learning rate to 0 over ``epochs`` (set at each epoch's start):
    large steps while the loss falls fast, small ones to settle in the minimum (RealMLP, TabM)."""
    import math

    from nnguru.callbacks import LearningRateScheduler
    from nnguru.training.callbacks.reduce_lr_on_plateau import get_lr

    base = get_lr(model.optimizer)
    return LearningRateScheduler(lambda epoch: base * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs)))


def _optimizer_name(optimizer: Any) -> Any:
    """The name of an optimizer option (a name or ``{"name": ...}``); anything else as it is."""
    return optimizer.get("name") if isinstance(optimizer, dict) else optimizer


def _optimizer_class(optimizer: Any) -> type | None:
    """The class behind an optimizer option (a name or ``{"name": ...}``), where it is one."""
    from nnguru.optim import registry

    name = _optimizer_name(optimizer)
    factory = registry.entry(name).factory if isinstance(name, str) else None
    return factory if isinstance(factory, type) else None


def _step_budget(optimizer: Any) -> int | None:
    """The optimizer's own step budget when it takes whole-batch steps (see ModelOptimizer)."""
    factory = _optimizer_class(optimizer)
    if factory is not None and getattr(factory, "full_batch", False):
        return getattr(factory, "default_steps", None)
    return None


def evaluate(task: Task, model, p: Prepared, fitted: Fitted, run_dir: Path, console) -> Evaluation:
    """Score the test split, once, next to the task's baselines; write metrics.json and the plots."""
    from nnguru import report

    ev = task.evaluate_stream(model, p) if "stream" in p.context else task.evaluate(model, p)
    ev.metrics = {"task": task.name, **ev.metrics, "epochs_run": len(fitted.history.get("loss", [])),
                  "train_seconds": round(fitted.train_seconds, 3),
                  "estimate_seconds": None if fitted.estimate is None else fitted.estimate["seconds"],
                  "estimate": fitted.estimate, "time_budget": fitted.time_budget}
    ev.metrics.setdefault("test", {})
    ev.metrics.update(_similarity(task, model, p, console))
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
    checks = data_checks(task, p)
    findings = guru.diagnose(
        history=hist, data_report=p.data_report, metrics=ev.metrics, rules=task.guru_rules,
        headline=task.headline, n_params=model.count_params(),
        n_classes=p.n_out if task.categorical_target else None,
        lr=hist["lr"][0] if hist.get("lr") else None,
        class_weight=task.cfg["class_weight"], restored_epoch=fitted.restored_epoch, monitor=monitor,
        label_smoothing=float(getattr(model.loss, "label_smoothing", 0.0) or 0.0),
        steps_per_epoch=_steps_per_epoch(task.cfg, model, p), **checks)
    write_json(run_dir / "diagnosis.json", [f.to_dict() for f in findings])
    console.rule("[bold]6. Diagnosis[/]")
    guru.print_findings(findings, console)
    return findings


def _steps_per_epoch(cfg: dict, model, p: Prepared) -> int | None:
    """Optimizer steps in one training epoch (the curve rules count steps where it matters)."""
    n_train = ((p.data_report or {}).get("split") or {}).get("train")
    if not n_train:
        return None
    return max(1, math.ceil(n_train / steps_batch_size(cfg, model, n_train)))


def data_checks(task: Task, p: Prepared) -> dict:
    """Label errors (class targets) and near-duplicate test samples, on in-memory splits."""
    from nnguru.guru import data_checks as dc

    if "stream" in p.context or not all(isinstance(p.x[s], np.ndarray) for s in ("train", "test")):
        return {}
    seed = int(task.cfg["seed"])
    near = dc.near_duplicates(p.x["train"], p.x["test"], seed=seed) if len(p.x["test"]) else None
    out: dict = {"near_duplicates": near["count"] if near else None}
    if task.categorical_target:
        classes = getattr(p.pre, "classes", None)
        out["label_issues"] = dc.label_issues(p.x["train"], p.y["train"], classes=classes,
                                              items=p.context.get("train_items"), seed=seed)
    return out


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
    index = p.context.get("similarity_index")  # made by the evaluate stage
    save_model(model, run_dir / "model", extra=index.save if index is not None else None)
    report_path = report.write_report(run_dir)
    console.rule("[bold]7. Files[/]")
    console.print(f"Run written to [bold]{rundir.final_path(run_dir)}[/]: report {report_path.name}, model/, "
                  "metrics.json, history.csv, diagnosis.json, data_report.json, config.yaml")
    return Run(run_dir, model, fitted.history, ev.metrics, findings, p.data_report, task.cfg, report_path)


# ---- helpers -----------------------------------------------------------------------------------
def _similarity(task: Task, model, p: Prepared, console) -> dict:
    """Embed the training items for the bundle (``p.context["similarity_index"]``) and score the
    search on the test split: ``{"similarity": ...}`` for metrics.json (see ``nnguru.similarity``)."""
    from nnguru import similarity

    if "stream" in p.context:
        return {"similarity": {"note": "not stored: the table was streamed in chunks"}}
    t0 = time.perf_counter()
    try:
        index = similarity.build_index(task, model, p)
    except NNGuruError as exc:  # a model whose head cannot be found (a raw torch module)
        console.print(f"[yellow]Note:[/] {exc}")
        return {"similarity": {"note": str(exc)}}
    p.context["similarity_index"] = index
    t1 = time.perf_counter()
    block = similarity.evaluate(task, model, p, index)
    block.update(embed_seconds=round(t1 - t0, 3), eval_seconds=round(time.perf_counter() - t1, 3))
    return {"similarity": block}


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
    labels_optional = bool(tasks.check(cfg["task"])) and not tasks.get(cfg["task"]).needs_target
    if isinstance(data, np.ndarray) and labels_optional:  # X alone: a task that learns without labels
        return Dataset(X=data, y=None, name="arrays", kind="array", info={"source": "arrays"})
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = np.asarray(data[0]), np.asarray(data[1])
        if len(X) != len(y):
            raise NNGuruError(f"Found input variables with inconsistent numbers of samples: [{len(X)}, {len(y)}].")
        return Dataset(X=X, y=y, name="arrays", kind="array", info={"source": "arrays"})
    if isinstance(data, pd.DataFrame):
        if cfg["target"] is None and labels_optional:
            types = {c: t.type for c, t in columns.infer_types(data, cfg["column_types"] or {}).items()}
            return Dataset(X=data, y=None, name="dataframe", kind="table",
                           info={"source": "dataframe", "column_types": types})
        if cfg["target"] is None:
            raise NNGuruError("A DataFrame needs target=COLUMN to know what to predict.")
        name = sources.resolve_target(cfg["target"], list(data.columns), "the DataFrame")
        X = data.drop(columns=[name])
        overrides = {c: t for c, t in (cfg["column_types"] or {}).items() if c != name}
        types = {c: t.type for c, t in columns.infer_types(X, overrides).items()}  # checks the overrides
        return Dataset(X=X, y=data[name].to_numpy(), name="dataframe", kind="table", target=name,
                       info={"source": "dataframe", "column_types": types})
    ds = sources.load(str(data), target=cfg["target"], **{k: cfg[k] for k in SOURCE_OPTIONS})
    if ds.y is None and not labels_optional:
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
    """Up to ``auto_fix_rounds`` rounds of diagnose -> the strongest finding's remedy -> retrain;
    the round kept is the best on the validation split (never the test split); a healthy run (no
    remedy applies) is left alone. ``auto_fix.json`` records every round.

    Each retrain is written into ``run_dir/_auto_fix_N`` inside the same transaction; the kept
    round's files then replace the first run's."""
    from nnguru import guru, report

    runs, rounds = [first], [{"round": 0, "changes": {}, "description": ["the run as configured"],
                              "codes": [], **_fix_summary(first)}]
    current = first
    for number in range(1, int(cfg["auto_fix_rounds"]) + 1):
        fix = guru.strongest_remedy(current.diagnosis, current.config, only=cfg["auto_fix_only"])
        if not fix["changes"]:
            break
        console.rule(f"[bold]--auto-fix round {number}[/]: " + "; ".join(fix["description"]))
        folder = run_dir / f"_auto_fix_{number}"

        def begin(folder: Path = folder) -> Path:
            folder.mkdir(exist_ok=True)
            return folder

        current = run_stages(ds, {**current.config, **fix["changes"]}, console, None, begin,
                             lambda: rd)
        runs.append(current)
        rounds.append({"round": number, **fix, **_fix_summary(current)})
    if len(runs) == 1:
        fix = guru.strongest_remedy(first.diagnosis, first.config, only=cfg["auto_fix_only"])
        console.print("--auto-fix: the diagnosis calls for no change that retraining can make.")
        write_json(run_dir / "auto_fix.json", {"applied": False, "reason": "nothing to fix",
                                               "rounds": rounds, "chosen": 0, **fix})
        return first
    metric = _selection_metric(runs)
    # Rounds scored without the leaked samples are the only honest ones: a validation score that
    # includes copies of training samples is not comparable (it rewards memory).
    honest = [i for i, r in enumerate(runs) if r.config.get("drop_leaked")] or list(range(len(runs)))
    chosen = honest[0]
    for i in honest[1:]:
        if _better_on_val(runs[i], runs[chosen], metric):
            chosen = i
    kept_rounds = rounds[1:chosen + 1]
    summary = {"applied": chosen > 0, "rounds": rounds, "chosen": chosen, "selected_by": metric,
               # what the kept run changed, over its rounds (auto_fix.json's one-round keys)
               "changes": {k: v for r in kept_rounds for k, v in r["changes"].items()},
               "description": [d for r in kept_rounds for d in r["description"]],
               "codes": [c for r in kept_rounds for c in r["codes"]],
               "before": _fix_summary(first), "after": _fix_summary(runs[chosen])}
    console.print(f"--auto-fix: kept round {chosen} of {len(runs) - 1} (best validation {metric}).")
    kept = runs[chosen]
    for folder in (run_dir / f"_auto_fix_{i}" for i in range(1, len(runs))):
        shutil.rmtree(folder / rundir.CHECKPOINTS, ignore_errors=True)
    if chosen:  # the kept round's files replace the first run's
        src = run_dir / f"_auto_fix_{chosen}"
        keep = {rundir.MARKER, rundir.LOCK} | {f"_auto_fix_{i}" for i in range(1, len(runs))}
        for p in list(run_dir.iterdir()):
            if p.name not in keep:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        for p in src.iterdir():
            p.rename(run_dir / p.name)
    for i in range(1, len(runs)):
        shutil.rmtree(run_dir / f"_auto_fix_{i}", ignore_errors=True)
    kept.run_dir = run_dir
    write_json(run_dir / "auto_fix.json", summary)
    kept.report_path = report.write_report(run_dir)
    kept.extras["auto_fix"] = summary
    return kept


def _selection_metric(runs: list[Run]) -> str:
    """What rounds are compared by on validation: the validation loss (what early stopping
    watches, and smoother than a score on a small split), unless a round changed the class
    weights, which changes what the loss measures: then balanced accuracy (for classes), else
    the task's headline."""
    from nnguru import tasks

    if len({str(r.config.get("class_weight")) for r in runs}) == 1:
        return "val_loss_best"
    vals = [r.metrics.get("val") or {} for r in runs]
    if all(isinstance(v.get("balanced_accuracy"), (int, float)) for v in vals):
        return "balanced_accuracy"
    headline = tasks.get(runs[0].metrics["task"]).headline
    if all(isinstance(v.get(headline), (int, float)) for v in vals):
        return headline
    return "val_loss_best"


# Validation losses this close are one result summed in another order (a remedy the validation
# split cannot see, such as a softmax no longer read as logits, retrains to the same weights).
VAL_TIE_REL = 1e-6


def _problems(run: Run) -> int:
    return sum(f.severity != "info" and f.code != "healthy" for f in run.diagnosis)


def _better_on_val(a: Run, b: Run, metric: str) -> bool:
    """``a`` beats ``b`` on the validation ``metric``; a tie goes to the lower validation loss,
    and a tie on that to the run with fewer findings (a remedy that changed nothing the
    validation split sees still fixed what it was for)."""
    from nnguru import schema

    loss_a, loss_b = _fix_summary(a)["val_loss_best"], _fix_summary(b)["val_loss_best"]
    tie = loss_a is not None and loss_b is not None and math.isclose(loss_a, loss_b, rel_tol=VAL_TIE_REL)
    lower_loss = (_problems(a) < _problems(b)) if tie else (
        loss_a is not None and (loss_b is None or loss_a < loss_b))
    if metric == "val_loss_best":
        return lower_loss
    x, y = a.metrics["val"][metric], b.metrics["val"][metric]
    if not math.isfinite(x):
        return False
    if not math.isfinite(y) or schema.better(metric, x, y):
        return True
    return x == y and lower_loss


def _fix_summary(run: Run) -> dict:
    # The validation loss of the weights kept (metrics.json's, scored after training): a round
    # without early stopping keeps its last epoch, not the history's best one.
    kept = (run.metrics.get("val") or {}).get("loss")
    if not isinstance(kept, (int, float)) or not math.isfinite(kept):
        kept = min((v for v in run.history.get("val_loss", []) if v == v), default=None)
    return {"val": run.metrics.get("val"), "test": run.metrics.get("test"),
            "val_loss_best": kept,
            "epochs_run": run.metrics.get("epochs_run"), "diagnosis": [f.code for f in run.diagnosis]}


def lr_find(data: Any, target: str | int | None = None, task: str | None = None, model: str | None = None,
            optimizer: str = "adam", out: str | Path | None = None, **options: Any):
    """Learning-rate range test on the training split with the default (or chosen) template,
    stepping with ``optimizer`` and seeded by ``seed`` (model, batches): the same call gives the
    same answer."""
    from rich.console import Console

    import nnguru
    from nnguru import report

    cfg = resolve_config(None, data=str(data), target=target, task=task, optimizer=optimizer, **options)
    if model:
        cfg["model"] = model
    check_names(cfg)
    nnguru.set_seed(int(cfg["seed"]))
    console = Console(quiet=True)
    ds = load(data, cfg)
    chosen = choose_task(ds, cfg, console)
    p = chosen.prepare(ds, console)
    nnguru.set_seed(int(cfg["seed"]))  # the weights do not depend on what preparing drew
    net = make_model(chosen, p)
    result = net.find_lr(p.x["train"], p.y["train"], optimizer=cfg["optimizer"],
                         seed=int(cfg["seed"]))
    if out:
        report.plot_lr_finder(result, out)
    return result
