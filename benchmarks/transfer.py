"""Transfer learning (``--from``, issue 16): the two acceptance measurements, on more seeds than CI runs.

MNIST: pretrain the CNN template on digits 0-4, then per seed take 50 labelled images of each of 5-9;
compare the same template from scratch on those 500 images (nnguru's defaults: early stopping) with
``--from`` the 0-4 run; test accuracy on MNIST's official test images of 5-9 (4,861).

Digits (``--digits``): a run on every FSDD recording of 0-4, then per seed 20 random recordings of each
of 5-9: scratch and ``--from`` scored on the other 1,150 recordings of 5-9.

Speaker: FSDD's shared copy has five speakers; a run on four of them, then the fifth speaker's 50
recordings of repetitions 5-9 (5 per digit): the base alone, from scratch on the 50, and ``--from``
the base, each scored on the speaker's other 450 recordings.

    .venv/bin/python benchmarks/transfer.py [--quick] [--seeds 5] [--skip-speaker] [--skip-mnist]
                                            [--hidden-scale 0.5] [--pretrain-epochs 8] [--pretrain-images N]
                                            [--digits]

--quick: 2 seeds. Every run has no time budget (``time_budget="none"``) so the figures do not depend on
the machine's load; a run of nnguru's defaults otherwise stops after 90 s. The functions are shared
with tests/acceptance/test_transfer_acceptance.py (which runs fewer seeds).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import nnguru
from nnguru.cli import main as cli
from nnguru.datasets import load_mnist

# the CNN template at half width; the base trains 8 epochs on the ~30,600 images of 0-4: a base cut at 2
# (0.990 on its test split, vs 0.995) gave half the gain (RESULTS.md, "Transfer, fourth round")
MNIST_OPTIONS = {"model": "cnn", "hidden_scale": 0.5, "verbose": 0, "monitor": False, "time_budget": "none"}
PRETRAIN_EPOCHS = 8
PER_CLASS = 50
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo")  # the shared copy of FSDD has these five
FEW_REPETITIONS = range(5, 10)  # the new speaker's labelled recordings: 5 per digit
SPEAKER_FLAGS = ["--label-from-name", r"^(\d+)-", "--allow-outside-paths", "--quiet", "--no-monitor",
                 "--time-budget", "none"]


def datasets() -> Path:
    return Path(os.environ.get("NNGURU_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


# ---- MNIST 0-4 -> 5-9 ---------------------------------------------------------------------------------
def pretrain_mnist(mnist: Path, out: Path, epochs: int = PRETRAIN_EPOCHS, images: int | None = None,
                   **options) -> float:
    """Train the base on MNIST's training images of 0-4 (all ~30,600, or ``images`` of them drawn at
    random, for CI); returns the seconds it took."""
    (xtr, ytr), _ = load_mnist(mnist)
    low = np.flatnonzero(ytr <= 4)
    if images is not None:
        low = np.sort(np.random.default_rng(0).choice(low, images, replace=False))
    t0 = time.perf_counter()
    nnguru.train((xtr[low], ytr[low]), out=out, epochs=epochs, **{**MNIST_OPTIONS, **options})
    return round(time.perf_counter() - t0, 1)


def mnist_seed(mnist: Path, base: Path, seed: int, tmp: Path, **options) -> dict:
    """One seed: scratch and fine-tuned accuracy on MNIST's test images of 5-9."""
    (xtr, ytr), (xte, yte) = load_mnist(mnist)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(ytr == c), PER_CLASS, replace=False) for c in range(5, 10)])
    test = yte >= 5
    row: dict = {"seed": seed}
    for name, extra in (("scratch", {}), ("fine_tuned", {"base": base})):
        t0 = time.perf_counter()
        run = nnguru.train((xtr[idx], ytr[idx]), out=tmp / f"{name}{seed}", seed=seed,
                           **{**MNIST_OPTIONS, **options, **extra})
        row[name] = round(float((run.predict(xte[test]) == yte[test]).mean()), 4)
        row[f"{name}_seconds"] = round(time.perf_counter() - t0, 1)
    return row


# ---- a new speaker ----------------------------------------------------------------------------------------
def _link(folder: Path, files: list[Path]) -> Path:
    """A folder of symlinks named ``digit-speaker-repetition.wav`` (not FSDD's ``_`` names, so the pipeline
    splits the few files at random instead of taking repetitions 0-4 as the test set)."""
    folder.mkdir(parents=True)
    for f in files:
        (folder / f.name.replace("_", "-")).symlink_to(f.resolve())
    return folder


def _accuracy(run_dir: Path, data: Path, tmp: Path) -> float:
    out = tmp / f"eval-{run_dir.name}.json"
    assert cli(["evaluate", str(run_dir), str(data), "--label-from-name", r"^(\d+)-", "--allow-outside-paths",
                "--out", str(out), "--quiet"]) == 0
    return round(float(json.loads(out.read_text())["test"]["accuracy"]), 4)


def speaker_folders(fsdd: Path, tmp: Path) -> tuple[Path, Path, Path]:
    """(four speakers' recordings, the fifth's 50 labelled ones, the fifth's other 450), as symlinks."""
    recordings = sorted((fsdd / "recordings").glob("*.wav"))
    new = SPEAKERS[-1]
    mine = [f for f in recordings if f.stem.split("_")[1] == new]
    few = [f for f in mine if int(f.stem.split("_")[2]) in FEW_REPETITIONS]
    return (_link(tmp / "others", [f for f in recordings if f.stem.split("_")[1] in SPEAKERS[:-1]]),
            _link(tmp / "few", few), _link(tmp / "held_out", [f for f in mine if f not in few]))


def speaker_base(others: Path, out: Path) -> float:
    t0 = time.perf_counter()
    assert cli(["train", str(others), "--out", str(out), *SPEAKER_FLAGS]) == 0
    return round(time.perf_counter() - t0, 1)


def speaker_seed(base: Path, few: Path, held_out: Path, seed: int, tmp: Path, extra: list[str] = ()) -> dict:
    """One seed: scratch on the few recordings and ``--from`` the base, scored on the held-out ones.
    ``extra``: more train flags for both (e.g. ``--test-frac 0``: the held-out folder is the test)."""
    row: dict = {"seed": seed}
    for name, flags in (("scratch", []), ("fine_tuned", ["--from", str(base)])):
        out = tmp / f"{name}{seed}"
        t0 = time.perf_counter()
        assert cli(["train", str(few), "--out", str(out), "--seed", str(seed), *flags, *extra, *SPEAKER_FLAGS]) == 0
        row[f"{name}_seconds"] = round(time.perf_counter() - t0, 1)
        row[name] = _accuracy(out, held_out, tmp)
    return row


# ---- a second pair: spoken digits 0-4 -> 5-9 -----------------------------------------------------------
# labelled recordings of each of 5-9: 20 (14 train, 3 validation, 3 test each); at 10 the 7 validation
# files decide early stopping by chance, so both arms scatter (RESULTS.md, "Transfer, fourth round")
DIGITS_PER_CLASS = 20


def digit_base(fsdd: Path, tmp: Path) -> tuple[Path, float]:
    """A run on every recording of 0-4 (all speakers); returns its folder and seconds."""
    recordings = sorted((fsdd / "recordings").glob("*.wav"))
    low = _link(tmp / "digits04", [f for f in recordings if int(f.stem.split("_")[0]) <= 4])
    return tmp / "digits-base", speaker_base(low, tmp / "digits-base")


def digit_seed(fsdd: Path, base: Path, seed: int, tmp: Path, per_class: int = DIGITS_PER_CLASS) -> dict:
    """One seed: ``per_class`` recordings of each of 5-9 drawn at random; scratch and ``--from`` scored on
    every other recording of 5-9."""
    recordings = sorted((fsdd / "recordings").glob("*.wav"))
    rng = np.random.default_rng(seed)
    few = [f for d in range(5, 10)
           for f in rng.choice([f for f in recordings if int(f.stem.split("_")[0]) == d], per_class,
                               replace=False)]
    rest = [f for f in recordings if int(f.stem.split("_")[0]) >= 5 and f not in few]
    return speaker_seed(base, _link(tmp / f"few{seed}", few), _link(tmp / f"rest{seed}", rest), seed, tmp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--hidden-scale", type=float, default=MNIST_OPTIONS["hidden_scale"])
    ap.add_argument("--pretrain-epochs", type=int, default=PRETRAIN_EPOCHS)
    ap.add_argument("--skip-mnist", action="store_true")
    ap.add_argument("--skip-speaker", action="store_true")
    ap.add_argument("--digits", action="store_true", help="also spoken digits 0-4 -> 5-9")
    ap.add_argument("--digits-per-class", type=int, default=DIGITS_PER_CLASS)
    ap.add_argument("--pretrain-images", type=int, default=None,
                    help="MNIST base on this many images of 0-4 drawn at random (default: all ~30,600)")
    args = ap.parse_args()
    seeds = range(2 if args.quick else args.seeds)
    summary: dict = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_mnist:
            mnist, base = datasets() / "mnist", tmp / "mnist-base"
            summary["mnist_pretrain_seconds"] = pretrain_mnist(mnist, base, args.pretrain_epochs,
                                                               args.pretrain_images, hidden_scale=args.hidden_scale)
            rows = []
            for seed in seeds:
                rows.append(mnist_seed(mnist, base, seed, tmp / "mnist", hidden_scale=args.hidden_scale))
                print(json.dumps({"mnist": rows[-1]}), flush=True)
            summary["mnist"] = _summary(rows)
        if not args.skip_speaker:
            others, few, held_out = speaker_folders(datasets() / "free_spoken_digit_dataset", tmp / "fsdd")
            base = tmp / "speaker-base"
            summary["speaker_base_seconds"] = speaker_base(others, base)
            summary["speaker_base_alone"] = _accuracy(base, held_out, tmp)
            rows = []
            for seed in seeds:
                rows.append(speaker_seed(base, few, held_out, seed, tmp / "speaker"))
                print(json.dumps({"speaker": rows[-1]}), flush=True)
            summary["speaker"] = _summary(rows)
        if args.digits:
            fsdd = datasets() / "free_spoken_digit_dataset"
            base, summary["digits_base_seconds"] = digit_base(fsdd, tmp / "digits")
            rows = []
            for seed in seeds:
                rows.append(digit_seed(fsdd, base, seed, tmp / "digits" / f"seed{seed}", args.digits_per_class))
                print(json.dumps({"digits": rows[-1]}), flush=True)
            summary["digits"] = _summary(rows)
    print(json.dumps(summary, indent=2))


def _summary(rows: list[dict]) -> dict:
    out = {}
    for name in ("scratch", "fine_tuned"):
        values = [r[name] for r in rows]
        out[name] = {"mean": round(float(np.mean(values)), 4), "min": float(np.min(values)),
                     "max": float(np.max(values))}
    out["gain"] = [round(r["fine_tuned"] - r["scratch"], 4) for r in rows]
    return out


if __name__ == "__main__":
    main()
