"""SIGKILL a CLI run at random moments, resume it each time: it always resumes and ends with exactly the
uninterrupted run's history, weights and test metrics, and leaves no temporary files."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file

KILLS = 10


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "nnguru.cli", *args]


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    frame = pd.DataFrame(x, columns=list("abcde"))
    frame["y"] = np.where(x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.5, 400) > 0, "yes", "no")
    path = tmp_path_factory.mktemp("data") / "data.csv"
    frame.to_csv(path, index=False)
    return path


def _holder(run) -> int | None:
    """The pid in the marker of the run being written (its partial folder), if any."""
    try:
        return json.loads((run.parent / f".{run.name}.partial" / ".nnguru-run").read_text()).get("pid")
    except (OSError, ValueError):
        return None


def outcome(run):
    hist = pd.read_csv(run / "history.csv").drop(columns=["seconds"])
    metrics = json.loads((run / "metrics.json").read_text())
    return hist, load_file(run / "model" / "weights.safetensors"), metrics["test"], metrics["epochs_run"]


def test_sigkill_at_random_moments_then_resume_is_exact(tmp_path, csv_file):
    opts = ["--target", "y", "--epochs", "12", "--batch-size", "16", "--checkpoint-every", "5", "--quiet"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    ref = tmp_path / "ref"
    subprocess.run(cli("train", str(csv_file), "--out", str(ref), *opts), env=env, check=True, timeout=300)

    run = tmp_path / "runs" / "run"
    rng = random.Random(0)
    survived = 0
    for _ in range(KILLS):
        resuming = (run.parent / ".run.partial").exists()
        cmd = cli("train", "--resume", str(run)) if resuming else cli("train", str(csv_file), "--out", str(run), *opts)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if rng.random() < 0.25:  # anywhere from the start: imports, reading the data, ...
            time.sleep(rng.uniform(0.2, 3.0))
        else:  # once this process holds the run (its pid in the marker): prepare, fit, checkpoint and
            # bundle writes, the commit. Anchored on progress, not the clock, so a slow machine kills
            # as often inside the run as a fast one.
            started = time.monotonic()
            while proc.poll() is None and time.monotonic() - started < 120 and _holder(run) != proc.pid:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        err = proc.stderr.read()
        assert "Traceback" not in err and "internal error" not in err, err
        survived += 1
    done = subprocess.run(cli("train", "--resume", str(run)) if (run.parent / ".run.partial").exists()
                          else cli("train", str(csv_file), "--out", str(run), *opts) if not run.exists()
                          else cli("train", "--resume", str(run)),
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    hist, weights, test, epochs = outcome(run)
    hist_ref, weights_ref, test_ref, epochs_ref = outcome(ref)
    pd.testing.assert_frame_equal(hist, hist_ref, check_exact=True)
    assert weights.keys() == weights_ref.keys()
    assert all(np.array_equal(weights[k], weights_ref[k]) for k in weights)
    assert test == test_ref and epochs == epochs_ref
    leftovers = [str(p) for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or ".partial" in p.name
                 or ".new-" in p.name or ".old-" in p.name or p.name == "checkpoints"]
    assert not leftovers
    assert json.loads((run / ".nnguru-run").read_text()).get("resumed", 0) >= 3  # the kills did hit the run
    print(f"kills survived / tried: {survived}/{KILLS}")
