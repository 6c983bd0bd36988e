"""``nnguru tune``: a hyperparameter search on Optuna, over data prepared once.

    load -> clean -> split -> preprocess   once (the pipeline's prepare stage)
    trial k: build -> fit (pruned on val loss) -> score on validation     x N (Optuna)
    best: build -> fit -> evaluate on test, once -> diagnose -> write     (the pipeline's stages)

The objective is the validation loss the trial's early stopping keeps (its best epoch): it is what
the loop, early stopping and the pruner already watch, it is comparable across epochs and tasks,
and it moves smoothly where accuracy on a few hundred rows moves in coarse steps. Trial 0 of a new
study is the configuration ``nnguru train`` would have used, so the search starts from the
default and the best trial is at least as good on validation.

The study lives in ``study.db`` (SQLite) inside the run directory, which is written as a
transaction like a training run (``nnguru.rundir``): an interrupted search continues with
``--resume RUN_DIR`` (trial numbers carry on), and ``--storage URL`` shares one study between
several processes or machines (Optuna's own mode: every process runs the same command).

Time: ``--timeout`` bounds the whole search, not only when the last trial may start
(:class:`SearchClock`): each trial trains within its share of what is left, and no trial starts
when what is left cannot fit the cheapest one so far. Each trial also keeps ``nnguru train``'s own
epochs, early stopping and time budget (``--time-budget`` replaces the last), and the pruner stops
the trials that fall behind at the same epoch.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from nnguru import rundir
from nnguru.errors import NNGuruError, describe
from nnguru.training.callbacks.base import Callback
from nnguru.tuning import space as S

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "halving", "hyperband", "none")
SETTING_DEFAULTS = {"trials": 20, "sampler": "tpe", "pruner": "median"}
OBJECTIVE = "val_loss"
STUDY_DB = "study.db"
TRIALS_CSV, TUNE_JSON = "trials.csv", "tune.json"
# Keys of a tune config file that are not ``nnguru train`` options.
TUNE_KEYS = ("search_space", "trials", "timeout", "sampler", "pruner", "storage", "study_name")
# Pruned trials stop at the first rungs (with halving, two in three at the first): a trial that goes
# on may take this many times its plain share of the time left (the survivors need the epochs).
PRUNED_SHARE = 3.0


class SearchClock:
    """The search's time: when ``timeout`` is set, how long the next trial may train and whether one
    still fits. A trial's budget is the least of the run's own budget (``per_trial``), its share of
    what is left (``share`` x left / trials to go) and what is left; a trial starts only while what
    is left is at least the wall time of the cheapest finished trial (build, fit and scoring).
    ``clock`` is injectable (tests use a fake one)."""

    def __init__(self, timeout: float | None, per_trial: float | None, share: float = 1.0,
                 clock=time.monotonic) -> None:
        self.timeout, self.per_trial, self.share, self.clock = timeout, per_trial, share, clock
        self.start, self.cheapest = clock(), math.inf

    def left(self) -> float | None:
        return None if self.timeout is None else self.timeout - (self.clock() - self.start)

    def budget(self, trials_to_go: int) -> float | None:
        """Seconds of training for the next trial (None: no limit)."""
        left = self.left()
        if left is None:
            return self.per_trial
        share = self.share * left / max(trials_to_go, 1)
        return max(min(v for v in (self.per_trial, share, left) if v is not None), 1e-3)

    def record(self, seconds: float) -> None:
        self.cheapest = min(self.cheapest, seconds)

    def fits(self) -> bool:
        """Whether another trial can start: time is left, and at least as much as the cheapest trial took."""
        left = self.left()
        return left is None or (left > 0 and (self.cheapest == math.inf or left >= self.cheapest))


class PruneOnValLoss(Callback):
    """Reports the best validation loss so far to the trial each epoch; stops the fit cleanly
    (``stop_training``) when the pruner says the trial is behind the others at that epoch."""

    def __init__(self, trial) -> None:
        super().__init__()
        self.trial, self.best, self.pruned_at = trial, math.inf, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(OBJECTIVE)
        if value is None or not math.isfinite(value):
            return
        self.best = min(self.best, float(value))
        self.trial.report(self.best, epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            self.model.stop_training = True


def tune(data: Any = None, target: str | int | None = None, task: str | None = None,
         out: str | Path | None = None, *, trials: int | None = None, timeout: float | None = None,
         sampler: str | None = None, pruner: str | None = None, storage: str | None = None,
         study_name: str | None = None, resume: str | Path | None = None, overwrite: bool = False,
         config: dict | str | Path | None = None, search_space: dict | None = None,
         time_budget: float | None = None, callbacks: list | None = None, console=None,
         **options: Any):
    """Search hyperparameters on the validation split, then retrain the best and test it once.

    Returns the retrained best's :class:`nnguru.pipeline.Run` (``run.extras["tune"]`` holds the
    study's summary, also in ``tune.json``). ``trials``: finished (complete or pruned) trials the
    study should hold in all (default 20); ``sampler``: tpe (default) or random; ``pruner``:
    median (default), halving, hyperband or none; ``timeout``: seconds for the whole search (see
    :class:`SearchClock`); ``search_space``: overrides of
    the family's ranges (see :mod:`nnguru.tuning.space`); ``time_budget``: seconds per trial's
    fit; ``callbacks``: Optuna study callbacks ``fn(study, trial)``. Other options: those of
    :func:`nnguru.train` (``epochs`` caps each trial's epochs).
    """
    from rich.console import Console

    if resume is not None:
        return _resume(resume, data, out, trials, timeout, callbacks, console, options)
    file_cfg = _read_config(config)
    search_space = search_space if search_space is not None else file_cfg.pop("search_space", None)
    if isinstance(time_budget, str):  # "10m", "90s", as --time-budget on train
        from nnguru.training.callbacks.time_budget import parse_duration

        time_budget = parse_duration(time_budget, "time_budget (--time-budget)")
    settings = {"trials": trials, "timeout": timeout, "sampler": sampler, "pruner": pruner, "storage": storage,
                "study_name": study_name, "time_budget": time_budget}
    settings.update({k: v for k, v in file_cfg.items() if k in TUNE_KEYS and settings.get(k) is None})
    settings.update({k: v for k, v in SETTING_DEFAULTS.items() if settings.get(k) is None})
    check_settings(settings)
    S.check_overrides(search_space)  # before the data is read
    cfg = _resolve(file_cfg, data, target, task, options)
    console = console or Console(quiet=cfg["verbose"] == 0)
    source = data if data is not None else cfg["data"]
    from nnguru import pipeline

    pipeline.check_names(cfg)
    ds = _load(source, cfg)
    final = rundir.check_run_dir(out, pipeline._safe_name(ds.name), overwrite)
    marker = {**cfg, "tune": {**settings, "search_space": search_space}}
    chosen, p = _prepare(ds, cfg, console)
    family = S.family_for(tuple(p.pre.input_shape))
    space = S.parse_space(family, search_space, cpu=_on_cpu(chosen.cfg))
    rd = rundir.begin(final, overwrite, options=marker, fingerprint={"data": rundir.fingerprint_data(source)})
    console.print(f"Writing the search to {rd.path} (renamed to {final} when it succeeds; if interrupted, "
                  f"continue it with `nnguru tune --resume {final}`).", highlight=False)
    return _search_and_commit(rd, chosen, p, family, space, settings, callbacks, console)


def _resume(resume, data, out, trials, timeout, callbacks, console, options: dict):
    """Continue an interrupted search: same data (checked) and options; ``trials``/``timeout`` may grow."""
    from rich.console import Console

    final, part = rundir.find_resumable(resume)
    marker = rundir.read_marker(part) or {}
    stored = dict(marker.get("options") or {})
    if "tune" not in stored:
        raise NNGuruError(f"--resume {str(resume)!r} is an interrupted `nnguru train` run, not a search; continue "
                          f"it with `nnguru train --resume {final}`.")
    if out is not None and Path(out) != final:
        raise NNGuruError(f"--out {str(out)!r} differs from the search being resumed ({str(final)!r}); leave --out "
                          "out when resuming.")
    given = sorted(k for k, v in options.items() if v is not None and k != "verbose")
    if given:
        raise NNGuruError(f"--resume {str(resume)!r}: a resumed search keeps its options; received {given}. Leave "
                          "them out (only --trials and --timeout may change), or start a new search.")
    settings = dict(stored.pop("tune"))
    search_space = settings.pop("search_space", None)
    if trials is not None:
        settings["trials"] = trials
    if timeout is not None:
        settings["timeout"] = timeout
    check_settings(settings)
    cfg = {**stored, **({"verbose": options["verbose"]} if options.get("verbose") is not None else {})}
    source = data if data is not None else cfg.get("data")
    if source is None or rundir.fingerprint_data(source) != (marker.get("fingerprint") or {}).get("data"):
        from nnguru.pipeline import describe_source

        raise NNGuruError(f"--resume {str(resume)!r}: the data {describe_source(source)} is missing or changed "
                          "since the search began (its fingerprint differs). Pass the original data again.")
    console = console or Console(quiet=cfg.get("verbose") == 0)
    rd = rundir.take_over(final, part)
    try:
        chosen, p = _prepare(_load(source, cfg), cfg, console)
        family = S.family_for(tuple(p.pre.input_shape))
        space = S.parse_space(family, search_space, cpu=_on_cpu(chosen.cfg))
        console.print(f"Resuming the search into {final}.", highlight=False)
    except BaseException:
        rd.release()
        raise
    return _search_and_commit(rd, chosen, p, family, space, settings, callbacks, console)


def _search_and_commit(rd, chosen, p, family, space, settings: dict, callbacks, console):
    """Search, retrain the best into the partial folder, commit; the lock is released on failure
    so the partial stays for ``--resume``."""
    from nnguru import pipeline

    try:
        pipeline.write_prepared(chosen, p, rd.path)
        rd.stage_done("prepare")
        study = _search(rd.path, chosen, p, family, space, settings, callbacks, console)
        rd.stage_done("search")
        result = _retrain(rd, chosen, p, family, space, study, settings, console)
    except BaseException:
        rd.release()
        raise
    return pipeline._commit(result, rd)


# ---- settings and data -------------------------------------------------------------------------
def check_settings(settings: dict) -> None:
    """``--trials 0``, ``--timeout 0``, an unknown sampler or pruner: refused before any work."""
    trials = settings.get("trials")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise NNGuruError(f"trials (--trials) must be a whole number >= 1; received {describe(trials)}. "
                          "E.g. --trials 20.")
    for key in ("timeout", "time_budget"):
        value = settings.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or value <= 0):
            flag = "--timeout" if key == "timeout" else "--time-budget"
            raise NNGuruError(f"{key} ({flag}) must be a number of seconds > 0; received {describe(value)}. "
                              f"E.g. {flag} 600, or leave it out for no limit.")
    for key, valid in (("sampler", SAMPLERS), ("pruner", PRUNERS)):
        if settings.get(key) not in valid:
            raise NNGuruError(f"{key} (--{key}) must be one of {', '.join(valid)}; received "
                              f"{describe(settings.get(key))}.")
    if settings.get("storage") is not None and not isinstance(settings["storage"], str):
        raise NNGuruError(f"storage (--storage) must be a database URL such as sqlite:///study.db; received "
                          f"{describe(settings['storage'])}.")


def _read_config(config: dict | str | Path | None) -> dict:
    if config is None:
        return {}
    if isinstance(config, (str, Path)):
        try:
            config = yaml.safe_load(Path(config).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise NNGuruError(f"Could not read the config file {str(config)!r}: {exc}") from None
    if not isinstance(config, dict):
        raise NNGuruError(f"The config must be a mapping of option: value; received {describe(config)}.")
    return dict(config)


def _resolve(file_cfg: dict, data, target, task, options: dict) -> dict:
    from nnguru.config import resolve_config

    train_cfg = {k: v for k, v in file_cfg.items() if k not in TUNE_KEYS}
    cfg = resolve_config(train_cfg, data=data if isinstance(data, (str, Path)) else None, target=target,
                         task=task, **options)
    if cfg["val_frac"] == 0:
        raise NNGuruError("val_frac (--val-frac) is 0, but a search scores each trial on the validation split. "
                          "Use e.g. --val-frac 0.15.")
    if cfg["auto_fix"] or cfg["stream"] is True:
        raise NNGuruError("--auto-fix and --stream are training options that `nnguru tune` does not take; leave "
                          "them out (the search itself is the fix, and it needs the data in memory).")
    return cfg


def _load(source: Any, cfg: dict):
    import nnguru
    from nnguru import pipeline

    nnguru.set_seed(int(cfg["seed"]))
    return pipeline.load(source, cfg)


def _on_cpu(cfg: dict) -> bool:
    """Whether the trials train on a CPU (the CNN family then searches narrower ranges)."""
    from nnguru.pipeline import _device

    return _device(str(cfg.get("device") or "auto")).type == "cpu"


def _prepare(ds, cfg: dict, console):
    """The pipeline's choose-task and prepare stages: cleaned, split, preprocessed once."""
    from nnguru import pipeline

    chosen = pipeline.choose_task(ds, cfg, console)
    return chosen, chosen.prepare(ds, console)


# ---- the search ---------------------------------------------------------------------------------
def _search(run_dir: Path, chosen, p, family, space: dict, settings: dict, callbacks, console):
    import optuna
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = settings.get("storage") or f"sqlite:///{(run_dir / STUDY_DB).resolve()}"
    name = settings.get("study_name") or "nnguru-tune"
    seed = int(chosen.cfg["seed"])
    study = optuna.create_study(storage=url, study_name=name, direction="minimize", load_if_exists=True)
    done = _finished(study)
    study.sampler = _sampler(settings["sampler"], seed + len(study.trials), int(settings["trials"]))
    epochs, patience, _, run_budget = _plan(chosen.cfg, p)
    study.pruner = _pruner(settings["pruner"], epochs)
    if not settings.get("storage"):  # our own study: a trial still "running" died with its process (killed)
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    if not study.trials:  # trial 0: what `nnguru train` would do
        study.enqueue_trial(S.default_params(family, p.pre.input_shape, len(p.x["train"]), space),
                            user_attrs={"default": True})
    total = int(settings["trials"])
    per_trial = settings.get("time_budget") or run_budget
    clock = SearchClock(settings.get("timeout"), per_trial,
                        share=1.0 if settings["pruner"] == "none" else PRUNED_SHARE)
    console.rule(f"[bold]3. Search[/] · {total} trials ({done} done) · {settings['sampler']} sampler, "
                 f"{settings['pruner']} pruner · objective: validation loss"
                 + (f" · within {settings['timeout']:g} s" if settings.get("timeout") else ""))
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                        TimeElapsedColumn(), console=console, transient=False)

    def show(study, trial) -> None:
        best = _best_value(study)
        progress.update(bar, completed=_finished(study), description="trials · best val_loss "
                        + ("-" if best is None else f"{best:.4f}"))

    def in_time(study, trial) -> None:  # stop starting trials when the rest cannot fit one
        if trial.duration is not None:
            clock.record(trial.duration.total_seconds())
        if not clock.fits():
            study.stop()

    objective = _objective(chosen, p, family, space, (epochs, patience),
                           lambda: clock.budget(total - _finished(study)), seed)
    stop = optuna.study.MaxTrialsCallback(total, states=(optuna.trial.TrialState.COMPLETE,
                                                         optuna.trial.TrialState.PRUNED))
    t0 = time.perf_counter()
    with progress:
        bar = progress.add_task("trials", total=total, completed=done)
        show(study, None)
        if done < total:
            study.optimize(objective, n_trials=total - done, timeout=settings.get("timeout"),
                           callbacks=[stop, in_time, show, *(callbacks or [])], catch=(NNGuruError,))
    settings = {**settings, "search_seconds": round(time.perf_counter() - t0, 1)}
    if _best_value(study) is None:
        raise NNGuruError("No trial finished with a finite validation loss (all were pruned or failed). Widen "
                          "the time limits (--timeout, --trials) or narrow the search space.")
    _write_study(run_dir, study, space, settings, family)
    return study


def _finished(study) -> int:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _best_value(study) -> float | None:
    import optuna

    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return min((t.value for t in done), default=None)


def _sampler(name: str, seed: int, trials: int):
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # TPE models the good and the bad trials once it has a few random ones; with a small budget, 5
    # random starts leave most trials guided (Optuna's default of 10 would spend half of 20).
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5 if trials <= 40 else 10)


def _pruner(name: str, epochs: int):
    import optuna

    if name == "median":  # after 5 trials, stop one whose best val loss is behind the median at that epoch
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
    if name == "halving":  # successive halving: keep the best third at epochs 5, 15, 45, ...
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=5, reduction_factor=3)
    if name == "hyperband":  # several halving brackets, from aggressive to none, up to the epoch cap
        return optuna.pruners.HyperbandPruner(min_resource=5, max_resource=max(epochs, 6), reduction_factor=3)
    return optuna.pruners.NopPruner()


def full_params(family, p, space: dict, params: dict) -> dict:
    """The searched values over the template's own values (for parameters left out of the space)."""
    base = {"optimizer": "adam", **family.defaults(tuple(p.pre.input_shape), len(p.x["train"]))}
    return {**base, **params}


def build_model(chosen, p, family, params: dict):
    """A compiled model for ``params``: the family's builder, the task's head, the optimizer with
    the searched lr and weight decay; placed on the run's device as ``nnguru train`` does."""
    from nnguru import pipeline

    recipe = _recipe(chosen, p, family)
    model = family.build(params, tuple(p.pre.input_shape), chosen.head(p.n_out, p.y["train"]), recipe)
    opt = {"name": params["optimizer"], **{k: float(params[k]) for k in ("lr", "weight_decay") if k in params}}
    if recipe and params["optimizer"] == "adam":  # the table recipe's Adam, as nnguru train compiles it
        opt["beta_2"] = float(recipe["beta_2"])
    model.compile(optimizer=opt, loss=chosen.loss_spec(recipe), metrics=list(chosen.history_metrics))
    model = pipeline.make_model(chosen, p, model)
    model.table_recipe = recipe
    return model


def _recipe(chosen, p, family) -> dict:
    """The table recipe (config.TABLE_DEFAULTS) where nnguru train applies it: an mlp on a table."""
    from nnguru.config import table_options

    return table_options(chosen.cfg) if p.pre.kind == "table" and family.name == "mlp" else {}


def trial_config(cfg: dict, params: dict, family) -> dict:
    """The run's options with a trial's values: what the trial trains with and what the retrained best
    runs (and its config.yaml) with. The family's template decay (the cnn's, over the time budget) is
    named for every optimizer a trial draws, where ``nnguru train`` keeps a user's own optimizer at a
    constant rate: all trials are scored under one recipe, and the best retrains as its trial trained."""
    from nnguru.nn.templates import LR_DECAY

    out = {**cfg, "batch_size": _batch(params, cfg) or "auto", "dropout": float(params["dropout"]),
           "optimizer": {"name": params["optimizer"], **({"weight_decay": float(params["weight_decay"])}
                                                        if "weight_decay" in params else {})},
           "lr": float(params["lr"]) if "lr" in params else None}
    decay = cfg.get("lr_decay") or LR_DECAY.get(family.name)
    if decay:
        out["lr_decay"] = decay
    return out


def _plan(cfg: dict, p) -> tuple[int, int, bool, float | None]:
    """``nnguru train``'s epochs, patience, early stopping and time budget for this data."""
    from nnguru.pipeline import training_plan

    return training_plan(cfg, len(p.x["train"]), len(p.x["val"]))


def _objective(chosen, p, family, space: dict, plan: tuple[int, int], budget, seed: int):
    """Build, fit (early stopping, pruning, ``budget()`` seconds) and score one trial on validation."""
    import optuna

    import nnguru
    from nnguru import pipeline
    from nnguru.callbacks import EarlyStopping

    cfg = chosen.cfg
    epochs, patience = plan
    class_weight = chosen.class_weight(p.y["train"], p.n_out, counts=p.context.get("train_class_counts"))

    def objective(trial) -> float:
        seconds = budget()  # the trial's share, from when it starts
        params = full_params(family, p, space, S.suggest(trial, space))
        nnguru.set_seed(seed)  # every trial starts from the same seed: differences come from the params
        model = build_model(chosen, p, family, params)
        run = trial_config(cfg, params, family)
        timer = _budget(seconds)
        # as in nnguru train: under a budget decay early stopping only keeps the best epoch (the rate
        # reaches 0 at the budget); the pruner still stops the trials that fall behind
        stopping = pipeline.stops_early(run, model, True, seconds)
        early = EarlyStopping(monitor="val_loss", patience=patience if stopping else epochs, restore_best_weights=True)
        prune = PruneOnValLoss(trial)
        if seconds is not None:
            trial.set_user_attr("time_budget", round(seconds, 1))
        t0 = time.perf_counter()
        schedule = pipeline._schedule(run, model, epochs, timer[0] if timer else None)
        history = model.fit(p.x["train"], p.y["train"], epochs=epochs, batch_size=_batch(params, cfg),
                            validation_data=(p.x["val"], p.y["val"]), callbacks=[*schedule, early, prune, *timer],
                            class_weight=class_weight, verbose=0)
        logs = history.logs
        trial.set_user_attr("seconds", round(time.perf_counter() - t0, 3))
        trial.set_user_attr("epochs_run", len(logs.get("loss", [])))
        if timer and timer[0].reached:
            trial.set_user_attr("budget_reached", True)
        val = [v for v in logs.get(OBJECTIVE, []) if v == v and math.isfinite(v)]
        if val:  # the task's history metrics at the best epoch (val_accuracy, val_mae, ...)
            best = int(np.nanargmin(np.where(np.isfinite(logs[OBJECTIVE]), logs[OBJECTIVE], np.inf)))
            for key in (k for k in logs if k.startswith("val_") and k != OBJECTIVE):
                trial.set_user_attr(key, float(logs[key][best]))
        if prune.pruned_at is not None:
            raise optuna.TrialPruned(f"behind the other trials at epoch {prune.pruned_at}")
        if not val:
            trial.set_user_attr("stop_reason", str(model.stop_reason))
            raise optuna.TrialPruned(f"no finite validation loss ({model.stop_reason})")
        return min(val)

    return objective


def _batch(params: dict, cfg: dict) -> int | None:
    """The trial's batch size: searched, else the run's (None: "auto", the optimizer's own)."""
    value = params.get("batch_size", cfg["batch_size"])
    return None if value == "auto" else int(value)


def _budget(time_budget: float | None) -> list:
    """The per-trial time budget: the training loop's TimeBudget callback (``--time-budget`` on train);
    the trial's early stopping restores the best weights, so the budget keeps no second copy."""
    if time_budget is None:
        return []
    from nnguru.callbacks import TimeBudget

    return [TimeBudget(time_budget, restore_best_weights=False)]


# ---- what the study leaves in the run directory --------------------------------------------------
def trials_frame(study) -> pd.DataFrame:
    """One row per trial: number, state, value, the parameters, seconds, epochs, validation metrics."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        rows.append({"number": t.number, "state": t.state.name.lower(), OBJECTIVE: t.value,
                     **{f"param_{k}": v for k, v in t.params.items()},
                     **{k: v for k, v in t.user_attrs.items() if k != "default"},
                     "default": bool(t.user_attrs.get("default", False))})
    return pd.DataFrame(rows)


def _write_study(run_dir: Path, study, space: dict, settings: dict, family) -> dict:
    import optuna

    frame = trials_frame(study)
    frame.to_csv(run_dir / TRIALS_CSV, index=False)
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best = min(complete, key=lambda t: t.value)
    default = next((t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("default")), None)
    try:  # fANOVA over the finished trials; needs a few with different values
        importances = optuna.importance.get_param_importances(study) if len(complete) >= 3 else {}
    except (RuntimeError, ValueError):
        importances = {}
    history, running = [], math.inf
    for t in sorted(complete, key=lambda t: t.number):
        running = min(running, t.value)
        history.append({"number": t.number, "value": t.value, "best": running})
    summary = {
        "objective": OBJECTIVE, "direction": "minimize", "family": family.name,
        "sampler": settings["sampler"], "pruner": settings["pruner"], "trials_requested": int(settings["trials"]),
        "counts": {s: int((frame["state"] == s).sum()) for s in sorted(set(frame["state"]))},
        "best": {"number": best.number, "value": best.value, "params": best.params,
                 **{k: v for k, v in best.user_attrs.items() if k != "default"}},
        "default": None if default is None or default.value is None else
        {"number": default.number, "value": default.value, "params": default.params,
         **{k: v for k, v in default.user_attrs.items() if k != "default"}},
        "importances": {k: float(v) for k, v in importances.items()},
        "history": history, "search_space": S.describe_space(space),
        "storage": "study.db" if not settings.get("storage") else "external (--storage)",
        "timeout": settings.get("timeout"), "search_seconds": settings.get("search_seconds"),
        "study_name": study.study_name,
    }
    rundir.write_json(run_dir / TUNE_JSON, summary)
    return summary


def _retrain(rd, chosen, p, family, space: dict, study, settings: dict, console):
    """The best configuration through the pipeline's build, fit, evaluate, diagnose and write stages:
    the test split is touched here, once."""
    import json

    import nnguru
    from nnguru import pipeline

    best = study.best_trial
    params = full_params(family, p, space, best.params)
    cfg = chosen.cfg
    cfg.update(trial_config(cfg, params, family))
    if settings.get("time_budget"):  # the trials' --time-budget holds for the retrain too
        cfg["time_budget"] = float(settings["time_budget"])
    console.rule(f"[bold]Best trial {best.number}[/] · val_loss {best.value:.4f} · retrained, then tested once")
    nnguru.set_seed(int(cfg["seed"]))
    model = pipeline.build(chosen, p, rd.path, console, build_model(chosen, p, family, params))
    rd.stage_done("build")
    fitted = pipeline.fit(chosen, model, p, rd.path, console)
    rd.stage_done("fit")
    ev = pipeline.evaluate(chosen, model, p, fitted, rd.path, console)
    rd.stage_done("evaluate")
    findings = pipeline.diagnose(chosen, model, p, fitted, ev, rd.path, console)
    rd.stage_done("diagnose")
    result = pipeline.write(chosen, model, p, fitted, ev, findings, rd.path, console)
    rd.stage_done("write")
    result.extras["tune"] = json.loads((rd.path / TUNE_JSON).read_text())
    return result
