"""The table recipe's preprocessing: robust scaling with smooth clipping, signed binary categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nnguru.data.preprocess import Preprocessor
from nnguru.errors import NNGuruError


def frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    fare = rng.lognormal(3, 1, n)
    fare[:3] = [1e4, 2e4, 5e4]  # outliers
    return pd.DataFrame({"fare": fare, "count": np.where(rng.random(n) < 0.9, 0.0, rng.integers(1, 5, n)),
                         "sex": rng.choice(["m", "f"], n, p=[0.6, 0.4]),
                         "port": rng.choice(["S", "C", "Q"], n)})


def test_robust_scaling_is_median_iqr_then_smooth_clip():
    X = frame()
    out = Preprocessor("regression", scaling="robust").fit(X).transform(X)
    fare = X["fare"].to_numpy()
    q1, med, q3 = np.quantile(fare, [0.25, 0.5, 0.75])
    z = (fare - med) / (q3 - q1)
    np.testing.assert_allclose(out[:, 0], z / np.sqrt(1 + (z / 3) ** 2), rtol=1e-5, atol=1e-6)
    assert np.abs(out[:, 0]).max() < 3.0  # outliers end near, never past, +/-3
    # a column with IQR 0 (mostly zeros) falls back to its largest distance from the median
    count = X["count"].to_numpy()
    z = (count - np.median(count)) / np.abs(count - np.median(count)).max()
    np.testing.assert_allclose(out[:, 1], z / np.sqrt(1 + (z / 3) ** 2), rtol=1e-5, atol=1e-6)


def test_standard_scaling_stays_the_preprocessor_default():
    X = frame()
    out = Preprocessor("regression").fit(X).transform(X)
    fare = X["fare"].to_numpy()
    np.testing.assert_allclose(out[:, 0], (fare - fare.mean()) / fare.std(), rtol=1e-4, atol=1e-5)


def test_signed_binary_category_is_one_plus_minus_one_column():
    X = frame()
    pre = Preprocessor("regression", binary="signed").fit(X)
    out = pre.transform(X)
    names = pre.feature_names
    assert len(names) == 2 + 1 + 3  # fare, count, sex (one column), port (three)
    sex = out[:, 2]
    np.testing.assert_array_equal(sex, np.where(X["sex"] == "m", -1.0, 1.0))  # frequent -> -1
    unseen = pre.transform(pd.DataFrame({"fare": [1.0], "count": [0.0], "sex": ["x"], "port": ["S"]}))
    assert unseen[0, 2] == 0.0  # a category never seen in training sits between the two


def test_recipe_round_trips_through_config_and_state():
    X = frame()
    pre = Preprocessor("regression", scaling="robust", binary="signed").fit(X)
    back = Preprocessor.from_config(pre.to_config(), pre.state())
    np.testing.assert_array_equal(back.transform(X), pre.transform(X))


def test_config_written_before_the_recipe_loads_as_standard_onehot():
    X = frame()
    pre = Preprocessor("regression").fit(X)
    config = pre.to_config()
    for block in config["blocks"]:  # what an older nnguru wrote: no scaling/binary keys
        block.pop("scaling", None)
        block.pop("binary", None)
    back = Preprocessor.from_config(config, pre.state())
    np.testing.assert_array_equal(back.transform(X), pre.transform(X))


@pytest.mark.parametrize(("option", "value"), [("scaling", "minmax"), ("binary", "ordinal")])
def test_unknown_recipe_values_are_refused(option, value):
    with pytest.raises(NNGuruError, match=option):
        Preprocessor("regression", **{option: value}).fit(frame())
