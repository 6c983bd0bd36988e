"""The Preprocessor: every learned data transformation, fitted on the training split only.

``Preprocessor(task).fit(X_train, y_train)`` decides how each input becomes numbers and learns
the statistics it needs (medians, means, categories, vocabularies, image size, audio length).
``transform`` then applies exactly those steps to any rows: the validation and test splits, raw
rows given to ``predict``, or a reloaded bundle (``to_config``/``state`` -> ``from_config``).

Input kinds and output shapes:
    arrays of images (N, H, W[, C])  -> (N, H, W, C) scaled to 0-1             kind "image"
    feature matrices (N, F)          -> (N, F) standardized                     kind "table"
    tables (DataFrame)               -> (N, F): numeric, one-hot, dates, text  kind "table"/"text"
    tables with an image-path column -> (N, H, W, C) from the files            kind "image"
    tables with an audio-path column -> (N, n_mels, frames, 1) log-mel         kind "audio"
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nnguru.data import columns as col
from nnguru.data.features.audio import N_MELS, AudioFeaturizer
from nnguru.data.features.image import ImageFeaturizer
from nnguru.data.features.table import (
    BINARY_CODINGS,
    MAX_CATEGORIES,
    SCALINGS,
    CategoricalBlock,
    DatetimeBlock,
    IdentifierBlock,
    NumericBlock,
    TextBlock,
)
from nnguru.data.features.text import CHAR_FEATURES, WORD_FEATURES
from nnguru.errors import NNGuruError, describe
from nnguru.jsonutil import jsonable

CONFIG_FORMAT = "nnguru.preprocessor"
CONFIG_VERSION = 1
OPTIONS = {
    "column_types": "dict column -> type, overriding inference (see nnguru.data.columns)",
    "zeros_missing": "numeric columns whose zeros mean 'missing' (the cleaner's placeholder_zeros='missing')",
    "max_categories": "one-hot columns per categorical column (default 30)",
    "scaling": "numeric columns: 'standard' (mean/std, the default here) or 'robust' (median/IQR + "
               "smooth clipping, what nnguru train uses for tables)",
    "binary": "two-category columns: 'onehot' (two columns, the default here) or 'signed' (one "
              "-1/+1 column, what nnguru train uses for tables)",
    "text_features": "word n-grams kept per text column (default 2000)",
    "char_features": "character n-grams kept per text column (default 1000)",
    "image_size": "(height, width) of images; default: the median training size, longer side at most 64",
    "color_mode": "'grayscale' or 'rgb'; default: grayscale only if every image is",
    "sample_rate": "audio sample rate in Hz; default: the most common training rate",
    "duration": "audio clip length in seconds; default: 95th percentile of training lengths",
    "n_mels": "mel bands of audio spectrograms (default 32)",
}


class Preprocessor:
    """Learned on the training split; applied identically everywhere else.

    ``task`` names a registered task (``nnguru.tasks``): one with class labels (classification)
    encodes targets as class indices 0..K-1 over the sorted training classes, others as float32
    values, unscaled. Column types come from the
    ``column_types`` option, else from the cleaner (``X.attrs["column_types"]``), else they are
    inferred from ``X_train``.
    """

    def __init__(self, task: str = "classification", **options: object):
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            valid = "; ".join(f"{k}: {v}" for k, v in OPTIONS.items())
            raise NNGuruError(f"Unknown preprocessing option(s) {unknown}. Valid options: {valid}.")
        from nnguru import tasks

        self.task = str(task)
        self.categorical = tasks.get(self.task).categorical_target  # targets are class labels
        self.options = options
        self.classes: list | None = None
        self.kind: str | None = None
        self.input_shape: tuple[int, ...] | None = None
        self.columns: list[str] | None = None
        self.column_types: dict[str, str] = {}
        self.blocks: list = []
        self._array: dict | None = None  # set when fitted on a plain array
        self._array_state: dict[str, np.ndarray] = {}

    # ------------------------------------------------------------------------------ fitting

    def fit(self, X: object, y: object = None) -> Preprocessor:
        """Learn every transformation from the training split (``y`` only for the classes)."""
        if y is not None and self.categorical:
            self.classes = _sorted_classes(np.asarray(y, dtype=object).ravel())
        if isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
            self._fit_array(X)
        else:
            known = X.attrs.get("column_types") if isinstance(X, pd.DataFrame) else None
            self._fit_frame(_as_frame(X, None), known)
        return self

    def fit_transform(self, X: object, y: object = None) -> np.ndarray:
        return self.fit(X, y).transform(X)

    def _fit_array(self, X: np.ndarray) -> None:
        if X.ndim < 2 or len(X) == 0:
            raise NNGuruError(
                f"X must be a 2-D feature matrix (N, F) or images (N, H, W[, C]); received shape "
                f"{X.shape}. Reshape a single feature with X.reshape(-1, 1)."
            )
        if X.ndim == 2:
            values = X.astype(np.float64)
            mean = np.nanmean(values, axis=0) if np.isfinite(values).any() else np.zeros(X.shape[1])
            mean = np.nan_to_num(mean)
            std = np.nan_to_num(np.nanstd(values, axis=0))
            self._array = {"mode": "matrix", "shape": list(X.shape[1:])}
            self._array_state = {"mean": mean, "std": np.where(std > 1e-12, std, 1.0)}
            self.kind, self.input_shape = "table", (X.shape[1],)
            return
        top = float(np.nanmax(X)) if X.size else 1.0
        scale = 255.0 if X.dtype == np.uint8 else (top if top > 1.0 else 1.0)
        self._array = {"mode": "image", "shape": list(X.shape[1:]), "scale": scale}
        self._array_state = {}
        self.kind = "image"
        self.input_shape = tuple(X.shape[1:]) if X.ndim == 4 else (*X.shape[1:], 1)

    def _fit_frame(self, frame: pd.DataFrame, known: dict[str, str] | None) -> None:
        if len(frame) == 0:
            raise NNGuruError("X_train has no rows: the preprocessor needs training rows to fit.")
        self.columns = [str(c) for c in frame.columns]
        self.column_types = self._types(frame, known)
        media = [c for c, t in self.column_types.items() if t == "path"]
        if media:
            self._fit_media(frame, media[0])
            return
        self.blocks = [b.fit(frame) for b in self._table_blocks()]
        self.blocks = [b for b in self.blocks if b.width > 0]
        if not self.blocks:
            raise NNGuruError(
                f"No usable feature columns: the column types are {self.column_types}. Every "
                "column is constant, empty, ignored or an identifier without shared tokens. "
                "Check the data, or set column types with column_types={...}."
            )
        used = {b.name for b in self.blocks}
        self.kind = "text" if used == {"text"} else "table"
        self.input_shape = (sum(b.width for b in self.blocks),)

    def _types(self, frame: pd.DataFrame, known: dict[str, str] | None) -> dict[str, str]:
        given = dict(self.options.get("column_types") or known or {})
        for column, kind in given.items():
            if kind not in col.COLUMN_TYPES:
                raise NNGuruError(
                    f"column_types[{column!r}] is {kind!r}, which is not a column type. "
                    f"Use one of: {', '.join(col.USER_TYPES)}."
                )
        inferred = {c: given.get(c) for c in self.columns}
        for c, t in inferred.items():
            if t is None:
                inferred[c] = col.infer_type(frame[c], c).type
        return inferred

    def _fit_media(self, frame: pd.DataFrame, column: str) -> None:
        paths = _paths(frame, column)
        kind = col.path_kind(pd.Series(paths))
        if kind == "audio":
            featurizer = AudioFeaturizer(
                sample_rate=self.options.get("sample_rate"),
                duration=self.options.get("duration"),
                n_mels=int(self.options.get("n_mels", N_MELS)),
            )
        else:
            featurizer = ImageFeaturizer(size=self.options.get("image_size"), mode=self.options.get("color_mode"))
        self.blocks = [_MediaBlock(column, kind or "image", featurizer.fit(paths))]
        self.kind = kind or "image"
        self.input_shape = tuple(featurizer.output_shape)

    def _table_blocks(self) -> list:
        types = self.column_types
        scaling, binary = str(self.options.get("scaling", "standard")), str(self.options.get("binary", "onehot"))
        for option, value, valid in (("scaling", scaling, SCALINGS), ("binary", binary, BINARY_CODINGS)):
            if value not in valid:
                raise NNGuruError(f"Preprocessing option {option}={value!r} is not one of {list(valid)}; "
                                  f"pick one of them (or leave it out for {valid[0]!r}).")
        blocks: list = [NumericBlock([c for c, t in types.items() if t == "numeric"],
                                     list(self.options.get("zeros_missing") or ()), scaling)]
        for c, t in types.items():
            if t == "categorical":
                blocks.append(CategoricalBlock(c, int(self.options.get("max_categories", MAX_CATEGORIES)), binary))
            elif t == "datetime":
                blocks.append(DatetimeBlock(c))
            elif t == "identifier":
                blocks.append(IdentifierBlock(c))
            elif t == "text":
                blocks.append(
                    TextBlock(
                        c,
                        word_features=int(self.options.get("text_features", WORD_FEATURES)),
                        char_features=int(self.options.get("char_features", CHAR_FEATURES)),
                    )
                )
        return blocks

    # --------------------------------------------------------------------------- transform

    def transform(self, X: object) -> np.ndarray:
        """Features (float32) for any rows, with the steps learned in ``fit``."""
        self._check_fitted()
        if self._array is not None:
            return self._transform_array(X)
        media = self.kind in ("image", "audio")
        frame = _as_frame(X, self.blocks[0].columns if media else self.columns)
        if media and self.blocks[0].columns[0] not in frame.columns and "path" in frame.columns:
            frame = frame.rename(columns={"path": self.blocks[0].columns[0]})  # a folder of new files
        needed = sorted({c for b in self.blocks for c in b.columns} - set(frame.columns))
        if needed:
            raise NNGuruError(
                f"X lacks the column(s) {needed} that the model was trained on. Received columns: "
                f"{list(map(str, frame.columns))[:30]}. Pass rows with the training columns "
                "(same header, or the same --columns/--no-header options)."
            )
        parts = [b.transform(frame) for b in self.blocks]
        return parts[0] if len(parts) == 1 else np.hstack(parts).astype(np.float32)

    def _transform_array(self, X: object) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            X = X.to_numpy()
        X = np.asarray(X)
        expected = tuple(self._array["shape"])
        if X.dtype.kind not in "biuf" or tuple(X.shape[1:]) != expected:
            raise NNGuruError(
                f"X has shape {X.shape} (dtype {X.dtype}), but the model expects numeric "
                f"samples of shape {expected}, as in training. Reshape or reload the data the "
                "same way."
            )
        if self._array["mode"] == "matrix":
            values = X.astype(np.float64)
            mean, std = self._array_state["mean"], self._array_state["std"]
            values = np.where(np.isnan(values), mean, values)
            return ((values - mean) / std).astype(np.float32)
        out = X.astype(np.float32) / np.float32(self._array["scale"])
        return out[..., None] if X.ndim == 3 else out

    # ----------------------------------------------------------------------------- targets

    def encode_y(self, y: object) -> np.ndarray:
        """Class indices (int64, classification) or float32 values (regression)."""
        values = np.asarray(y, dtype=object).ravel()
        if not self.categorical:
            return _float_targets(values)
        if self.classes is None:
            raise NNGuruError("This preprocessor has no classes: fit it with y_train before encoding labels.")
        lookup = {_label_key(c): i for i, c in enumerate(self.classes)}
        keys = [_label_key(v) for v in values]
        unknown = sorted({str(values[i]) for i, k in enumerate(keys) if k not in lookup})
        if unknown:
            raise NNGuruError(
                f"y holds label(s) {unknown[:5]} that were not in the training data. Known "
                f"classes: {self.classes[:20]}. Remove those rows or retrain with examples of them."
            )
        return np.array([lookup[k] for k in keys], dtype=np.int64)

    def decode_y(self, idx: object) -> np.ndarray:
        """Original labels from class indices or (N, K) probabilities; values for regression."""
        values = np.asarray(idx)
        if not self.categorical:
            values = values.astype(np.float32)
            return values[:, 0] if values.ndim == 2 and values.shape[1] == 1 else values
        if values.ndim == 2:
            values = values.argmax(axis=1)
        classes = np.array(self.classes, dtype=object)
        labels = classes[values.astype(np.int64)]
        if all(isinstance(c, int) for c in self.classes):
            return labels.astype(np.int64)
        return labels

    # ------------------------------------------------------------------------ persistence

    @property
    def feature_names(self) -> list[str] | None:
        """Names of the (N, F) features, for explanations; None for images and audio."""
        if self.kind in ("image", "audio") or self._array is not None:
            return None
        return [n for b in self.blocks for n in b.feature_names]

    def to_config(self) -> dict:
        """Everything but arrays, as JSON (with :meth:`state`, enough to rebuild exactly)."""
        self._check_fitted()
        return {
            "format": CONFIG_FORMAT,
            "version": CONFIG_VERSION,
            "task": self.task,
            "kind": self.kind,
            "classes": self.classes,
            "input_shape": list(self.input_shape),
            "columns": self.columns,
            "column_types": self.column_types,
            "options": jsonable(self.options),
            "array": self._array,
            "blocks": [b.config() for b in self.blocks],
        }

    def state(self) -> dict[str, np.ndarray]:
        """Learned arrays, named ``"<block index>.<name>"`` (safetensors-friendly, contiguous)."""
        self._check_fitted()
        arrays = dict(self._array_state) if self._array is not None else {}
        for i, block in enumerate(self.blocks):
            arrays.update({f"{i}.{k}": v for k, v in block.state().items()})
        return {k: np.ascontiguousarray(v) for k, v in arrays.items()}

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_config` and :meth:`state`."""
        if config.get("format") != CONFIG_FORMAT:
            raise NNGuruError(
                f"The preprocessing config has format {config.get('format')!r}, not "
                f"{CONFIG_FORMAT!r}: it was not written by nnguru's Preprocessor."
            )
        pre = cls(config["task"], **config.get("options", {}))
        pre.kind = config["kind"]
        pre.classes = config["classes"]
        pre.input_shape = tuple(config["input_shape"])
        pre.columns = config["columns"]
        pre.column_types = config["column_types"]
        pre._array = config["array"]
        if pre._array is not None:
            pre._array_state = {k: np.asarray(v) for k, v in state.items() if "." not in k}
        for i, block_config in enumerate(config["blocks"]):
            prefix = f"{i}."
            sub = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            pre.blocks.append(_BLOCKS[block_config["block"]].from_config(block_config, sub))
        return pre

    def _check_fitted(self) -> None:
        if self.input_shape is None:
            raise NNGuruError("This Preprocessor is not fitted yet: call fit(X_train, y_train) first.")


class _MediaBlock:
    """A path column read as images or audio by the matching featurizer."""

    def __init__(self, column: str, media: str, featurizer: ImageFeaturizer | AudioFeaturizer):
        self.columns = [column]
        self.name = media
        self.featurizer = featurizer

    width = property(lambda self: int(np.prod(self.featurizer.output_shape)))
    feature_names = property(lambda self: [])

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.featurizer.transform(_paths(frame, self.columns[0]))

    def config(self) -> dict:
        return {
            "block": self.name,
            "column": self.columns[0],
            "featurizer": self.featurizer.config(),
        }

    def state(self) -> dict[str, np.ndarray]:
        return self.featurizer.state()

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> _MediaBlock:
        featurizer_type = AudioFeaturizer if config["block"] == "audio" else ImageFeaturizer
        featurizer = featurizer_type.from_config(config["featurizer"], state)
        return cls(config["column"], config["block"], featurizer)


_BLOCKS = {
    "numeric": NumericBlock,
    "categorical": CategoricalBlock,
    "datetime": DatetimeBlock,
    "identifier": IdentifierBlock,
    "text": TextBlock,
    "image": _MediaBlock,
    "audio": _MediaBlock,
}


def _as_frame(X: object, columns: list[str] | None) -> pd.DataFrame:
    """Tables arrive as DataFrames, dicts, lists of rows, lists of file paths or 2-D arrays."""
    if isinstance(X, pd.DataFrame):
        frame = X.copy(deep=False)
        frame.attrs = {}  # pandas deep-copies attrs on every column access: drop them once here
        frame.columns = [str(c) for c in frame.columns]
        return frame
    if isinstance(X, pd.Series):
        X = X.tolist()
    if isinstance(X, dict):
        return pd.DataFrame(X)
    if isinstance(X, (list, tuple, np.ndarray)) and len(X) and all(isinstance(v, str) for v in X):
        return pd.DataFrame({(columns or ["path"])[0]: list(X)})
    if isinstance(X, np.ndarray) and X.ndim == 2 and columns and X.shape[1] == len(columns):
        return pd.DataFrame(X, columns=columns)
    if isinstance(X, (list, tuple)) and len(X) and isinstance(X[0], dict):
        return pd.DataFrame(list(X))
    if isinstance(X, (list, tuple)) and columns and len(X) and len(X[0]) == len(columns):
        return pd.DataFrame(list(X), columns=columns)
    raise NNGuruError(
        f"X must be a table (pandas DataFrame, dict of columns, list of row dicts), a list of file "
        f"paths or a numeric array; received {describe(X)}."
    )


def _paths(frame: pd.DataFrame, column: str) -> list[str]:
    values = col.clean_strings(frame[column])
    missing = values.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise NNGuruError(
            f"Column {column!r} has no file path in row {row} ({int(missing.sum())} rows without "
            "one). Every row needs a file to read; drop those rows or fill in the paths."
        )
    return values.astype(str).tolist()


def _label_key(value: object) -> str:
    """One spelling per label, so 1, 1.0, "1" and " 1 " all mean the same class."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    if col.is_number(text):
        return _label_key(float(text))
    return text


def _sorted_classes(values: np.ndarray) -> list:
    """Distinct labels as plain JSON-able Python values, numbers before strings, sorted."""
    missing = pd.isna(pd.Series(values, dtype=object)).to_numpy()
    if missing.any():
        raise NNGuruError(
            f"y_train has {int(missing.sum())} missing label(s). Drop those rows first "
            "(nnguru.data.clean.clean does so and reports them)."
        )
    unique: dict[str, object] = {}
    for value in values:
        unique.setdefault(_label_key(value), _plain(value))
    items = list(unique.values())
    numbers = sorted(v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool))
    others = sorted((v for v in items if not isinstance(v, (int, float)) or isinstance(v, bool)), key=str)
    return numbers + others


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def _float_targets(values: np.ndarray) -> np.ndarray:
    parsed, invalid = col.to_numeric(pd.Series(values, dtype=object))
    if invalid or parsed.isna().any():
        bad = [v for v, p in zip(values, parsed, strict=True) if np.isnan(p)][:5]
        raise NNGuruError(
            f"The regression target must be numbers; received {bad} among the values. Drop or "
            "fix those rows, or use task='classification' for labels."
        )
    return parsed.to_numpy(np.float32)
