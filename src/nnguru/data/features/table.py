"""Table columns as numbers: one block per column type, each fitted on the training split.

Blocks read raw cells (strings as loaded, or the typed values the cleaner produced) and apply
the same parsing either way, so ``predict`` on a raw CSV row gives the features training saw.
A column that had missing values in training gets a 0/1 missing-indicator feature, because
"this value was not recorded" is often informative in itself (e.g. a Titanic cabin).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from nnguru.data import columns as col
from nnguru.data.features.text import TfidfFeaturizer, TokenFeaturizer

MAX_CATEGORIES = 30  # one-hot columns per categorical column; the rest share an "other" column
MIN_CATEGORY_COUNT = 2  # a category seen once in training is a memorized row, not a pattern
DATE_PARTS = ("year", "month", "day", "day_of_week", "hour", "minute")
SCALINGS = ("standard", "robust")  # NumericBlock: mean/std, or median/IQR + smooth clipping (RealMLP)
BINARY_CODINGS = ("onehot", "signed")  # CategoricalBlock with two categories: 2 columns, or one +/-1
CLIP_AT = 3.0  # smooth clipping x / sqrt(1 + (x / 3)^2): linear near 0, saturating at +/-3


def smooth_clip(x: np.ndarray) -> np.ndarray:
    """RealMLP's soft clip: values within ~1 unit stay, outliers end near +/-CLIP_AT (never cut)."""
    return x / np.sqrt(1.0 + (x / CLIP_AT) ** 2)


def _robust_scale(values: np.ndarray, center: np.ndarray) -> np.ndarray:
    """The interquartile range of each column (median-centered data spans ~+/-1 in its middle half);
    a column with IQR 0 (mostly one value, e.g. a count that is usually 0) falls back to its
    largest distance from the median, so its rare values land within +/-1. (Its standard deviation
    instead measured +1 point on titanic and adult_like but a 3.5% worse MAE on boston, which then
    trailed HistGradientBoosting: benchmarks/RESULTS.md, "Table defaults".)"""
    if not len(values):
        return np.ones(values.shape[1])
    q1, q3 = np.quantile(values, [0.25, 0.75], axis=0)
    far = np.abs(values - center).max(axis=0)
    scale = np.where(q3 - q1 > 1e-12, q3 - q1, far)
    return np.where(scale > 1e-12, scale, 1.0)


class NumericBlock:
    """Median-imputed (+ missing indicator), then scaled with training statistics.

    ``scaling="standard"``: (x - mean) / std. ``"robust"`` (nnguru's table default, after RealMLP,
    Holzmüller et al. 2024): (x - median) / IQR, then :func:`smooth_clip`, so a skewed column
    (fares, incomes) keeps its resolution where most rows are and an outlier cannot dominate a
    neuron's input; ``mean_``/``std_`` then hold the median and the IQR.
    """

    name = "numeric"

    def __init__(self, columns: list[str], zeros_missing: list[str] | tuple = (), scaling: str = "standard"):
        self.columns = list(columns)
        self.zeros_missing = [c for c in self.columns if c in set(zeros_missing)]
        self.scaling = scaling

    def _values(self, frame: pd.DataFrame) -> np.ndarray:
        parsed = [col.to_numeric(frame[c])[0].to_numpy(np.float64) for c in self.columns]
        for c in self.zeros_missing:  # placeholder zeros (a glucose of 0): missing, in training and after
            j = self.columns.index(c)
            parsed[j] = np.where(parsed[j] == 0, np.nan, parsed[j])
        return np.column_stack(parsed) if parsed else np.zeros((len(frame), 0))

    def fit(self, frame: pd.DataFrame) -> NumericBlock:
        values = self._values(frame)
        missing = np.isnan(values)
        counts = (~missing).sum(axis=0)
        self.median_ = np.zeros(values.shape[1])
        for j in np.flatnonzero(counts):
            self.median_[j] = np.median(values[~missing[:, j], j])
        filled = np.where(missing, self.median_, values)
        if self.scaling == "robust":
            self.mean_ = self.median_.copy()
            self.std_ = _robust_scale(filled, self.mean_)
        else:
            self.mean_ = filled.mean(axis=0) if len(filled) else np.zeros(values.shape[1])
            std = filled.std(axis=0) if len(filled) else np.ones(values.shape[1])
            self.std_ = np.where(std > 1e-12, std, 1.0)
        self.indicator_ = missing.any(axis=0)
        return self

    @property
    def width(self) -> int:
        return len(self.columns) + int(self.indicator_.sum())

    @property
    def feature_names(self) -> list[str]:
        flagged = [c for c, f in zip(self.columns, self.indicator_, strict=True) if f]
        return [*self.columns, *(f"{c} missing" for c in flagged)]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        values = self._values(frame)
        missing = np.isnan(values)
        filled = np.where(missing, self.median_, values)
        scaled = (filled - self.mean_) / self.std_
        if self.scaling == "robust":
            scaled = smooth_clip(scaled)
        return np.hstack([scaled, missing[:, self.indicator_]]).astype(np.float32)

    def config(self) -> dict:
        return {"block": self.name, "columns": self.columns, "zeros_missing": self.zeros_missing,
                "scaling": self.scaling}

    def state(self) -> dict[str, np.ndarray]:
        return {
            "median": self.median_,
            "mean": self.mean_,
            "std": self.std_,
            "indicator": self.indicator_.astype(np.uint8),
        }

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> NumericBlock:
        block = cls(config["columns"], config.get("zeros_missing", ()), config.get("scaling", "standard"))
        block.median_ = np.asarray(state["median"], np.float64)
        block.mean_ = np.asarray(state["mean"], np.float64)
        block.std_ = np.asarray(state["std"], np.float64)
        block.indicator_ = np.asarray(state["indicator"]).astype(bool)
        return block


class CategoricalBlock:
    """One-hot of the frequent spelling-normalized categories; rare ones share "other".

    Missing cells get the most frequent training category (plus an indicator); a category never
    seen in training gets all zeros, so the model falls back on the other features. With
    ``binary="signed"`` (nnguru's table default, after RealMLP) a column of exactly two categories
    is one feature, -1 for the more frequent and +1 for the other: centred like the numeric
    features, and one weight instead of two redundant ones.
    """

    name = "categorical"

    def __init__(self, column: str, max_categories: int = MAX_CATEGORIES, binary: str = "onehot"):
        self.columns = [column]
        self.max_categories = int(max_categories)
        self.binary = binary

    def fit(self, frame: pd.DataFrame) -> CategoricalBlock:
        keys = col.category_keys(frame[self.columns[0]])
        missing = keys.isna().to_numpy()
        return self.fit_counts(Counter(keys[~missing]), bool(missing.any()))

    def fit_counts(self, counts: Counter, any_missing: bool) -> CategoricalBlock:
        """Fit from the training split's category counts (what a streamed pass collects)."""
        ranked = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
        self.fill_ = ranked[0][0] if ranked else ""
        kept = [k for k, n in ranked[: self.max_categories] if n >= MIN_CATEGORY_COUNT]
        self.categories_ = kept or [k for k, _ in ranked[:1]]
        self.rare_ = sorted(k for k in counts if k not in set(self.categories_))
        self.indicator_ = bool(any_missing)
        return self

    @property
    def signed(self) -> bool:
        """One +/-1 feature: two categories, none rare, and the signed coding asked for."""
        return self.binary == "signed" and len(self.categories_) == 2 and not self.rare_

    @property
    def width(self) -> int:
        if self.signed:
            return 1 + self.indicator_
        return len(self.categories_) + bool(self.rare_) + self.indicator_

    @property
    def feature_names(self) -> list[str]:
        name = self.columns[0]
        if self.signed:
            return [f"{name}={self.categories_[1]} (+1) vs {self.categories_[0]} (-1)",
                    *([f"{name} missing"] if self.indicator_ else [])]
        names = [f"{name}={c}" for c in self.categories_]
        names += [f"{name}=other"] if self.rare_ else []
        return names + ([f"{name} missing"] if self.indicator_ else [])

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        keys = col.category_keys(frame[self.columns[0]])
        missing = keys.isna().to_numpy()
        keys = keys.where(~missing, self.fill_)
        slots = {k: j for j, k in enumerate(self.categories_)}
        other = len(self.categories_)
        slots.update(dict.fromkeys(self.rare_, other))
        index = keys.map(slots).to_numpy(dtype=np.float64)
        out = np.zeros((len(frame), self.width), dtype=np.float32)
        known = ~np.isnan(index)
        if self.signed:  # category 0 -> -1, category 1 -> +1, unseen -> 0
            out[known, 0] = 2.0 * index[known] - 1.0
        else:
            out[np.flatnonzero(known), index[known].astype(np.int64)] = 1.0
        if self.indicator_:
            out[:, -1] = missing
        return out

    def config(self) -> dict:
        return {
            "block": self.name,
            "column": self.columns[0],
            "max_categories": self.max_categories,
            "binary": self.binary,
            "categories": self.categories_,
            "rare": self.rare_,
            "fill": self.fill_,
            "indicator": self.indicator_,
        }

    def state(self) -> dict[str, np.ndarray]:
        return {}

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> CategoricalBlock:
        block = cls(config["column"], config["max_categories"], config.get("binary", "onehot"))
        block.categories_ = list(config["categories"])
        block.rare_ = list(config["rare"])
        block.fill_ = config["fill"]
        block.indicator_ = bool(config["indicator"])
        return block


class DatetimeBlock:
    """Dates as numeric parts (year, month, day, weekday, hour, minute) that vary in training."""

    name = "datetime"

    def __init__(self, column: str):
        self.columns = [column]

    def _parts(self, frame: pd.DataFrame, parts: tuple[str, ...]) -> pd.DataFrame:
        stamps = col.parse_datetime(frame[self.columns[0]], self.format_)
        return pd.DataFrame({f"{self.columns[0]}.{p}": _date_part(stamps, p) for p in parts})

    def fit(self, frame: pd.DataFrame) -> DatetimeBlock:
        self.format_ = col.datetime_format(col.clean_strings(frame[self.columns[0]]).dropna())
        every = self._parts(frame, DATE_PARTS)
        varying = [every[f"{self.columns[0]}.{p}"].nunique() > 1 for p in DATE_PARTS]
        self.parts_ = [p for p, keep in zip(DATE_PARTS, varying, strict=True) if keep]
        self.numeric_ = NumericBlock([f"{self.columns[0]}.{p}" for p in self.parts_]).fit(every)
        self.indicator_ = bool(self.numeric_.indicator_.any())  # one indicator for the date
        self.numeric_.indicator_[:] = False
        return self

    @property
    def width(self) -> int:
        return self.numeric_.width + self.indicator_

    @property
    def feature_names(self) -> list[str]:
        missing = [f"{self.columns[0]} missing"] if self.indicator_ else []
        return self.numeric_.feature_names + missing

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        parts = self._parts(frame, tuple(self.parts_))
        out = self.numeric_.transform(parts)
        if self.indicator_:
            missing = col.parse_datetime(frame[self.columns[0]], self.format_).isna()
            out = np.hstack([out, missing.to_numpy(np.float32)[:, None]])
        return out

    def config(self) -> dict:
        return {
            "block": self.name,
            "column": self.columns[0],
            "format": self.format_,
            "parts": self.parts_,
            "indicator": self.indicator_,
        }

    def state(self) -> dict[str, np.ndarray]:
        return self.numeric_.state()

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> DatetimeBlock:
        block = cls(config["column"])
        block.format_ = config["format"]
        block.parts_ = list(config["parts"])
        block.indicator_ = bool(config["indicator"])
        columns = [f"{config['column']}.{p}" for p in block.parts_]
        block.numeric_ = NumericBlock.from_config({"columns": columns}, state)
        return block


def _date_part(stamps: pd.Series, part: str) -> pd.Series:
    if part == "year":  # fractional year keeps the trend smooth across months
        return stamps.dt.year + (stamps.dt.day_of_year - 1) / 365.25
    return getattr(stamps.dt, part).astype("float64")


class _StringBlock:
    """Shared logic of text-like blocks: missing cells -> "" plus an indicator."""

    name = ""
    featurizer_type: type = TfidfFeaturizer

    def __init__(self, column: str, **featurizer_options: object):
        self.columns = [column]
        self.featurizer = self.featurizer_type(**featurizer_options)

    def _texts(self, frame: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        values = col.clean_strings(frame[self.columns[0]])
        missing = values.isna().to_numpy()
        return values.fillna("").astype(str).tolist(), missing

    def fit(self, frame: pd.DataFrame) -> _StringBlock:
        texts, missing = self._texts(frame)
        self.featurizer.fit([t for t, m in zip(texts, missing, strict=True) if not m])
        self.indicator_ = bool(missing.any())
        return self

    @property
    def width(self) -> int:
        return self.featurizer.width + self.indicator_

    @property
    def feature_names(self) -> list[str]:
        name = self.columns[0]
        names = [f"{name}:{f}" for f in _names(self.featurizer)]
        return names + ([f"{name} missing"] if self.indicator_ else [])

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        texts, missing = self._texts(frame)
        features = self.featurizer.transform(texts)
        if self.indicator_:
            features = np.hstack([features, missing[:, None].astype(np.float32)])
        return features

    def config(self) -> dict:
        return {
            "block": self.name,
            "column": self.columns[0],
            "indicator": self.indicator_,
            "featurizer": self.featurizer.config(),
        }

    def state(self) -> dict[str, np.ndarray]:
        return self.featurizer.state()

    @classmethod
    def from_config(cls, config: dict, state: dict[str, np.ndarray]) -> _StringBlock:
        block = cls(config["column"])
        block.featurizer = cls.featurizer_type.from_config(config["featurizer"], state)
        block.indicator_ = bool(config["indicator"])
        return block


def _names(featurizer: TfidfFeaturizer | TokenFeaturizer) -> list[str]:
    if isinstance(featurizer, TokenFeaturizer):
        return [f"has '{t}'" for t in featurizer.tokens_]
    return featurizer.feature_names


class TextBlock(_StringBlock):
    """Free text as TF-IDF of word and character n-grams."""

    name = "text"
    featurizer_type = TfidfFeaturizer


class IdentifierBlock(_StringBlock):
    """Identifier-like strings reduced to indicators of widely shared tokens (never one-hot)."""

    name = "identifier"
    featurizer_type = TokenFeaturizer
