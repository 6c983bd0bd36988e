"""The raw dataset as a source loaded it, before cleaning and preprocessing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Dataset:
    """Raw samples and targets plus how they were read.

    Image and audio folders are tables with a ``path`` column (``kind`` "image"/"audio"), so one
    preprocessor serves folders and CSVs of file paths alike.
    """

    X: pd.DataFrame | np.ndarray
    y: np.ndarray | None
    name: str
    kind: str  # "table" | "image" | "audio" | "array"
    target: str | None = None
    split_hint: np.ndarray | None = None  # per-row "train"/"test" when the data has an official test set
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.X)

    def take(self, index: np.ndarray) -> Dataset:
        """Rows ``index`` as a new Dataset (same name/kind/info)."""
        X = self.X.iloc[index].reset_index(drop=True) if isinstance(self.X, pd.DataFrame) else self.X[index]
        return Dataset(
            X=X,
            y=None if self.y is None else self.y[index],
            name=self.name,
            kind=self.kind,
            target=self.target,
            split_hint=None if self.split_hint is None else self.split_hint[index],
            info=self.info,
        )
