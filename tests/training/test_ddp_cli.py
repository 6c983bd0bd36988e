"""``nnguru train --devices N``: torchrun underneath, the same model as one process, one run
directory, one error message; and ``--device`` values this machine does not have."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nnguru.cli import main
from nnguru.errors import NNGuruError
from nnguru.training import distributed
from nnguru.training.loop import rank_part

# Fast and free of per-rank randomness: an MLP without dropout (ranks draw their own dropout
# masks, and the digits default is a CNN with batch normalization, which normalizes each rank's
# part of a batch), 2 epochs of batch 64: 1257 training rows, so the last batch (41) splits 20/21.
AGREEMENT = ["builtin:digits", "--model", "mlp", "--dropout", "0", "--batch-size", "64", "--seed", "0",
             "--epochs", "2", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def nnguru(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnguru", *args], capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def files(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))


def test_two_processes_train_the_model_one_process_trains(tmp_path):
    assert main(["train", *AGREEMENT, "--out", str(tmp_path / "one")]) == 0
    scratch_before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("nnguru-rank*"))
    out = nnguru("train", *AGREEMENT, "--devices", "2", "--out", str(tmp_path / "two"))
    assert out.returncode == 0, out.stderr[-3000:]
    one, two = tmp_path / "one", tmp_path / "two"

    a, b = load_file(one / "model/weights.safetensors"), load_file(two / "model/weights.safetensors")
    assert sorted(a) == sorted(b)
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    m1, m2 = json.loads((one / "metrics.json").read_text()), json.loads((two / "metrics.json").read_text())
    for key in ("accuracy", "precision", "recall", "f1"):
        assert m1["test"][key] == m2["test"][key]
    assert m2["test"]["loss"] == pytest.approx(m1["test"]["loss"], abs=1e-5)
    assert m1["test"]["confusion_matrix"] == m2["test"]["confusion_matrix"]
    # the logs are all-reduced: the epoch loss is the mean over all 1257 rows, as in one process
    h1, h2 = (p.read_text().splitlines() for p in (one / "history.csv", two / "history.csv"))
    loss = [[float(line.split(",")[1]) for line in h[1:]] for h in (h1, h2)]
    assert loss[1] == pytest.approx(loss[0], abs=1e-5)

    # one run directory, written by rank 0 alone; the other rank's scratch folder is gone
    assert files(one) == files(two)
    assert not list(tmp_path.glob("two-*")) and sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("nnguru-rank*")) <= scratch_before


def test_bad_input_on_every_rank_is_one_message_and_exit_2(tmp_path):
    data = tmp_path / "small.csv"
    data.write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    out = nnguru("train", str(data), "--target", "nosuch", "--devices", "2", "--out", str(tmp_path / "run"))
    assert out.returncode == 2, out.stderr[-3000:]
    assert out.stderr.count("error:") == 1 and "'nosuch' is not a column" in out.stderr
    assert "Traceback" not in out.stderr and "ChildFailedError" not in out.stderr
    assert not (tmp_path / "run").exists()


def test_bad_input_on_one_rank_stops_every_rank_with_its_message(tmp_path):
    # rank 1 alone fails while loading; rank 0 would otherwise wait for it in its first collective
    data = tmp_path / "small.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    worker = Path(__file__).with_name("ddp_cli_worker.py")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          str(worker), str(data), str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=240, env=ENV)
    assert out.returncode != 0
    assert time.perf_counter() - t0 < 120  # no rank waited for the gloo timeout (30 min)
    messages = [line for line in out.stderr.splitlines() if line.startswith("nnguru train")]
    assert messages == [next(m for m in messages if m.startswith("nnguru train (rank 1): error: --target 'nosuch'"))]
    assert len(re.findall(r"exitcode\s*:\s*2 ", out.stderr)) == 2  # torchrun's summary: both ranks exited 2
    assert not (tmp_path / "run").exists()


# ---- how each rank's part of a global batch is chosen ------------------------------------------
@pytest.mark.parametrize("size,world", [(64, 2), (41, 2), (7, 3), (1, 2), (2, 4)])
def test_rank_parts_partition_the_global_batch_and_weight_it_to_its_mean(size, world):
    order = torch.randperm(100)[:size]
    parts = [rank_part(order, 0, size, r, world) for r in range(world)]
    real = [idx for idx, w in parts if w > 0]
    assert sorted(torch.cat(real).tolist()) == sorted(order.tolist())  # every sample once
    # DDP averages per-rank means: (1/world) * sum_r w_r * mean_r == the batch mean for any values
    values = torch.randn(100, dtype=torch.float64)
    ddp_mean = sum(w * values[idx].mean() for idx, w in parts if w > 0) / world
    assert ddp_mean.item() == pytest.approx(values[order].mean().item())
    assert all(len(idx) == 1 for idx, w in parts if w == 0)  # a stand-in keeps the rank in the all-reduce


def test_one_process_takes_the_whole_batch_unweighted():
    order = torch.arange(10)
    idx, w = rank_part(order, 4, 8, 0, 1)
    assert idx.tolist() == [4, 5, 6, 7] and w == 1.0


# ---- options: checked before torchrun starts anything ------------------------------------------
@pytest.mark.parametrize("device", ["cuda", "cuda:3", "cuda:7", "mps", "tpu", "garbage", "cuda:x"])
def test_devices_this_machine_lacks_are_exit_2_naming_the_ones_it_has(tmp_path, capsys, device):
    if torch.cuda.is_available() and device in ("cuda", "cuda:3"):
        pytest.skip("this machine has that GPU")
    assert main(["train", "builtin:iris", "--device", device, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert repr(device) in err and "Devices here: 'cpu'" in err and "internal error" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("args,expected", [
    (["--devices", "0"], "--devices must be a whole number >= 1; received 0"),
    (["--devices", "2", "--nnodes", "2"], "--nnodes 2 needs --rdzv-endpoint HOST:PORT"),
    (["--devices", "2", "--nnodes", "2", "--rdzv-endpoint", "h:1", "--node-rank", "2"], "--node-rank must be below"),
    (["--devices", "2", "--config", "{bad_yaml}"], "lr (--lr) must be a number > 0; received 'x'"),
])
def test_bad_process_options_are_exit_2_before_any_process_starts(tmp_path, capsys, args, expected):
    bad_yaml = tmp_path / "run.yaml"
    bad_yaml.write_text('lr: "x"\n')
    args = [a.format(bad_yaml=bad_yaml) for a in args]
    assert main(["train", "builtin:iris", *args, "--out", str(tmp_path / "run")]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_gpu_processes_need_a_gpu_each(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    distributed.check_devices("cuda", 1)
    distributed.check_devices("cpu", 4)  # CPU processes on a GPU machine: gloo
    with pytest.raises(NNGuruError, match="2 GPU processes need 2 GPUs and this machine has 1.*'cpu', 'cuda:0'"):
        distributed.check_devices("auto", 2)
    with pytest.raises(NNGuruError, match="cannot share the one GPU 'cuda:0'"):
        distributed.check_devices("cuda:0", 2)


def test_torchrun_environment_is_read_and_checked():
    assert distributed.from_env({}) is None
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "h",
           "MASTER_PORT": "29500"}
    assert distributed.from_env(env) == distributed.Launch(3, 4, 1, 2)
    with pytest.raises(NNGuruError, match="LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT are not"):
        distributed.from_env({"RANK": "0", "WORLD_SIZE": "1"})
