"""What the tasks that learn without labels share: an autoencoder trained to give back its input.

Anomaly detection (:mod:`nnguru.tasks.anomaly`) scores how badly a row is reconstructed;
clustering (:mod:`nnguru.tasks.cluster`) groups the autoencoder's codes. Both take an optional
label column (``--target``) that is used for evaluation only, never for training (apart from
anomaly's ``--normal``, which picks the rows to learn "normal" from). The targets the network is
fitted to are its inputs: ``Prepared.y[split] is Prepared.x[split]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nnguru.errors import NNGuruError
from nnguru.nn.autoencoders import default_template, encode
from nnguru.tasks.base import Prepared, Task

SPLITS = ("train", "val", "test")
AUTOENCODERS = ("autoencoder", "conv_autoencoder")  # templates whose output is their input's shape


def label_values(y) -> np.ndarray | None:
    """Labels as text keys ('1', 'cat'): whole numbers lose their '.0', so ``--normal 1`` matches 1.0."""
    if y is None:
        return None
    values = pd.Series(np.asarray(y, dtype=object).ravel())
    numbers = pd.to_numeric(values, errors="coerce")
    whole = numbers.notna() & (numbers == numbers.round())
    text = values.astype(str)
    text[whole] = numbers[whole].astype(np.int64).astype(str)
    return text.to_numpy(dtype=object)


def raw_outputs(model, x: np.ndarray) -> np.ndarray:
    """``model.predict`` on already preprocessed inputs (the attached preprocessor is skipped)."""
    pre, model.preprocessor = model.preprocessor, None
    try:
        return model.predict(x)
    finally:
        model.preprocessor = pre


class Reconstruction(Task):
    """Base of the unsupervised tasks: cleaning, split, preprocessing and an autoencoder template."""

    needs_target = False
    loss = "mse"
    headline = "loss"
    guru_rules = ("lr_too_high", "lr_too_low", "plateau", "overfitting", "underfitting", "small_data",
                  "worse_than_baseline")
    auto_rank = 200  # never picked by --task auto: learning without labels is asked for

    # --- prepare ----------------------------------------------------------------------------
    def training_rows(self, labels: np.ndarray | None) -> np.ndarray | None:
        """Mask of the rows the autoencoder learns from (None: all)."""
        return None

    def prepare(self, ds, console) -> Prepared:
        """Clean, split (stratified by the labels when there are some), fit preprocessing on the
        training rows; the label column is kept aside for evaluation."""
        from nnguru.data.clean import clean, duplicates_across
        from nnguru.data.inspect import print_data_report
        from nnguru.data.preprocess import Preprocessor
        from nnguru.data.split import three_way_split

        cfg = self.cfg
        ds, data_report = clean(ds, missing=cfg["missing"], drop_outliers=bool(cfg["drop_outliers"]),
                                placeholder_zeros=cfg["placeholder_zeros"])
        if "target" in data_report:  # labels only evaluate here: not a target the guru should reason about
            data_report["labels"] = data_report.pop("target")
        console.rule(f"[bold]1. Data[/] · {ds.name} · {self.name}")
        print_data_report(data_report, console)
        labels = label_values(ds.y)
        self.check_options(len(ds), labels)
        parts = three_way_split(len(ds), labels, val_frac=cfg["val_frac"], test_frac=cfg["test_frac"],
                                seed=int(cfg["seed"]), split_hint=ds.split_hint)
        data = {name: ds.take(i) for name, i in zip(SPLITS, parts, strict=True)}
        lab = {name: None if labels is None else labels[i] for name, i in zip(SPLITS, parts, strict=True)}
        learn = {name: self.training_rows(lab[name]) for name in SPLITS}
        fit_on = data["train"] if learn["train"] is None else data["train"].take(np.flatnonzero(learn["train"]))
        if not len(fit_on):
            raise NNGuruError(f"No training rows for {self.name} in {ds.name!r}: lower --val-frac/--test-frac.")
        zeros = [c for c, f in data_report.get("placeholder_zeros", {}).items()
                 if f["action"] == "treated as missing"]
        pre = Preprocessor(self.name, zeros_missing=zeros).fit(fit_on.X)
        full = {name: pre.transform(data[name].X) for name in SPLITS}
        x = {name: full[name] if learn[name] is None or name == "test" else full[name][learn[name]]
             for name in SPLITS}
        leakage = duplicates_across(data["train"], data["test"]) if len(data["test"]) else 0
        data_report["split"] = {"method": "stratified" if labels is not None else "random",
                                "train": len(x["train"]), "val": len(x["val"]), "test": len(x["test"]),
                                "stratified": labels is not None, "seed": int(cfg["seed"]),
                                "official_test_set": ds.split_hint is not None,
                                "duplicates_train_test": leakage}
        console.rule("[bold]2. Split[/]")
        console.print(f"train {len(x['train']):,} · validation {len(x['val']):,} · test {len(x['test']):,}"
                      + (" (labels are used for evaluation only)" if labels is not None else ""))
        context = {"full": full, "labels": lab, "learn": learn,
                   "rows": {name: np.asarray(i) for name, i in zip(SPLITS, parts, strict=True)}}
        return Prepared(data_report, pre, x, dict(x), 1, ds.target, context)

    def check_options(self, n_rows: int, labels: np.ndarray | None) -> None:
        """Refuse options that cannot work on this data, before anything is trained."""
        return None

    # --- build ------------------------------------------------------------------------------
    def template(self, input_shape: tuple[int, ...]) -> str:
        name = self.cfg["model"]
        if name == "auto":
            return default_template(input_shape)
        if name not in AUTOENCODERS:
            raise NNGuruError(f"--model {name!r} cannot learn {self.name} without labels: it needs a network "
                              f"that reconstructs its input. Use --model {default_template(input_shape)} "
                              "(or leave --model out).")
        return name

    def head(self, n_out: int, y_train: np.ndarray) -> list:
        """None: the autoencoder ends with its own reconstruction layer."""
        return []

    def embed(self, model, x: np.ndarray) -> np.ndarray:
        """The autoencoder's code of preprocessed inputs ``x`` (N, code), unit length: the embedding
        of each item (similarity search stores and searches it, as the head's input elsewhere)."""
        code = np.asarray(encode(model, x), dtype=np.float32)
        return code / np.maximum(np.linalg.norm(code, axis=1, keepdims=True), 1e-12)

    def embedding_layer(self, model) -> str:
        """The autoencoder's bottleneck, which :meth:`embed` reads (not the decoder's last layer)."""
        from nnguru.nn.autoencoders import CODE_LAYER

        return CODE_LAYER

    def clean_new(self, ds) -> tuple[Any, dict]:
        """New labeled rows for ``nnguru evaluate``, cleaned as training rows were (labels as labels)."""
        from nnguru.data.clean import clean

        return clean(ds, missing=self.cfg.get("missing", "fill"), placeholder_zeros="flag")

    # --- predict ----------------------------------------------------------------------------
    def outputs(self, model, data: Any) -> np.ndarray:
        """What prediction columns are made from: the preprocessed inputs of raw ``data``."""
        return model.preprocessor.transform(data) if model.preprocessor is not None else np.asarray(data)
