"""Table defaults: ``nnguru train TABLE`` (defaults) against scikit-learn's HistGradientBoosting.

For each table and seed, nnguru runs with its defaults (``default``), with the previous defaults
(``old``: standard scaling, two one-hot columns for binary categories, no feature scale, no label
smoothing, Adam(0.9, 0.999), constant learning rate, threshold 0.5), and with each new choice
reverted alone (``-scaling``, ``-binary``, ... : the ablation rows). HistGradientBoosting with
defaults (what a practitioner tries first) is fitted on the same training + validation rows (it
needs no validation split: it picks its iterations itself above 10,000 rows) and scored on the
same test rows, on one thread (threadpoolctl; see below): the split is nnguru's, recomputed from
the seed (``task.prepare``), and HGB gets nnguru's encoded features (trees do not care about
monotone rescaling; one-hot/±1 is what a practitioner's ``OneHotEncoder`` would give).

Score: accuracy; F1 of the positive class on imbalanced binary tables (positive share < 20%,
nnguru's own rule for choosing the threshold); MAE for regression (lower is better). Wall time:
nnguru's whole ``train`` (prepare, fit, evaluate, report) against HGB's fit + predict. HGB runs on
one OpenMP thread: on a 2-core machine shared with other jobs its two threads spin-wait on each
other (37-95 s per fit measured at load 10-17, against ~1 s alone).

Tables: the shared ones (titanic, pima_indians_diabetes, boston_housing; NNGURU_DATASETS or
../shared/datasets), scikit-learn's bundled breast_cancer and wine, a generated imbalanced
``make_classification`` (5% positive) and a generated census-like table with categoricals.
California housing needs a download (not offline here): left out. Issue 12's second round adds
scikit-learn's iris, diabetes (regression) and digits (64 pixel columns as a table), and generated
tables: ``categorical`` (3 classes, 4 of 10 columns binned into 3-8 string levels),
``imbalanced_2pct`` (2% positive) and ``friedman`` (Friedman #1 regression, noise sd 1); variants
``ens4``/``ens8`` (k members sharing the mlp, ``tabular: {ensemble: k}``) and ``ntk``/``ntk_lr0.01``
(RealMLP's NTK parametrization, ``tabular: {init: ntk}``).

    python benchmarks/tables.py --quick                  # shared tables, default/old/HGB, 2 seeds (~2 min)
    python benchmarks/tables.py --seeds 3                # everything, all ablations (~15 min on 2 loaded cores)
    python benchmarks/tables.py --tables titanic,adult_like --variants default,old
    python benchmarks/tables.py --tables iris,wine,diabetes,boston,breast_cancer,pima,titanic,digits,friedman,\
        categorical,adult_like,imbalanced_2pct --variants default,ens4,ens8,ntk   # ensembling/NTK (~70 min loaded)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

OLD = {"scaling": "standard", "binary": "onehot", "feature_scale": False, "label_smoothing": 0.0,
       "beta_2": 0.999, "lr_schedule": "constant"}
# each ablation reverts one choice of the new defaults to the old one
ABLATIONS = {f"-{k}": {"tabular": {k: v}} for k, v in OLD.items()}
VARIANTS = {"default": {}, "old": {"tabular": OLD, "threshold": 0.5}, **ABLATIONS,
            "-threshold": {"threshold": 0.5},
            # the two choices the single ablations questioned, reverted together
            "-scaling-label_smoothing": {"tabular": {"scaling": "standard", "label_smoothing": 0.0}},
            # issue 12's last two items: k members sharing the mlp (TabM-mini), and RealMLP's NTK parametrization
            "ens4": {"tabular": {"ensemble": 4}}, "ens8": {"tabular": {"ensemble": 8}},
            "ntk": {"tabular": {"init": "ntk"}}, "ntk_lr0.01": {"tabular": {"init": "ntk"}, "lr": 0.01},
            "ntk+ens4": {"tabular": {"init": "ntk", "ensemble": 4}}}
RARE = 0.2


def datasets_dir() -> Path:
    return Path(os.environ.get("NNGURU_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def adult_like(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """A census-like table: numeric age/hours/capital, categoricals (2 to 12 levels), a logistic
    target with interactions and a ~25% positive rate."""
    rng = np.random.default_rng(seed)
    age = rng.integers(17, 80, n)
    hours = np.clip(rng.normal(40, 12, n), 1, 99).round()
    capital = np.where(rng.random(n) < 0.1, rng.lognormal(8, 1.2, n), 0.0).round()
    sex = rng.choice(["Male", "Female"], n, p=[0.67, 0.33])
    edu = rng.choice(["HS", "Some-college", "Bachelors", "Masters", "Doctorate", "11th", "Assoc"], n,
                     p=[0.32, 0.22, 0.17, 0.06, 0.02, 0.11, 0.10])
    job = rng.choice([f"occ{i}" for i in range(12)], n)
    married = rng.choice(["Married", "Never", "Divorced", "Widowed"], n, p=[0.47, 0.33, 0.14, 0.06])
    edu_score = pd.Series(edu).map({"11th": -1, "HS": 0, "Some-college": 0.4, "Assoc": 0.5, "Bachelors": 1.1,
                                    "Masters": 1.5, "Doctorate": 2.0}).to_numpy()
    job_effect = np.linspace(-1, 1, 12)[pd.Series(job).str[3:].astype(int).to_numpy()]
    logit = (-2.2 + 0.04 * (age - 40) - 0.0006 * (age - 45) ** 2 + 0.03 * (hours - 40) + 0.9 * edu_score
             + 0.6 * (sex == "Male") + 1.2 * (married == "Married") + 0.5 * job_effect
             + 1.5 * (capital > 5000) + 0.4 * edu_score * (married == "Married"))
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"age": age, "hours": hours, "capital": capital, "sex": sex, "education": edu,
                         "occupation": job, "marital": married, "income": np.where(y, ">50K", "<=50K")})


def imbalanced(n: int = 3000) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=20, n_informative=6, n_redundant=4,
                               weights=[0.95], flip_y=0.01, class_sep=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["label"] = np.where(y == 1, "rare", "common")
    return frame


def imbalanced_2pct(n: int = 4000) -> pd.DataFrame:
    """A 2%-positive binary table (the issue's medical case): rare positives, 12 numeric columns."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=12, n_informative=5, n_redundant=3,
                               weights=[0.98], flip_y=0.005, class_sep=1.2, random_state=1)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["label"] = np.where(y == 1, "rare", "common")
    return frame


def categorical(n: int = 3000) -> pd.DataFrame:
    """make_classification (3 classes) with 4 of its 10 columns binned into string categories (3-8 levels)."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=10, n_informative=6, n_redundant=2, n_classes=3,
                               class_sep=0.8, random_state=2)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    for i, levels in enumerate((3, 4, 6, 8)):
        bins = np.quantile(X[:, i], np.linspace(0, 1, levels + 1)[1:-1])
        frame[f"x{i}"] = [f"c{i}_{b}" for b in np.digitize(X[:, i], bins)]
    frame["label"] = np.array(["a", "b", "c"])[y]
    return frame


def friedman(n: int = 2000) -> pd.DataFrame:
    """Friedman #1 regression (sin, square and linear terms of 5 of 10 columns) with noise sd 1."""
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=n, n_features=10, noise=1.0, random_state=3)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["y"] = y
    return frame


def bundled(name: str) -> pd.DataFrame:
    from sklearn import datasets

    loaded = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = loaded.frame.copy()
    return frame.rename(columns={"target": "label"})


def tables() -> dict[str, tuple[object, object]]:
    d = datasets_dir()
    return {
        "titanic": (str(d / "titanic" / "titanic.csv"), "Survived"),
        "pima": (str(d / "pima_indians_diabetes" / "pima-indians-diabetes.csv"), -1),
        "boston": (str(d / "boston_housing" / "housing.csv"), -1),
        "breast_cancer": (lambda: bundled("breast_cancer"), "label"),
        "wine": (lambda: bundled("wine"), "label"),
        "imbalanced_5pct": (imbalanced, "label"),
        "adult_like": (adult_like, "income"),
        "iris": (lambda: bundled("iris"), "label"),
        "diabetes": (lambda: bundled("diabetes"), "label"),
        "digits": (lambda: bundled("digits"), "label"),
        "categorical": (categorical, "label"),
        "imbalanced_2pct": (imbalanced_2pct, "label"),
        "friedman": (friedman, "y"),
    }


def score_of(task_name: str, test: dict, imbalanced_task: bool) -> tuple[str, float]:
    if task_name == "regression":
        return "mae", float(test["mae"])
    return ("f1", float(test["f1"])) if imbalanced_task else ("accuracy", float(test["accuracy"]))


def hgb(data, target, seed: int) -> dict:
    """HistGradientBoosting (defaults) on nnguru's split of the same seed."""
    from rich.console import Console
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error
    from threadpoolctl import threadpool_limits

    from nnguru.config import resolve_config
    from nnguru.pipeline import choose_task, load

    cfg = resolve_config(None, target=target, seed=seed, verbose=0)
    console = Console(quiet=True)
    task = choose_task(load(data, cfg), cfg, console)
    p = task.prepare(load(data, cfg), console)
    x = np.vstack([p.x["train"], p.x["val"]])
    y = np.concatenate([p.y["train"], p.y["val"]])
    limits = threadpool_limits(1)  # as nnguru's small steps: one thread (two spin-wait on a loaded machine)
    t0 = time.perf_counter()
    if task.categorical_target:
        model = HistGradientBoostingClassifier(random_state=seed).fit(x, y)
        pred = model.predict(p.x["test"])
        counts = np.bincount(p.y["train"])
        rare = len(counts) == 2 and counts.min() / counts.sum() < RARE
        pos = int(np.argmin(counts))
        value = (f1_score(p.y["test"], pred, pos_label=pos) if rare else accuracy_score(p.y["test"], pred))
        metric = "f1" if rare else "accuracy"
    else:
        model = HistGradientBoostingRegressor(random_state=seed).fit(x, y)
        metric, value = "mae", mean_absolute_error(p.y["test"], model.predict(p.x["test"]))
    seconds = time.perf_counter() - t0
    limits.unregister()
    return {"metric": metric, "score": float(value), "seconds": seconds,
            "task": task.name, "rare": task.categorical_target and metric == "f1"}


def nnguru_run(data, target, seed: int, options: dict, rare: bool, task: str, out: Path) -> dict:
    import nnguru

    if task != "classification":  # the decision threshold is a classification option
        options = {k: v for k, v in options.items() if k != "threshold"}
    t0 = time.perf_counter()
    run = nnguru.train(data, target=target, out=out, overwrite=True, seed=seed, verbose=0, **options)
    seconds = time.perf_counter() - t0
    metric, value = score_of(run.metrics["task"], run.metrics["test"], rare)
    return {"metric": metric, "score": value, "seconds": seconds, "epochs": run.metrics["epochs_run"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--tables", default=",".join(tables()))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--quick", action="store_true", help="shared tables, default/old, 2 seeds")
    ap.add_argument("--out", default="/tmp/nnguru-tables-bench")
    args = ap.parse_args()
    names = args.tables.split(",")
    variants = args.variants.split(",")
    seeds = args.seeds
    if args.quick:
        names, variants, seeds = ["titanic", "pima", "boston"], ["default", "old"], 2
    unknown = sorted(set(variants) - set(VARIANTS)) + sorted(set(names) - set(tables()))
    if unknown:
        raise SystemExit(f"unknown variant/table {unknown}; variants: {list(VARIANTS)}; tables: {list(tables())}")
    print(f"load: {os.getloadavg()}  seeds: {seeds}")
    rows = []
    for name in names:
        source, target = tables()[name]
        for seed in range(seeds):
            data = source() if callable(source) else source
            ref = hgb(data, target, seed)
            rows.append({"table": name, "seed": seed, "method": "HGB", **ref})
            for v in variants:
                data = source() if callable(source) else source
                out = Path(args.out) / f"{name}-{v}"
                r = nnguru_run(data, target, seed, VARIANTS[v], ref["rare"], ref["task"], out)
                rows.append({"table": name, "seed": seed, "method": f"nnguru {v}", **r})
                print(f"{name:16s} seed {seed} {v:18s} {r['metric']} {r['score']:.4f} ({r['seconds']:.1f} s) "
                      f"| HGB {ref['score']:.4f} ({ref['seconds']:.2f} s)", flush=True)
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["table", "metric", "method"], sort=False).agg(
        score=("score", "mean"), sd=("score", "std"), seconds=("seconds", "mean")).reset_index()
    print()
    print(summary.to_markdown(index=False, floatfmt=".4f") if _has_tabulate() else summary.to_string(index=False))
    frame.to_csv(Path(args.out) / "tables_runs.csv", index=False)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
