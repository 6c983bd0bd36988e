"""Tasks are plug-ins: a new task is one class and a registration; nothing else names a task."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import nnguru
from nnguru import tasks
from nnguru.errors import NNGuruError
from nnguru.evaluate import baseline
from nnguru.tasks.regression import Regression

SRC = Path(nnguru.__file__).parent


def test_builtin_tasks_and_auto_order():
    assert tasks.names()[:3] == ["forecast", "classification", "regression"]
    assert tasks.get("binary") is tasks.get("classification")
    with pytest.raises(NNGuruError, match="Unknown task 'ranking'.*forecast"):
        tasks.check("ranking")


def test_a_task_added_in_one_class_runs_the_whole_pipeline(tmp_path):
    @tasks.register
    class RobustRegression(Regression):
        """Regression with a Huber loss: one class, no change anywhere else."""

        name = "robust-regression"
        loss = "huber"
        auto_rank = 1000

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.standard_t(2, 300)
    run = nnguru.train((X, y), task="robust-regression", out=tmp_path / "run", verbose=0, epochs=20)
    assert run.metrics["task"] == "robust-regression" and run.model.loss.get_config()["name"] == "huber"
    assert run.metrics["test"]["r2"] > run.metrics["baseline"]["r2"]
    assert baseline("robust-regression", y[:10], y[10:20])["strategy"].startswith("mean")
    assert nnguru.load_run(run.run_dir)[1]["task"] == "robust-regression"
    assert len(run.predict(X[:7])) == 7


def test_no_module_outside_tasks_branches_on_a_task_name():
    pattern = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](classification|regression|forecast)["']""")
    offenders = [f"{path.relative_to(SRC)}:{n}" for path in SRC.rglob("*.py") if "tasks" not in path.parts
                 for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_an_option_of_another_task_is_refused_before_anything_is_written(tmp_path, capsys):
    from nnguru.cli import main

    assert main(["train", "builtin:iris", "--horizon", "3", "--out", str(tmp_path / "run")]) == 2
    assert "--horizon 3 applies to the forecast task" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
