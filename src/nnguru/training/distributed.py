"""Several processes: torchrun's environment, the process group, who writes, failing together.

Under ``torchrun`` (or ``nnguru train --devices N``, which starts torchrun) every rank runs the
same program on the same data (SPMD):

    session()          init the process group from torchrun's env; destroy it at the end
    together()         a stage every rank leaves together: if one rank raised, all do
    is_main()          rank 0: the only one that writes the run directory and prints
    launch(...)        ``--devices N``: re-run this command under torch.distributed.run

Every rank prepares the data itself (loading, cleaning, splitting and preprocessing are
deterministic and seeded, so the ranks hold identical arrays) instead of rank 0 broadcasting
it: every rank needs the whole training split anyway (each batch is a slice of one shared
permutation, see ``training/loop.py``), and nothing has to be serialized. The later stages run
on every rank too, so every collective (validation metrics, early stopping, ``--auto-fix``'s
second fit) is met by all ranks; the other ranks write into a scratch folder of their own that
is removed at the end (:func:`output`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from nnguru.errors import NNGuruError

# torchrun sets these in every worker's environment (MASTER_ADDR/PORT: where rank 0's store listens)
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
EXIT_BAD_INPUT, EXIT_BUG = 2, 1


@dataclass(frozen=True)
class Launch:
    """This process's place among torchrun's workers."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int


def from_env(environ: os._Environ | dict | None = None) -> Launch | None:
    """torchrun's description of this worker, or None when this process was not started by it."""
    env = os.environ if environ is None else environ
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return None
    missing = [k for k in ENV_KEYS if k not in env]
    if missing:
        raise NNGuruError(
            f"RANK and WORLD_SIZE are set but {', '.join(missing)} are not: this process looks started by "
            "something other than torchrun. Start it with `torchrun --nproc-per-node N -m nnguru train ...` "
            "or `nnguru train ... --devices N`, or unset RANK and WORLD_SIZE for one process."
        )
    try:
        return Launch(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["LOCAL_RANK"]),
                      int(env["LOCAL_WORLD_SIZE"]))
    except ValueError:
        raise NNGuruError(f"torchrun's RANK/WORLD_SIZE/LOCAL_RANK/LOCAL_WORLD_SIZE must be whole numbers; "
                          f"received {[env[k] for k in ENV_KEYS[:4]]}.") from None


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0, or a single process: the one that writes files and prints."""
    return rank() == 0


def backend() -> str:
    """gloo for CPU tensors, and nccl for CUDA tensors where there is CUDA (one group serves both,
    so a run on ``--device cpu`` of a GPU machine still works)."""
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


@contextlib.contextmanager
def session() -> Iterator[Launch | None]:
    """The process group for the duration of a command started by torchrun; nothing otherwise.

    Each rank takes the GPU of its local rank (``torch.device("cuda")`` then means that one). The
    group is destroyed at the end, on errors too; a rank that raises outside :func:`together`
    makes torchrun stop the others, so none waits for it.
    """
    launch = from_env()
    if launch is None or (dist.is_available() and dist.is_initialized()):
        yield launch
        return
    if torch.cuda.is_available() and launch.local_rank < torch.cuda.device_count():
        torch.cuda.set_device(launch.local_rank)  # check_devices refused more GPU processes than GPUs
    dist.init_process_group(backend())
    try:
        yield launch
    finally:
        _remove_scratch()
        dist.destroy_process_group()


def check_devices(device: str, processes: int) -> None:
    """Refuse a device choice that ``processes`` processes on this machine cannot share: each GPU
    process takes the GPU of its local rank, so there must be as many GPUs, and a fixed index or
    Apple's mps (which no process group reaches) cannot serve several."""
    if processes <= 1 or device == "cpu":
        return
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    here = ", ".join(["'cpu'", *(f"'cuda:{i}'" for i in range(n_gpus))])
    if device == "auto" and n_gpus == 0:
        return  # CPU processes
    if device in ("auto", "cuda") and processes <= n_gpus:
        return
    if device in ("auto", "cuda"):
        why = f"{processes} GPU processes need {processes} GPUs and this machine has {n_gpus}"
    elif device.startswith("cuda:"):
        why = f"{processes} processes cannot share the one GPU {device!r}: each takes the GPU of its local rank"
    else:
        why = f"{device!r} cannot join a process group (PyTorch's gloo and nccl reach CPUs and CUDA GPUs)"
    raise NNGuruError(
        f"device (--device) {device!r} with {processes} processes per machine (--devices): {why}. Devices "
        f"here: {here}. Pass --device cuda with at most {max(n_gpus, 1)} processes, or --device cpu for CPU "
        "processes (gloo)." if n_gpus else
        f"device (--device) {device!r} with {processes} processes per machine (--devices): {why}. Devices "
        f"here: {here}. Pass --device cpu (or auto) for CPU processes (gloo)."
    )


class PeerFailed(Exception):
    """Another rank failed in a :func:`together` stage and reports it; this one leaves quietly."""

    def __init__(self, rank: int, exit_code: int) -> None:
        super().__init__(f"rank {rank} failed (exit code {exit_code}); it reported the error")
        self.rank, self.exit_code = rank, exit_code


def exit_code(exc: BaseException) -> int:
    """2 for the user's bad input (an NNGuruError), 1 for a bug; what ``nnguru`` exits with."""
    if isinstance(exc, PeerFailed):
        return exc.exit_code
    return EXIT_BAD_INPUT if isinstance(exc, NNGuruError) else EXIT_BUG


def reports(exc: BaseException) -> bool:
    """Whether this process prints ``exc``: for bad input, a single process or rank 0 (every rank
    meets it alike) or the first failing rank of a :func:`together` stage; never a PeerFailed."""
    if isinstance(exc, PeerFailed):
        return False
    if getattr(exc, "_nnguru_agreed", False) or not isinstance(exc, NNGuruError):
        return True  # a bug may strike one rank only: each rank that meets one says so
    launch = from_env()
    return launch is None or launch.rank == 0


@contextlib.contextmanager
def together() -> Iterator[None]:
    """A stage that every rank leaves together, raising if any rank raised.

    Without it, a rank whose data is bad (a file missing on one machine) would leave while the
    others wait for it in their first collective. After the stage the ranks all-reduce one exit
    code each; the first failing rank re-raises its error (and prints it), the others raise
    :class:`PeerFailed` and exit quietly with the same code: one message, not N.
    """
    world = world_size()
    if world == 1:
        yield
        return
    failure: Exception | None = None
    try:
        yield
    except Exception as exc:  # KeyboardInterrupt and SystemExit pass: torchrun stops the others
        failure = exc
    codes = torch.zeros(world, dtype=torch.int64, device=_collective_device())
    codes[rank()] = 0 if failure is None else exit_code(failure)
    dist.all_reduce(codes)
    failed = codes.nonzero().flatten().tolist()
    if not failed:
        return
    first = failed[0]
    if failure is not None and rank() == first:
        failure._nnguru_agreed = True  # type: ignore[attr-defined]
        raise failure
    raise PeerFailed(first, int(codes[first])) from failure


def _collective_device() -> torch.device:
    """Where a small tensor must live for the group's backend (nccl only reduces CUDA tensors)."""
    name = str(dist.get_backend())
    return torch.device("cpu") if "gloo" in name else torch.device("cuda", torch.cuda.current_device())


# ---- only rank 0 writes ------------------------------------------------------------------------
_scratch: Path | None = None


def output(run_dir: Path | str | None) -> Path | str | None:
    """Where this rank writes its run: rank 0 (or one process) where asked, the others into a
    scratch folder of their own, removed when the session ends. A run directory already in the
    scratch folder (``--auto-fix``'s second run) stays where it is."""
    global _scratch
    if is_main():
        return run_dir
    if _scratch is None:
        _scratch = Path(tempfile.mkdtemp(prefix=f"nnguru-rank{rank()}-"))
        atexit.register(_remove_scratch)  # a script's own process group; session() removes it sooner
    if run_dir is not None and Path(run_dir).resolve().is_relative_to(_scratch.resolve()):
        return run_dir
    return Path(tempfile.mkdtemp(dir=_scratch))


def quiet(console: Any) -> Any:
    """The console this rank prints to: the given one on rank 0, a silent one elsewhere."""
    if is_main():
        return console
    from rich.console import Console

    return Console(quiet=True)


def _remove_scratch() -> None:
    global _scratch
    if _scratch is not None:
        shutil.rmtree(_scratch, ignore_errors=True)
        _scratch = None


def leave(code: int) -> None:
    """End a torchrun worker without interpreter finalization: a gloo thread may still be releasing
    its last collective's tensors, and one that asks for the GIL then aborts the process
    ("terminate called without an active exception"; see README, *Several processes*)."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


# ---- nnguru train --devices N ------------------------------------------------------------------
def launch(argv: list[str], devices: int, *, nnodes: int = 1, node_rank: int | None = None,
           rdzv_endpoint: str | None = None, torchrun_args: list[str] | None = None,
           debug: bool = False) -> int:
    """Run ``nnguru <argv>`` as ``devices`` processes per machine through torch.distributed.run
    (torchrun's own module API) and return nnguru's exit code: that of the first failing rank.

    One machine: a private rendezvous on a free port (``--standalone``). Several: every machine
    runs the same command with ``--nnodes`` and the same ``--rdzv-endpoint HOST:PORT`` (torchrun's
    c10d rendezvous numbers the machines), or with ``--node-rank`` for a fixed numbering (torchrun's
    static rendezvous, rank 0's machine at HOST:PORT).
    """
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    args = [f"--nproc-per-node={devices}"]
    if nnodes == 1 and rdzv_endpoint is None:
        args.append("--standalone")
    else:
        if rdzv_endpoint is None:
            raise NNGuruError(
                f"--nnodes {nnodes} needs --rdzv-endpoint HOST:PORT, the address every machine can reach "
                "(e.g. the first machine's, --rdzv-endpoint 10.0.0.1:29400), given the same on each machine."
            )
        args += [f"--nnodes={nnodes}", f"--rdzv-endpoint={rdzv_endpoint}"]
        if node_rank is None:
            args += ["--rdzv-backend=c10d", "--rdzv-id=nnguru"]
        else:
            args += ["--rdzv-backend=static", f"--node-rank={node_rank}"]
    args += list(torchrun_args or [])
    parsed = torchrun.parse_args([*args, "-m", "nnguru", *argv])
    # torchrun would set 1 thread per process, and warn; split this machine's cores instead
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // devices)))
    if not debug:  # a rank's error is printed once by nnguru; torchrun's own summary adds nothing
        logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
        logging.getLogger("torch.distributed.run").setLevel(logging.CRITICAL)
    try:
        torchrun.run(parsed)
    except ChildFailedError as err:
        codes = [f.exitcode for _, f in sorted(err.failures.items()) if f.exitcode > 0]
        return codes[0] if codes else EXIT_BUG
    return 0
