"""Options are validated once, in ``resolve_config``, for the Python API, config files and flags.

A wrong value is refused with exit code 2 and a message naming the option, the value and the fix;
it is never clamped, rounded or left to fail deep inside a run ("internal error", exit 1).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnguru.cli import main
from nnguru.config import DEFAULTS, resolve_config
from nnguru.errors import NNGuruError


@pytest.mark.parametrize("option, value, words", [
    ("batch_size", -3, "positive whole number"),
    ("batch_size", 0, "positive whole number"),
    ("epochs", 0, "positive whole number"),
    ("epochs", 2.7, "positive whole number"),
    ("epochs", "ten", "positive whole number"),
    ("patience", -2, "positive whole number"),
    ("seed", -1, ">= 0"),
    ("horizon", 0, "positive whole number"),
    ("lr", "x", "number > 0"),
    ("lr", 0.0, "number > 0"),
    ("lr", float("nan"), "number > 0"),
    ("val_frac", 1.5, "[0, 1)"),
    ("test_frac", -0.1, "[0, 1)"),
    ("dropout", 1.0, "[0, 1)"),
    ("hidden_scale", -1, "number > 0"),
    ("missing", "impute", "'fill', 'drop'"),
    ("transform", "sqrt", "'none', 'log'"),
    ("early_stopping", "yes", "boolean"),
    ("threshold", "high", "'auto' or a number in (0, 1)"),
    ("threshold", 1.5, "'auto' or a number in (0, 1)"),
    ("class_weight", "even", "'balanced'"),
    ("device", "gpu", "'cuda:N'"),
    ("device", "cuda:99", "not available"),
    ("optimizer", 3, "optimizer name"),
    ("tabular", "robust", "mapping of table recipe options"),
    ("tabular", {"scale": "robust"}, "unknown key(s) ['scale']"),
    ("tabular", {"scaling": "minmax"}, "['robust', 'standard']"),
])
def test_invalid_values_are_refused_naming_option_value_and_fix(option, value, words):
    with pytest.raises(NNGuruError) as info:
        resolve_config({option: value})
    text = str(info.value)
    assert option in text and words in text and repr(value)[:20] in text and "Use" in text
    with pytest.raises(NNGuruError):  # the same rule for Python keyword arguments
        resolve_config(**{option: value})


def test_fractions_must_leave_rows_to_train_on():
    with pytest.raises(NNGuruError, match=r"val_frac \(--val-frac\) \+ test_frac"):
        resolve_config(val_frac=0.6, test_frac=0.5)


def test_valid_values_are_kept_and_yaml_strings_read_as_numbers():
    # YAML 1.1 reads 1e-3 as the string "1e-3"; null means "the default"
    cfg = resolve_config(yaml.safe_load("lr: 1e-3\nbatch_size: null\nepochs: 10.0\nthreshold: auto\n"
                                        "optimizer: {name: sgd, lr: 0.1}\nclass_weight: {a: 2}\n"
                                        "column_types: {x: categorical}\npositive: yes\n"))
    assert cfg["lr"] == 0.001 and cfg["batch_size"] == "auto" and cfg["epochs"] == 10
    assert type(cfg["epochs"]) is int and cfg["threshold"] == "auto"
    assert cfg["optimizer"] == {"name": "sgd", "lr": 0.1} and cfg["class_weight"] == {"a": 2}
    assert cfg["positive"] is True  # any label
    assert resolve_config(threshold="0.3")["threshold"] == 0.3
    assert resolve_config(device="cpu")["device"] == "cpu"
    assert resolve_config() == DEFAULTS


def test_cli_negative_batch_size_exits_2_and_writes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "builtin:iris", "--batch-size", "-3", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "--batch-size" in err and "-3" in err and "Traceback" not in err and "internal error" not in err
    assert not run.exists()


@pytest.mark.parametrize("text, option", [('lr: "x"\n', "lr"), ('epochs: "ten"\n', "epochs"),
                                          ("patience: -2\n", "patience")])
def test_cli_bad_config_file_values_exit_2(text, option, tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(text)
    run = tmp_path / "run"
    assert main(["train", "builtin:iris", "--config", str(config), "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert option in err and "internal error" not in err and not run.exists()


def test_cli_device_that_does_not_exist_names_the_devices(tmp_path, capsys):
    import torch

    device = "cuda:99" if torch.cuda.is_available() else "cuda"
    assert main(["train", "builtin:iris", "--device", device, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "not available" in err and "'cpu'" in err and "internal error" not in err


# ---- property tests ----------------------------------------------------------------------------
WHOLE = {"epochs": 1, "patience": 1, "seed": 0, "horizon": 1, "window": 1, "season": 1,
         "test_steps": 1, "shuffle_buffer": 1}
REAL = {"lr": (0, None, False), "hidden_scale": (0, None, False), "dropout": (0, 1, True),
        "val_frac": (0, 1, True), "test_frac": (0, 1, True), "stream_threshold_mb": (0, None, False)}
BOOLS = ("early_stopping", "auto_fix", "tensorboard", "drop_outliers", "allow_outside_paths")
CHOICES = {"missing": ("fill", "drop"), "placeholder_zeros": ("flag", "missing"), "transform": ("none", "log")}
BOOL_OR_AUTO = ("stream",)

values = st.one_of(st.none(), st.booleans(), st.integers(-5, 300), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from(["", "x", "1e-3", "10", "-2", "0.5", "auto", "fill", "log", "inf", "nan"]),
                   st.lists(st.integers(), max_size=2))
keys = st.sampled_from([*WHOLE, *REAL, *BOOLS, *CHOICES, *BOOL_OR_AUTO, "not_an_option"])


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _valid(key, value) -> bool:
    """An independent statement of the rules, to check resolve_config against."""
    if key == "not_an_option":
        return False
    if value is None:  # the default
        return True
    if key in WHOLE:
        x = _number(value)
        if isinstance(value, str) and not value.lstrip("+-").isdigit():
            return False
        return x is not None and math.isfinite(x) and x.is_integer() and x >= WHOLE[key]
    if key in REAL:
        low, high, closed = REAL[key]
        x = _number(value)
        return x is not None and math.isfinite(x) and (x >= low if closed else x > low) and (high is None or x < high)
    if key in BOOLS:
        return isinstance(value, bool)
    if key in CHOICES:
        return value in CHOICES[key]
    if key in BOOL_OR_AUTO:
        return isinstance(value, bool) or value == "auto"
    return False  # an unknown option


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(keys, values, max_size=4))
def test_resolve_config_accepts_exactly_the_valid_configs(config):
    valid = all(_valid(k, v) for k, v in config.items())
    fracs = tuple(DEFAULTS[k] if config.get(k) is None else config[k] for k in ("val_frac", "test_frac"))
    if valid:
        valid = _number(fracs[0]) + _number(fracs[1]) < 1
    try:
        cfg = resolve_config(dict(config))
    except NNGuruError as exc:
        assert not valid, f"refused a valid config {config}: {exc}"
        assert str(exc).strip()
        return
    assert valid, f"accepted an invalid config {config}"
    for key, value in config.items():  # accepted values are used as given, never changed
        if value is not None and key in {**WHOLE, **REAL}:
            assert cfg[key] == _number(value)


invalid_flags = st.one_of(
    st.tuples(st.sampled_from(["--epochs", "--batch-size", "--patience", "--horizon", "--window",
                               "--season", "--test-steps"]), st.integers(-1000, 0).map(str)),
    st.tuples(st.sampled_from(["--lr"]), st.sampled_from(["0", "-1e-3", "nan", "inf", "-0.1"])),
    st.tuples(st.sampled_from(["--val-frac", "--test-frac"]),
              st.floats(allow_nan=False).filter(lambda x: not 0 <= x < 1).map(repr)),
    st.tuples(st.sampled_from(["--dropout"]), st.sampled_from(["1", "-0.5", "2.0", "inf"])),
    st.tuples(st.sampled_from(["--threshold"]), st.sampled_from(["0", "1", "x", "-0.2", "automatic"])),
    st.tuples(st.sampled_from(["--device"]), st.sampled_from(["gpu", "cuda:99", "tpu", "cuda:x"])),
    st.tuples(st.sampled_from(["--seed"]), st.integers(-1000, -1).map(str)),
    st.tuples(st.sampled_from(["--epochs", "--batch-size", "--seed"]), st.sampled_from(["ten", "2.7", "", "1e9x"])),
    st.tuples(st.sampled_from(["--lr"]), st.sampled_from(["ten", "", "1e9x"])),
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag_value=invalid_flags)
def test_cli_invalid_flags_exit_2_with_a_message_and_write_nothing(flag_value, capsys):
    flag, value = flag_value
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        try:
            code = main(["train", "builtin:iris", "--out", str(run), "--epochs", "1", f"{flag}={value}"])
        except SystemExit as exc:  # argparse's own refusal (e.g. --epochs ten): usage + exit 2
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2, err
        assert "Traceback" not in err and "internal error" not in err
        assert flag.lstrip("-").split("-")[0] in err  # the option is named
        assert not run.exists()
