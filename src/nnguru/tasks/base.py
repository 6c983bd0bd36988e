"""The task protocol: what the pipeline asks a task, and the defaults for row-wise tasks.

A task is a class with a few declarative attributes (its loss, metrics, split rule, headline
metric, guru rules, figures) and the methods below. The pipeline calls them in stage order:

    prepare(ds, console) -> Prepared         clean, split by the task's rule, fit preprocessing
    head(n_out, y_train) -> layers           the template's output layers
    class_weight(y_train, n_out)             per-class loss weights, if the task has classes
    evaluate(model, prepared) -> Evaluation  val/test metrics next to the task's baselines
    write_outputs(run_dir, evaluation)       the task's figures and tables
    predict_table(model, data, ...)          the columns ``nnguru predict`` writes
    score(model, ds)                         ``nnguru evaluate`` on new labeled data

``Task`` implements the row-wise defaults (one sample per row or file, the split drawn at random);
classification and regression override what differs, forecasting overrides ``prepare`` and
prediction because its samples are windows over time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from nnguru.errors import NNGuruError

# ``nnguru predict`` on files: the column naming why a row's file could not be read ("" when it was)
PREDICT_ERROR_COLUMN = "error"


@dataclass
class Prepared:
    """The prepare stage's artifact: cleaned, split and preprocessed data."""

    data_report: dict
    pre: Any  # the fitted preprocessor, saved in the bundle so predict applies the same steps
    x: dict[str, np.ndarray]  # "train" / "val" / "test" model inputs
    y: dict[str, np.ndarray]  # encoded targets
    n_out: int
    target: str | None
    context: dict = field(default_factory=dict)  # what the task's evaluate needs beyond x and y


@dataclass
class Evaluation:
    """The evaluate stage's artifact: metrics.json's content, choices made, and plot inputs."""

    metrics: dict
    choices: dict = field(default_factory=dict)  # resolved config values (positive class, threshold)
    plots: dict = field(default_factory=dict)


def item_ids(ds, index: np.ndarray) -> list:
    """How similarity search names the items ``index`` of cleaned ``ds``: their file paths, else
    their row numbers in the data as loaded (0-based; cleaning may have dropped rows)."""
    column = ds.info.get("path_column")
    if column and isinstance(ds.X, pd.DataFrame) and column in ds.X.columns:
        return ds.X[column].iloc[index].astype(str).tolist()
    rows = ds.info.get("source_rows")
    return [int(r) for r in (np.arange(len(ds)) if rows is None else np.asarray(rows))[index]]


class Task(ABC):
    """Base of every task; row-wise defaults (see the module docstring)."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    auto_rank: ClassVar[int] = 100  # ``--task auto`` asks tasks in increasing rank
    categorical_target: ClassVar[bool] = False  # targets are class labels (encoded 0..K-1)
    split_method: ClassVar[str] = "random"  # "stratified" | "random" | "chronological"
    loss: ClassVar[str] = "mse"
    history_metrics: ClassVar[tuple[str, ...]] = ()  # Keras metric names tracked per epoch
    headline: ClassVar[str] = "loss"  # the one test metric a run is judged by
    summary_metrics: ClassVar[tuple[str, ...]] = ()  # printed after training, test vs baselines
    report_cards: ClassVar[tuple[str, ...]] = ()  # the report's summary cards (two at most)
    guru_rules: ClassVar[tuple[str, ...] | None] = None  # None: every rule
    figures: ClassVar[dict[str, str]] = {}  # png file -> caption in the report
    options: ClassVar[tuple[str, ...]] = ()  # config keys only this task reads (refused for other tasks)
    streams: ClassVar[bool] = False  # tables larger than memory: prepare_stream + evaluate_stream
    needs_target: ClassVar[bool] = True  # False: learns without labels (a label column only evaluates)

    def __init__(self, cfg: dict[str, Any], hints: list[str] | None = None):
        self.cfg = cfg  # the run's resolved configuration; stages record their choices in it
        self.hints = list(hints or [])  # why another task might have been meant (warnings)
        self.base = None  # --from: the nnguru.transfer.Base whose preprocessing and layers the run reuses

    # --- choosing the task ------------------------------------------------------------------
    @classmethod
    def fits(cls, ds) -> bool:
        """True when ``--task auto`` should pick this task for ``ds``."""
        return False

    @classmethod
    def hint(cls, ds) -> str | None:
        """A warning when ``ds`` may be meant for this task although another was picked."""
        return None

    # --- prepare ----------------------------------------------------------------------------
    def prepare(self, ds, console) -> Prepared:
        """Clean (and report), split (test first, untouched), fit preprocessing on train only."""
        from nnguru.config import table_options
        from nnguru.data.clean import clean, duplicates_across
        from nnguru.data.inspect import print_data_report
        from nnguru.data.preprocess import Preprocessor
        from nnguru.data.split import MIN_CLASS_TO_SPLIT, three_way_split, train_only_classes

        cfg = self.cfg
        ds, data_report = clean(ds, missing=cfg["missing"], drop_outliers=bool(cfg["drop_outliers"]),
                                placeholder_zeros=cfg["placeholder_zeros"], task=self.name)
        console.rule(f"[bold]1. Data[/] · {ds.name} · {self.name}")
        print_data_report(data_report, console)

        stratify = ds.y if self.split_method == "stratified" else None
        train_i, val_i, test_i = three_way_split(
            len(ds), stratify, val_frac=cfg["val_frac"], test_frac=cfg["test_frac"],
            seed=int(cfg["seed"]), split_hint=ds.split_hint)
        tr, va, te = ds.take(train_i), ds.take(val_i), ds.take(test_i)
        rare = train_only_classes(stratify) if ds.split_hint is None else {}
        if rare:  # too few to split: trained on, never scored (reported, not a crash)
            data_report.setdefault("warnings", []).append(
                f"Class(es) {rare} have fewer than {MIN_CLASS_TO_SPLIT} samples: they are used for training "
                "only, so the validation and test scores do not cover them. Add samples to those classes, "
                "or remove them.")
        leakage = duplicates_across(tr, te) if len(te) else 0
        data_report["split"] = {"method": self.split_method, "train": len(tr), "val": len(va),
                                "test": len(te), "stratified": stratify is not None,
                                "seed": int(cfg["seed"]), "official_test_set": ds.split_hint is not None,
                                "duplicates_train_test": leakage, "train_only_classes": rare}
        console.rule("[bold]2. Split[/]")
        console.print(f"train {len(tr):,} · validation {len(va):,} · test {len(te):,} (the test part "
                      "stays untouched until the end)"
                      + (f" · [yellow]{leakage} test rows also appear in train[/]" if leakage else "")
                      + (f" · [yellow]class(es) {rare} too small to split: training only[/]" if rare else ""))

        # zeros the cleaner treated as missing stay missing in new data too (predict, evaluate)
        zeros = [c for c, f in data_report.get("placeholder_zeros", {}).items()
                 if f["action"] == "treated as missing"]
        if self.base is not None and self.base.pre is not None:  # --from: the base run's preprocessing
            from nnguru.transfer import adopt_preprocessor

            pre = adopt_preprocessor(self.base, tr.X, tr.y, self.name)
        else:
            recipe = table_options(cfg)  # robust scaling, signed binary columns (tables only)
            pre = Preprocessor(self.name, zeros_missing=zeros, scaling=recipe["scaling"],
                               binary=recipe["binary"]).fit(tr.X, tr.y)
        x = {"train": pre.transform(tr.X), "val": pre.transform(va.X), "test": pre.transform(te.X)}
        y = {"train": pre.encode_y(tr.y), "val": pre.encode_y(va.y), "test": pre.encode_y(te.y)}
        self.check_prepared(pre, ds.target)
        # names of the training samples for the guru's listings (label errors): files, else rows;
        # similarity search names items by train_ids
        items = (tr.X["path"].astype(str).tolist() if isinstance(tr.X, pd.DataFrame) and "path" in tr.X
                 else [f"row {int(i)}" for i in train_i])
        context = {"train_ids": item_ids(ds, train_i), "train_items": items}
        return Prepared(data_report, pre, x, y, self.n_outputs(pre, y["train"]), ds.target, context)

    def prepare_stream(self, stream, console) -> Prepared:
        """``prepare`` for a table streamed in chunks (``nnguru.data.stream``): one pass for the
        statistics, then ``Prepared.x`` holds a ``TableSplit`` per split instead of arrays and
        ``Prepared.y["train"]`` the encoded targets of a training sample (the head's scale)."""
        from nnguru.data import stream as st
        from nnguru.data.inspect import print_data_report

        if not self.streams:
            raise NNGuruError(
                f"--stream reads tables row by row for classification and regression; the task is "
                f"{self.name}, whose samples are not independent rows. Leave out --stream."
            )
        cfg = self.cfg
        for key, flag in (("drop_outliers", "--drop-outliers"), ("placeholder_zeros", "--zeros-as-missing")):
            if cfg.get(key) not in (None, False, "flag"):
                raise NNGuruError(f"{flag} needs every row in memory and is not available with --stream. "
                                  f"Leave out {flag} or --stream.")
        stats = st.collect_stats(stream, cfg, self.categorical_target)
        pre, types = st.build_preprocessor(self.name, stream, stats, self.categorical_target)
        report = st.data_report(stream, stats, types, cfg, self.categorical_target, self.name)
        console.rule(f"[bold]1. Data[/] · {stream.name} · {self.name} · streamed")
        print_data_report(report, console)
        self.check_prepared(pre, stream.target)
        x = {name: st.TableSplit(stream, i, pre, stats, cfg) for i, name in enumerate(st.SPLITS)}
        console.rule("[bold]2. Split[/]")
        console.print(f"train {len(x['train']):,} · validation {len(x['val']):,} · test {len(x['test']):,} "
                      "(by a hash of each row; the test part stays untouched until the end)")
        if not len(x["train"]):
            raise NNGuruError(f"No training rows in {stream.name!r}: lower --val-frac/--test-frac.")
        sample = stats.fit_sample.rows()
        y_sample = x["train"].encode(sample["_y"].to_numpy(dtype=object))
        context = {"stream": stats}
        if self.categorical_target:
            context["train_class_counts"] = np.array(
                [stats.classes[st.label_key_and_value(c)[0]] for c in pre.classes], dtype=np.int64)
        return Prepared(report, pre, x, {"train": y_sample}, self.n_outputs(pre, y_sample), stream.target, context)

    def evaluate_stream(self, model, p: Prepared) -> Evaluation:
        """``evaluate`` on streamed splits: metrics accumulated chunk by chunk."""
        raise NNGuruError(f"The task {self.name} cannot evaluate streamed data; leave out --stream.")

    def loss_spec(self, recipe: dict) -> str | dict:
        """The loss to compile; ``recipe`` is the table recipe (``config.table_options``) when the
        model is the mlp on a table, else empty."""
        return self.loss

    def check_prepared(self, pre, target: str | None) -> None:
        """Refuse data the task cannot learn from (e.g. a single class); every target is learnable here."""
        return None

    def n_outputs(self, pre, y_train: np.ndarray) -> int:
        return 1 if y_train.ndim == 1 else int(y_train.shape[1])

    # --- build ------------------------------------------------------------------------------
    def template(self, input_shape: tuple[int, ...]) -> str:
        """The template name to build (``--model``; 'auto' lets ``nn.templates`` pick by the data)."""
        return self.cfg["model"]

    @abstractmethod
    def head(self, n_out: int, y_train: np.ndarray) -> list:
        """The output layers the template ends with."""

    def embed(self, model, x: np.ndarray) -> np.ndarray:
        """Unit-length vectors of preprocessed ``x`` for similarity search (``nnguru.similarity``):
        by default the input of the model's head; a task whose model has another natural code (an
        autoencoder's bottleneck) overrides this, and its runs are searched with it."""
        from nnguru import similarity

        return similarity.embed(model, x)

    def embedding_layer(self, model) -> str:
        """The layer :meth:`embed` reads (recorded in ``embeddings.json``): the head's first layer,
        whose input is the embedding; "" for a model with no head to find."""
        from nnguru import similarity

        return similarity.head_layer_name(model)

    def class_weight(self, y_train: np.ndarray, n_out: int, counts: np.ndarray | None = None) -> dict | None:
        """Per-class loss weights (``counts``: the training class counts, when ``y_train`` is a sample)."""
        if self.cfg.get("class_weight"):
            raise NNGuruError(
                f"class_weight={self.cfg['class_weight']!r} applies to classification; the task is "
                f"{self.name}. Remove --class-weight."
            )
        return None

    # --- evaluate ---------------------------------------------------------------------------
    @abstractmethod
    def evaluate(self, model, p: Prepared) -> Evaluation:
        """Validation and test metrics next to the task's baselines (the test split used once)."""

    def write_outputs(self, run_dir: Path, ev: Evaluation) -> list[Path]:
        return []

    # --- predict ----------------------------------------------------------------------------
    def predict_table(self, model, data: Any, horizon: int | None = None, **source_options: Any) -> pd.DataFrame:
        """``nnguru predict``: raw rows or files -> a table (a ``path`` column for files)."""
        from nnguru.inference import load_new_data

        if horizon is not None:
            raise NNGuruError(f"--horizon applies to forecasting runs; this run's task is {self.name}. "
                              "Leave --horizon out.")
        from nnguru.data.paths import unreadable_rows

        ds, errors = None, {}
        if isinstance(data, (str, Path)):
            ds = load_new_data(data, self.cfg, with_target=False, model=model, path_errors="mark", **source_options)
            data, errors = ds.X, unreadable_rows(ds)
        frame = pd.DataFrame()
        if ds is not None and isinstance(ds.X, pd.DataFrame) and "path" in ds.X.columns:
            frame["path"] = ds.X["path"].to_numpy()
        n_rows = len(data)
        good = np.setdiff1d(np.arange(n_rows), list(errors))
        if errors:  # one unreadable file costs its row, not the whole prediction
            if not len(good):
                first = next(iter(errors.values()))
                raise NNGuruError(f"None of the {len(data)} rows of {ds.info.get('path')!r} has a file that can "
                                  f"be read (e.g. {first}). Check the paths and the files.")
            data = data.iloc[good].reset_index(drop=True)
        for column, values in self.prediction_columns(model, self.outputs(model, data)).items():
            values = np.asarray(values, dtype=object if errors else None)  # int labels stay ints beside gaps
            frame[column] = pd.Series(values, index=good).reindex(range(n_rows)).to_numpy()
        if ds is not None and ds.info.get("path_column"):
            frame[PREDICT_ERROR_COLUMN] = [errors.get(i, "") for i in range(n_rows)]
            if errors:
                frame.attrs["warnings"] = [
                    f"{len(errors)} of {n_rows} rows could not be read and were not predicted; the "
                    f"{PREDICT_ERROR_COLUMN!r} column says why (e.g. row {next(iter(errors)) + 1}: "
                    f"{next(iter(errors.values()))})."]
        return frame

    def outputs(self, model, data: Any) -> np.ndarray:
        """What :meth:`prediction_columns` reads for raw ``data``: the model's outputs by default."""
        return model.predict(data)

    def prediction_columns(self, model, output: np.ndarray) -> dict[str, np.ndarray]:
        """The model's outputs as named prediction columns."""
        values = output.reshape(len(output), -1)
        if values.shape[1] == 1:
            return {"prediction": values[:, 0]}
        return {f"prediction_{k}": values[:, k] for k in range(values.shape[1])}

    def clean_new(self, ds) -> tuple[Any, dict]:
        """New labeled data cleaned as training data was, for ``nnguru evaluate``.

        Placeholder zeros are only reported: the saved preprocessor treats the columns training
        treated (detecting again on new data could pick other columns).
        """
        from nnguru.data.clean import clean

        return clean(ds, missing=self.cfg.get("missing", "fill"), placeholder_zeros="flag", task=self.name)

    @abstractmethod
    def score(self, model, ds) -> dict:
        """Test metrics of ``model`` on cleaned, labeled new data ``ds`` (``nnguru evaluate``)."""
