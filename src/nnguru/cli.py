"""The ``nnguru`` command: demo | inspect | train | tune | evaluate | predict | report | lr-find | export |
estimate | similar.

Every user error is an ``NNGuruError``: printed as one paragraph (what, where, how to fix) with
exit code 2 and no traceback; ``--debug`` shows tracebacks. Nothing the user had is overwritten
without ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

from nnguru import clock
from nnguru.errors import NNGuruError

EXIT_USAGE = 2


def _source_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading the data")
    g.add_argument("--sep", help="column delimiter, e.g. ',' ';' '\\t' or 'whitespace' (default: detected)")
    g.add_argument("--no-header", dest="header", action="store_const", const=False, default=None,
                   help="the table has no header row (columns become c0, c1, ...)")
    g.add_argument("--header", dest="header", action="store_const", const=True,
                   help="the first row is a header (default: detected)")
    g.add_argument("--columns", type=lambda s: [c.strip() for c in s.split(",")],
                   help="comma-separated column names for a table without a header")
    g.add_argument("--label-from-name", metavar="REGEX",
                   help="take the label from each file name: group 1 of REGEX, e.g. '^(\\d+)_'")
    g.add_argument("--column-type", dest="column_types", action="append", metavar="COL=TYPE", type=_column_type,
                   help="override an inferred column type (numeric, categorical, text, datetime, path, "
                   "identifier, ignore: nnguru.data.columns.USER_TYPES); repeatable")
    g.add_argument("--allow-outside-paths", action="store_const", const=True, default=None,
                   help="read files a path column or folder names outside the data's folder "
                   "(symlinks out, ../, absolute paths); only for data you trust")


def _column_type(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected COLUMN=TYPE, e.g. Pclass=categorical; received {text!r}")
    column, kind = text.split("=", 1)
    return column.strip(), kind.strip()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _bool_flag(p, name: str, help_text: str) -> None:
    p.add_argument(f"--{name}", dest=name.replace("-", "_"), action=argparse.BooleanOptionalAction,
                   default=None, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnguru", description="Train neural networks on your own data the way an expert would, "
        "and explain what happened.")
    from nnguru import __version__

    parser.add_argument("--version", action="version", version=f"nnguru {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="train on scikit-learn's 8x8 digits offline, explaining each step")
    p.add_argument("--out", help="run directory (default: runs/digits, runs/digits-2, ...)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--epochs", type=int, help="epochs (default 40, with early stopping)")
    _common(p)

    p = sub.add_parser("inspect", help="data-quality report of DATA, without training")
    p.add_argument("data", help="CSV/TSV/Parquet file, folder of images/audio, MNIST folder or builtin:NAME")
    p.add_argument("--target", help="target column: a name or a position (-1 = last)")
    p.add_argument("--missing", choices=["fill", "drop"], default="fill")
    p.add_argument("--out", help="write the report as JSON here (default: print only)")
    _source_options(p)
    _common(p)

    p = sub.add_parser("train", help="clean, split, train, evaluate, diagnose and report")
    p.add_argument("data", nargs="?",
                   help="CSV/TSV/Parquet file, folder of images/audio, MNIST folder or builtin:NAME "
                        "(optional with --resume)")
    p.add_argument("--target", help="target column: a name or a position (-1 = last)")
    p.add_argument("--task", help="classification, regression, forecast or auto (default: from the data)")
    p.add_argument("--model", help="model template: auto, mlp, cnn, rnn or conv1d")
    p.add_argument("--optimizer", help="adam, sgd, momentum, adamw, rmsprop, adagrad, gd, lbfgs, "
                   "random-search, hessian-free")
    p.add_argument("--lr", type=float, help="learning rate (default: the optimizer's)")
    p.add_argument("--epochs", type=int, help="epochs (default: from the data size)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--val-frac", type=float)
    p.add_argument("--test-frac", type=float)
    _bool_flag(p, "early-stopping", "stop when validation loss stops improving, keep the best weights")
    p.add_argument("--patience", type=int, help="epochs without improvement before stopping")
    p.add_argument("--time-budget", metavar="DURATION",
                   help="stop training after this long, keeping the best weights: 90s, 10m, 1h or seconds "
                   "(default: 90s when --epochs is not given; none: no limit)")
    p.add_argument("--class-weight", choices=["balanced"], help="weight classes inversely to frequency")
    p.add_argument("--dropout", type=float, help="dropout rate of the template model")
    p.add_argument("--augment", choices=("none", "shift", "flip"),
                   help="image augmentation in training: shift (default), flip (shifts + horizontal "
                        "flips, for photos; never for digits or text) or none")
    p.add_argument("--missing", choices=["fill", "drop"], help="fill missing values or drop the rows")
    p.add_argument("--zeros-as-missing", dest="placeholder_zeros", action="store_const", const="missing",
                   help="treat flagged placeholder zeros (zero where it is implausible) as missing values")
    _bool_flag(p, "drop-outliers", "drop rows flagged as outliers (default: flag only)")
    p.add_argument("--positive", help="binary tasks: the positive class (default: the minority class)")
    p.add_argument("--threshold", help="binary decision threshold: 'auto' (best F1 on validation) or a number")
    g = p.add_argument_group("forecasting (--task forecast)")
    g.add_argument("--time", help="the time column (default: the one column of dates; none: the row order)")
    g.add_argument("--series-id", help="the column naming each series when the file holds several")
    g.add_argument("--horizon", type=int, help="steps ahead to forecast from each origin (default 1)")
    g.add_argument("--window", type=int, help="past steps the model sees (default: at least two seasons)")
    g.add_argument("--season", type=int, help="season length in steps (default: from the autocorrelation)")
    g.add_argument("--transform", choices=["none", "log"], help="value transform (default: chosen on validation)")
    g.add_argument("--test-steps", type=int,
                   help="length of the test span (default: --test-frac of the series, at least 3 horizons)")
    g = p.add_argument_group("without labels (--task anomaly | cluster; --target only evaluates)")
    g.add_argument("--normal", help="anomaly: train on the rows with this label (default: every row)")
    g.add_argument("--contamination", type=float,
                   help="anomaly: share of rows to flag, in (0, 0.5) (default: above the 99th percentile of "
                        "normal validation scores)")
    g.add_argument("--clusters", type=int, help="cluster: number of clusters (default: best silhouette over 2..10)")
    _bool_flag(p, "auto-fix", "apply the guru's advice and retrain, in rounds; keep the best round on validation")
    p.add_argument("--auto-fix-rounds", type=int, help="rounds of diagnose -> remedy -> retrain (default 3)")
    p.add_argument("--auto-fix-only", help="finding codes allowed to act, comma-separated (default: all)")
    _bool_flag(p, "tensorboard", "also write TensorBoard event files (needs tensorboard)")
    _bool_flag(p, "stream", "read a CSV/Parquet table in chunks (data larger than memory; default: "
               "files over min(1 GiB, available memory / 8))")
    p.add_argument("--stream-threshold-mb", type=float, help="stream tables larger than this many MB")
    p.add_argument("--shuffle-buffer", type=int, help="rows mixed across chunks when streaming (default 65536)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1, ...")
    g = p.add_argument_group("several processes or machines (torchrun, DistributedDataParallel)")
    g.add_argument("--devices", type=int, metavar="N",
                   help="processes per machine: N CPU processes (gloo) or N GPUs (nccl); --batch-size stays "
                   "the global batch. Starts torchrun; 1 (the default) is a normal run")
    g.add_argument("--nnodes", type=int, default=1, metavar="M",
                   help="machines taking part; run the same command on each (needs --rdzv-endpoint)")
    g.add_argument("--rdzv-endpoint", metavar="HOST:PORT", help="rendezvous address every machine reaches")
    g.add_argument("--node-rank", type=int, metavar="K",
                   help="this machine's number 0..M-1 (a fixed numbering; without it torchrun numbers them)")
    g.add_argument("--torchrun-args", metavar="ARGS", type=shlex.split, default=[],
                   help="more torchrun options, quoted: e.g. \"--max-restarts 2 --rdzv-conf timeout=900\"")
    p.add_argument("--config", help="YAML file of options (flags win)")
    p.add_argument("--out", help="run directory (default: runs/<data name>)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run directory (only one nnguru wrote; after the new run succeeds)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run into RUN_DIR with its original options")
    p.add_argument("--checkpoint-every", type=int, metavar="N",
                   help="back up the training state every N steps too (default: at each epoch's end)")
    _bool_flag(p, "monitor", "sample gradients, activations and updates inside the network (default: on)")
    p.add_argument("--monitor-every", metavar="N", help="steps between monitor samples (default: auto, "
                   "within a 3%% time budget)")
    g = p.add_argument_group("transfer learning (nnguru.transfer)")
    g.add_argument("--from", dest="base", metavar="RUN_DIR",
                   help="start from a trained run (or model folder / checkpoint): its layers up to the head, "
                   "its preprocessing, a new head for this data")
    g.add_argument("--freeze-epochs", type=int, metavar="N",
                   help="with --from: most epochs training the new head alone before unfreezing (default 20, "
                   "stopped early on val_loss)")
    g.add_argument("--l2sp", type=float, metavar="FACTOR",
                   help="with --from: L2-SP, FACTOR x the squared distance of the reused weights from the base's "
                   "joins the loss (default none)")
    _source_options(p)
    _common(p)

    p = sub.add_parser("tune", help="search hyperparameters on validation (Optuna), retrain the best, test it once")
    p.add_argument("data", nargs="?", help="as for train (optional with --resume)")
    p.add_argument("--target", help="target column: a name or a position (-1 = last)")
    p.add_argument("--task", help="classification, regression, forecast or auto (default: from the data)")
    p.add_argument("--trials", type=int, help="finished trials the study should hold (default 20)")
    p.add_argument("--timeout", type=float, metavar="S", help="stop starting trials after S seconds")
    p.add_argument("--time-budget", metavar="DURATION", help="each trial's training time, e.g. 30s or 2m")
    p.add_argument("--sampler", help="tpe (default) or random")
    p.add_argument("--pruner", help="median (default), halving, hyperband or none: stop trials behind the others")
    p.add_argument("--storage", metavar="URL", help="Optuna storage shared by several processes, e.g. "
                   "sqlite:///study.db or postgresql://... (default: study.db in the run directory)")
    p.add_argument("--study-name", help="the study's name in --storage (default nnguru-tune)")
    p.add_argument("--epochs", type=int, help="most epochs per trial (default: from the data size)")
    p.add_argument("--patience", type=int, help="early stopping's patience in each trial")
    p.add_argument("--seed", type=int)
    p.add_argument("--val-frac", type=float)
    p.add_argument("--test-frac", type=float)
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--config", help="YAML file of train options, tune options and search_space: (flags win)")
    p.add_argument("--out", help="run directory of the retrained best (default: runs/<data name>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory nnguru wrote")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted search (trial numbers carry on)")
    _source_options(p)
    _common(p)

    p = sub.add_parser("evaluate", help="score a saved run on new labeled data")
    p.add_argument("run_dir")
    p.add_argument("data")
    p.add_argument("--out", help="write {'test': {...}} as JSON here")
    p.add_argument("--overwrite", action="store_true")
    _source_options(p)
    _common(p)

    p = sub.add_parser("predict", help="apply a saved run's preprocessing and model to raw data")
    p.add_argument("run_dir")
    p.add_argument("data")
    p.add_argument("--out", required=True, help="CSV of predictions")
    p.add_argument("--horizon", type=int, help="forecasting runs: steps to forecast past the end of each series "
                   "(default: the trained horizon; beyond it, forecasts are fed back recursively)")
    p.add_argument("--overwrite", action="store_true")
    _source_options(p)
    _common(p)

    p = sub.add_parser("similar", help="the training items nearest to QUERY (rows, a file or a folder)")
    p.add_argument("run_dir")
    p.add_argument("query", help="a table of rows, an image/audio file, or a folder of them")
    p.add_argument("--k", type=int, default=5, help="neighbours per query item (default 5)")
    p.add_argument("--out", help="CSV of query, rank, item, distance[, label] (default: print it)")
    p.add_argument("--overwrite", action="store_true")
    _source_options(p)
    _common(p)

    p = sub.add_parser("report", help="rebuild RUN_DIR/report.html from the run's files")
    p.add_argument("run_dir")
    _common(p)

    p = sub.add_parser("export", help="write a run's model as ONNX (or a torch.export .pt2), checked on its test split")
    p.add_argument("run_dir")
    p.add_argument("--format", default="onnx", help="onnx (the default) or pt2 (torch.export)")
    p.add_argument("--out", help="the file to write (default: RUN_DIR/model.onnx)")
    p.add_argument("--overwrite", action="store_true")
    _common(p)

    p = sub.add_parser("estimate", help="predict training time, peak memory and cost on DATA, timing a few "
                       "real training steps on this device")
    p.add_argument("data", help="what nnguru train takes: a file, a folder or builtin:NAME")
    p.add_argument("--target", help="target column: a name or a position (-1 = last)")
    p.add_argument("--task", help="classification, regression, forecast or auto (default: from the data)")
    p.add_argument("--model", help="model template: auto, mlp, cnn, rnn or conv1d")
    p.add_argument("--epochs", help="epochs (default: from the data size, with early stopping)")
    p.add_argument("--batch-size")
    p.add_argument("--time-budget", metavar="DURATION", help="as for train (default: 90s without --epochs)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--price-per-hour", metavar="P", help="the machine's price per hour, for the cost")
    p.add_argument("--out", default="estimate.json", help="write the estimate here (default: estimate.json)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    _source_options(p)
    _common(p)

    p = sub.add_parser("lr-find", help="learning-rate range test on DATA with the default model")
    p.add_argument("data")
    p.add_argument("--target")
    p.add_argument("--task", help="classification, regression, forecast or auto (default: from the data)")
    p.add_argument("--model", help="model template: auto, mlp, cnn, rnn or conv1d")
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--out", help="write the plot (PNG) here")
    _source_options(p)
    _common(p)
    return parser


def _refuse_existing(path: str | None, overwrite: bool) -> None:
    if path and Path(path).exists() and not overwrite:
        raise NNGuruError(f"{path!r} already exists. Pass --overwrite to replace it, or choose another --out.")


def _console(args):
    from rich.console import Console

    return Console(quiet=getattr(args, "quiet", False))


def _source_kwargs(args) -> dict:
    return {"sep": args.sep, "header": args.header, "columns": args.columns,
            "label_from_name": args.label_from_name, "allow_outside_paths": args.allow_outside_paths,
            "column_types": dict(args.column_types) if args.column_types else None}


def cmd_demo(args) -> int:
    from nnguru import api

    console = _console(args)
    console.print(
        "[bold]nnguru demo[/] — the tutorial's workflow on scikit-learn's 8x8 handwritten digits "
        "(1,797 images, 10 classes), offline.\nWe will: look at the data and clean it; split it "
        "70/15/15 into train / validation / test; scale pixels using the training part only; build "
        "an MLP (Flatten -> Dense+ReLU -> Dropout -> Dense -> softmax); train with Adam, watching "
        "validation loss and stopping early; score the untouched test set next to a trivial "
        "baseline; and let the guru read the curves.\n")
    run = api.train("builtin:digits", out=args.out, overwrite=args.overwrite, model="mlp",
                    epochs=40 if args.epochs is None else args.epochs, console=console,
                    verbose=0 if args.quiet else "auto")
    test = run.metrics["test"]
    console.print(
        f"\n[bold]Result[/]: test accuracy {test['accuracy']:.3f}, precision {test['precision']:.3f}, "
        f"recall {test['recall']:.3f} (macro) — the majority-class baseline scores "
        f"{run.metrics['baseline']['accuracy']:.3f}.\nCurves: {run.run_dir / 'history.png'}\n"
        f"Report: {run.report_path}\nModel:  {run.run_dir / 'model'} (load with nnguru.load_model)\n"
        f"Next: nnguru train YOUR.csv --target COLUMN")
    return 0


def cmd_inspect(args) -> int:
    from nnguru.data.inspect import inspect_data, print_data_report

    report = inspect_data(args.data, target=args.target, missing=args.missing, **_source_kwargs(args))
    print_data_report(report, _console(args))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, default=str))
    return 0


TRAIN_KEYS = ("task", "model", "optimizer", "lr", "epochs", "batch_size", "seed", "val_frac", "test_frac",
              "early_stopping", "patience", "time_budget", "class_weight", "dropout", "augment", "missing",
              "drop_outliers",
              "positive", "threshold", "auto_fix", "tensorboard", "device", "placeholder_zeros", "time",
              "auto_fix_rounds", "auto_fix_only",
              "series_id", "horizon", "window", "season", "transform", "test_steps", "checkpoint_every", "stream",
              "stream_threshold_mb", "shuffle_buffer", "normal", "contamination", "clusters")
TRAIN_KEYS += ("monitor", "monitor_every")  # the network monitor (training/monitor.py)
TRAIN_KEYS += ("base", "freeze_epochs", "l2sp")  # transfer learning (nnguru.transfer)


@clock.process_command  # the automatic budget counts from the process's start (nnguru.clock)
def cmd_estimate(args) -> int:
    from nnguru import estimate

    _refuse_existing(args.out, args.overwrite)
    options = {k: getattr(args, k) for k in ("task", "model", "epochs", "batch_size", "time_budget", "device")
               if getattr(args, k) is not None}
    options.update({k: v for k, v in _source_kwargs(args).items() if v is not None})
    target = int(args.target) if args.target is not None and args.target.lstrip("-").isdigit() else args.target
    est = estimate.estimate(args.data, target=target, price_per_hour=args.price_per_hour, **options)
    console = _console(args)
    console.print(f"Estimate for {args.data}: {est.summary()}", highlight=False)
    console.print(f"Written to {estimate.write(est, args.out)}", highlight=False)
    return 0


@clock.process_command
def cmd_train(args) -> int:
    from nnguru import api
    from nnguru.training import distributed

    options = {k: getattr(args, k) for k in TRAIN_KEYS if getattr(args, k, None) is not None}
    options.update({k: v for k, v in _source_kwargs(args).items() if v is not None})
    target = args.target
    if target is not None and target.lstrip("-").isdigit():
        target = int(target)
    if args.quiet:
        options["verbose"] = 0
    if args.data is None and args.resume is None:
        raise NNGuruError("nnguru train needs DATA (a file, a folder or builtin:NAME), or --resume RUN_DIR to "
                          "continue an interrupted run.")
    launch = distributed.from_env()
    if launch is not None or args.devices not in (None, 1) or args.nnodes != 1:
        _check_processes(args, launch, options)
        if launch is None:  # start torchrun, which runs this same command in every process
            return distributed.launch(args.argv, args.devices or 1, nnodes=args.nnodes, node_rank=args.node_rank,
                                      rdzv_endpoint=args.rdzv_endpoint, torchrun_args=args.torchrun_args,
                                      debug=args.debug)
    from nnguru.rundir import RunComplete

    try:
        with distributed.session():
            api.train(args.data, target=target, out=args.out, config=args.config, overwrite=args.overwrite,
                      console=_console(args), resume=args.resume, **options)
    except RunComplete as done:
        print(f"nnguru train: {done}")
    return 0


def _check_processes(args, launch, options: dict) -> None:
    """The options and the process count, checked before torchrun starts anything (one message)."""
    from nnguru.config import resolve_config
    from nnguru.training import distributed

    counts = (("--devices", args.devices, 1), ("--nnodes", args.nnodes, 1), ("--node-rank", args.node_rank, 0))
    for flag, value, low in counts:
        if value is not None and value < low:
            raise NNGuruError(f"{flag} must be a whole number >= {low}; received {value}. E.g. --devices 2.")
    if args.node_rank is not None and args.node_rank >= args.nnodes:
        raise NNGuruError(f"--node-rank must be below --nnodes ({args.nnodes}); received {args.node_rank}. "
                          "Number the machines 0 to nnodes-1.")
    if launch is not None and args.devices is not None and args.devices != launch.local_world_size:
        raise NNGuruError(
            f"--devices {args.devices} disagrees with torchrun's {launch.local_world_size} processes on this "
            "machine (--nproc-per-node). Leave --devices out under torchrun, or make them equal.")
    cfg = resolve_config(args.config, data=args.data, **options)
    distributed.check_devices(cfg["device"], launch.local_world_size if launch else args.devices or 1)


TUNE_KEYS = ("epochs", "patience", "seed", "val_frac", "test_frac", "device")


def cmd_tune(args) -> int:
    from nnguru import api
    from nnguru.rundir import RunComplete

    options = {k: getattr(args, k) for k in TUNE_KEYS if getattr(args, k, None) is not None}
    options.update({k: v for k, v in _source_kwargs(args).items() if v is not None})
    target = int(args.target) if args.target is not None and args.target.lstrip("-").isdigit() else args.target
    if args.quiet:
        options["verbose"] = 0
    if args.data is None and args.resume is None:
        raise NNGuruError("nnguru tune needs DATA (a file, a folder or builtin:NAME), or --resume RUN_DIR to "
                          "continue an interrupted search.")
    try:
        run = api.tune(args.data, target=target, task=args.task, out=args.out, trials=args.trials,
                       timeout=args.timeout, time_budget=args.time_budget, sampler=args.sampler,
                       pruner=args.pruner, storage=args.storage,
                       study_name=args.study_name, resume=args.resume, overwrite=args.overwrite,
                       config=args.config, console=_console(args), **options)
    except RunComplete as done:
        print(f"nnguru tune: {done}")
        return 0
    if not args.quiet:
        best = run.extras["tune"]["best"]
        print(f"Best trial {best['number']}: val_loss {best['value']:.4f} with {best['params']}; "
              f"retrained and tested in {run.run_dir}")
    return 0


def cmd_evaluate(args) -> int:
    from nnguru import api

    _refuse_existing(args.out, args.overwrite)
    result = api.evaluate_run(args.run_dir, args.data, **_source_kwargs(args))
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    if not args.quiet:
        print(text)
    return 0


def cmd_predict(args) -> int:
    from nnguru import api

    _refuse_existing(args.out, args.overwrite)
    frame = api.predict(args.run_dir, args.data, horizon=args.horizon, **_source_kwargs(args))
    frame.to_csv(args.out, index=False)
    for warning in frame.attrs.get("warnings", []):
        print(f"nnguru predict: warning: {warning}", file=sys.stderr)
    if not args.quiet:
        print(f"{len(frame)} predictions written to {args.out}")
    return 0


def cmd_similar(args) -> int:
    from nnguru.similarity import similar

    _refuse_existing(args.out, args.overwrite)
    frame = similar(args.run_dir, args.query, k=args.k, **_source_kwargs(args))
    if args.out:
        frame.to_csv(args.out, index=False)
        if not args.quiet:
            print(f"{frame['query'].nunique()} queries x {args.k} neighbours written to {args.out}")
    elif not args.quiet:
        print(frame.to_string(index=False))
    return 0


def cmd_report(args) -> int:
    from nnguru.report import write_report
    from nnguru.rundir import require_complete

    run_dir = require_complete(args.run_dir)
    if not (run_dir / "metrics.json").is_file():
        raise NNGuruError(f"{str(run_dir)!r} is not an nnguru run directory (no metrics.json).")
    path = write_report(run_dir)
    if not args.quiet:
        print(f"Report written to {path}")
    return 0


def cmd_lr_find(args) -> int:
    from nnguru import api

    result = api.lr_find(args.data, target=args.target, task=args.task, model=args.model,
                         optimizer=args.optimizer, out=args.out, **_source_kwargs(args))
    if not args.quiet:
        plot = f" (plot: {args.out})" if args.out else ""
        if result.suggestion is None:
            print("No learning rate made the training loss fall: the model learns nothing more from these "
                  f"batches at any rate tried; keep the optimizer's default{plot}.")
        else:
            print(f"Suggested learning rate: {result.suggestion:.3g}{plot}")
    return 0


def cmd_export(args) -> int:
    from nnguru.export import export_run

    info = export_run(args.run_dir, args.format, args.out, overwrite=args.overwrite, console=_console(args))
    if not args.quiet:
        pre = info["preprocessing"] or {}
        print(f"{info['format']} model written to {info['path']} ({info['exporter']} exporter, dynamic batch); "
              f"preprocessing {'folded into the graph' if pre.get('folded') else 'not in the graph'}"
              + (f", saved as {pre['file']}" if pre.get("file") else "")
              + f". Checked on the {info['checked_on']}: max abs difference {info['max_abs_diff']:.2g} "
              f"(tolerance {info['tolerance']:g}).")
    if not info["agrees"]:
        raise NNGuruError(f"The exported model differs from nnguru's predictions by {info['max_abs_diff']:.3g} "
                          f"(over the tolerance {info['tolerance']:g}); do not use {info['path']}. Report this bug.")
    return 0


COMMANDS = {"demo": cmd_demo, "inspect": cmd_inspect, "train": cmd_train, "tune": cmd_tune, "evaluate": cmd_evaluate,
            "predict": cmd_predict, "report": cmd_report, "lr-find": cmd_lr_find, "export": cmd_export,
            "estimate": cmd_estimate, "similar": cmd_similar}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # --devices N runs this same command line in every process
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        code = COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("nnguru: interrupted.", file=sys.stderr)
        code = 130
    except Exception as exc:
        from nnguru.training import distributed

        code = distributed.exit_code(exc)
        if args.debug and not isinstance(exc, distributed.PeerFailed):
            raise
        if distributed.reports(exc):  # under torchrun: one message, not one per process
            launch = distributed.from_env()
            print(_error_message(args.command, exc, launch.rank if launch else 0), file=sys.stderr)
    if "RANK" in os.environ:  # a torchrun worker
        from nnguru.training import distributed

        distributed.leave(code)
    return code


def _error_message(command: str, exc: Exception, rank: int = 0) -> str:
    where = f"nnguru {command}" + (f" (rank {rank})" if rank else "")
    if isinstance(exc, NNGuruError):
        return f"{where}: error: {exc}"
    # a bug in nnguru, not the user's fault
    return (f"{where}: internal error: {type(exc).__name__}: {exc}\nThis is a bug in nnguru; rerun with --debug "
            "for the traceback and report it.")


if __name__ == "__main__":
    sys.exit(main())
