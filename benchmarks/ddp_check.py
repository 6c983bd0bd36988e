"""DDP vs single-process agreement, and torchrun + nccl on a GPU: the figures for RESULTS.md.

    python benchmarks/ddp_check.py [--processes 2] [--out DIR]

1. CPU, gloo: ``nnguru train builtin:digits`` as one process and as ``--devices N --device cpu``
   with the same global batch and seed; prints the largest weight difference, the test metrics of
   both and the epoch losses. On a GPU machine this also runs gloo inside the mixed
   ``cpu:gloo,cuda:nccl`` process group that nnguru creates there.
2. GPU, nccl (skipped without CUDA): the same run on ``--device cuda`` as a plain process and
   under ``torchrun --nproc-per-node 1`` (nccl group, the GPU of local rank 0), compared the
   same way (bf16 autocast on a GPU: agreement to ~1e-3, not 1e-7); and ``--devices K+1`` on a
   K-GPU machine must be refused with exit 2.

Exit code 0 when every check holds. Each run takes a few seconds (digits, an MLP, 2 epochs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

RECIPE = ["builtin:digits", "--model", "mlp", "--dropout", "0", "--batch-size", "64", "--seed", "0",
          "--epochs", "2", "--quiet", "--no-early-stopping"]


def nnguru(*args: str, torchrun: int = 0) -> tuple[int, float, str]:
    """Exit code, wall seconds and stderr of one ``nnguru`` command (optionally under torchrun)."""
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={torchrun}"] if torchrun else []
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *launcher, "-m", "nnguru", *args], capture_output=True, text=True,
                         timeout=600)
    return out.returncode, time.perf_counter() - t0, out.stderr


def compare(a: Path, b: Path) -> dict:
    wa, wb = load_file(a / "model/weights.safetensors"), load_file(b / "model/weights.safetensors")
    ma, mb = (json.loads((d / "metrics.json").read_text())["test"] for d in (a, b))
    la, lb = ([float(x.split(",")[1]) for x in (d / "history.csv").read_text().splitlines()[1:]] for d in (a, b))
    return {"max_weight_diff": max((wa[k] - wb[k]).abs().max().item() for k in wa),
            "test_accuracy": (ma["accuracy"], mb["accuracy"]), "test_loss": (ma["loss"], mb["loss"]),
            "test_f1": (ma["f1"], mb["f1"]), "epoch_loss": (la, lb),
            "files_equal": sorted(p.name for p in a.rglob("*")) == sorted(p.name for p in b.rglob("*"))}


def report(name: str, seconds: tuple[float, float], c: dict, tol: float, acc_tol: float = 0.0) -> bool:
    ok = (c["max_weight_diff"] <= tol and c["files_equal"]
          and abs(c["test_accuracy"][0] - c["test_accuracy"][1]) <= acc_tol)
    print(f"{name}: max |w1 - w2| = {c['max_weight_diff']:.3g} (tolerance {tol:g}); test accuracy "
          f"{c['test_accuracy'][0]:.4f} vs {c['test_accuracy'][1]:.4f}; test loss {c['test_loss'][0]:.6f} vs "
          f"{c['test_loss'][1]:.6f}; f1 {c['test_f1'][0]:.4f} vs {c['test_f1'][1]:.4f}; epoch losses "
          f"{[round(v, 6) for v in c['epoch_loss'][0]]} vs {[round(v, 6) for v in c['epoch_loss'][1]]}; same files "
          f"{c['files_equal']}; wall {seconds[0]:.1f} s vs {seconds[1]:.1f} s -> {'OK' if ok else 'FAILED'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="CPU processes for the gloo check")
    parser.add_argument("--out", help="keep the run directories here (default: a temporary folder)")
    args = parser.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="nnguru-ddp-check-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"torch {torch.__version__}; CUDA GPUs: {torch.cuda.device_count() if torch.cuda.is_available() else 0}; "
          f"CPU cores: {os.cpu_count()}; runs in {root}")
    ok = True

    one, many = root / "cpu-1", root / f"cpu-{args.processes}"
    r1 = nnguru("train", *RECIPE, "--device", "cpu", "--out", str(one), "--overwrite")
    r2 = nnguru("train", *RECIPE, "--device", "cpu", "--devices", str(args.processes), "--out", str(many),
                "--overwrite")
    if r1[0] or r2[0]:
        print(f"gloo check: exit codes {r1[0]}, {r2[0]}\n{r1[2][-2000:]}\n{r2[2][-2000:]}")
        return 1
    ok &= report(f"gloo, 1 vs {args.processes} CPU processes", (r1[1], r2[1]), compare(one, many), 1e-5)

    if not torch.cuda.is_available():
        print("nccl check: skipped (no CUDA GPU)")
        return 0 if ok else 1
    plain, ranked = root / "gpu-plain", root / "gpu-torchrun"
    r1 = nnguru("train", *RECIPE, "--device", "cuda", "--out", str(plain), "--overwrite")
    r2 = nnguru("train", *RECIPE, "--device", "cuda", "--out", str(ranked), "--overwrite", torchrun=1)
    if r1[0] or r2[0]:
        print(f"nccl check: exit codes {r1[0]}, {r2[0]}\n{r1[2][-2000:]}\n{r2[2][-2000:]}")
        return 1
    ok &= report("nccl, plain GPU process vs torchrun's 1 GPU process", (r1[1], r2[1]), compare(plain, ranked),
                 1e-3, 0.01)
    too_many = torch.cuda.device_count() + 1
    code, _, err = nnguru("train", *RECIPE, "--device", "cuda", "--devices", str(too_many), "--out",
                          str(root / "refused"))
    refused = code == 2 and "GPUs and this machine has" in err and not (root / "refused").exists()
    print(f"--devices {too_many} --device cuda on {too_many - 1} GPU(s): exit {code}, "
          f"{err.strip().splitlines()[-1][:160] if err.strip() else ''} -> {'OK' if refused else 'FAILED'}")
    return 0 if ok and refused else 1


if __name__ == "__main__":
    sys.exit(main())
