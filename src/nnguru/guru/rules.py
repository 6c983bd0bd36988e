"""Read a finished training the way an expert reads its curves, and say what went wrong.

Each rule is a small function from the run's facts (:class:`RunFacts`) to a :class:`Finding` or
None. Rules are deterministic, every threshold is a named constant below with the reason for its
value, and every rule copes with 1-epoch histories, missing validation keys and NaN/inf losses.
Decisions read the *validation* metrics when they exist (the test split is used once, for the
report, so ``--auto-fix`` never tunes on it); test metrics are only a fallback. The one
exception is ``worse_than_baseline``: the baselines are scored on the test split, so the model's
test score is what they are compared with.

The facts come from the declared schema (:mod:`nnguru.schema`): sizes and leakage from
``data_report["split"]``, class counts from ``data_report["target"]["class_balance"]``,
scores from ``metrics``. No rule asks which task ran: class-based reasoning (the loss of
predicting the class shares, per-class sample counts) applies when the run has classes, and the
task says which rules apply (``diagnose(rules=...)``) and which metric is its headline.

Rules live in a registry, run in registration order. Some codes explain others: a diverging
learning rate also makes the model look underfit, a crawling learning rate too, and a rare class
makes any model look near the baseline. Each rule names the codes it suppresses, and a finding
suppressed by another finding is dropped, so the user gets one clear story. ``healthy`` is what
remains when no rule fires.

Adding a rule (e.g. from a task plug-in)::

    from nnguru.guru import Finding, register

    def _too_few_anomalies(f):      # f: RunFacts
        ...                         # return a Finding("too_few_anomalies", ...) or None

    register("too_few_anomalies", _too_few_anomalies, suppresses=("underfitting",),
             needs=("test_metrics",))

``needs`` names :class:`RunFacts` fields the rule cannot work without; the rule is skipped when
any of them is missing (None or empty), so the check itself never has to test for them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from nnguru import schema
from nnguru.errors import NNGuruError
from nnguru.guru.findings import SEVERITIES, Finding

# --- lr_too_high -----------------------------------------------------------------------------
# Training loss ending this many times above its best earlier value is divergence, not noise.
LR_HIGH_RISE_FACTOR = 1.5
# ...and the rise must be a visible share of the first epoch's loss (ignores wobbles near zero).
LR_HIGH_MIN_RISE_FRACTION = 0.1
# ...and hold for the last 2 epochs: Adam's one-epoch spikes at a near-zero loss are not a trend.
LR_HIGH_RISE_TAIL = 2
# Never reaching within 1.5x the prior-predictor loss means the steps overshoot every minimum.
LR_HIGH_ABOVE_BASELINE = 1.5
# Any epoch's training loss 10x the prior-predictor loss: a sane start is near 1x, so the weights
# were thrown far off by the updates even if training recovered later.
LR_HIGH_EXPLODE = 10.0
# An epoch-mean training loss that rises by 5% of its level is a large jump for an average...
OSC_RISE_FRACTION = 0.05
# ...when the rise is also 1% of the first loss (ignores relative wobbles of a loss near zero).
OSC_MIN_RISE_OF_FIRST = 0.01
# Rises in at least 30% of epoch steps (and at least 2) is oscillation; healthy runs rarely rise.
OSC_MIN_SHARE = 0.3
OSC_MIN_RISES = 2
# Shape rules need a few points; below this they stay silent rather than guess.
OSC_MIN_EPOCHS = 5
# Stalled by too large steps (SGD at lr 3 kills the ReLUs and bounces at the prior's loss): the
# training loss never gets 5% below predicting the class shares, which the output bias alone
# learns in an epoch at any sane rate...
STALL_MAX_BELOW_BASELINE = 0.05
# ...and the validation loss (no dropout noise there) goes up in at least 30% of epoch steps, each
# time by 0.5% of its level: a crawl descends on validation every epoch, a stall wanders.
STALL_RISE_FRACTION = 0.005
STALL_MIN_SHARE = 0.3
# The value advised when the learning rate is too high / too low: one decade down / up.
LR_STEP = 10.0
# What Keras and PyTorch's Adam use when the user set nothing (for advice only).
DEFAULT_LR = 1e-3

# --- lr_too_low ------------------------------------------------------------------------------
LR_LOW_MIN_EPOCHS = 5
# "Steady": the training loss went down in at least 80% of epoch steps.
LR_LOW_MIN_SHARE_DOWN = 0.8
# "Slow": less than half of the first epoch's loss was removed in the whole run.
LR_LOW_MAX_TOTAL_DROP = 0.5
# "Still going": the last third drops at least half as fast as the first third (a straight line
# instead of the fast-then-flat curve of a well-set learning rate).
LR_LOW_MIN_LINEARITY = 0.5
# ...and still measurably moving (relative drop per epoch); below this the loss is flat.
LR_LOW_MIN_RATE = 1e-4
# A curve still at the prior-predictor loss (within 20%) learned nothing yet, so a slower steady
# descent (lr 3e-5 with SGD moves the validation loss ~0.01% per epoch) is a crawl too.
LR_LOW_MIN_RATE_UNTRAINED = 1e-5
# Dropout makes the epoch-mean training loss noisy: the crawl test also reads a 3-epoch moving
# average of it and the validation curve (computed without dropout).
LR_LOW_SMOOTH = 3
LR_LOW_MAX_NOISE_RISE = 0.02
# Inside the network (the training monitor's weight-update ratio ||dW|| / ||W|| per step): about
# 1e-3 is a well-set rate (Karpathy's rule of thumb; the benchmark's healthy runs sit at 2e-3 to
# 8e-3 for their fastest-moving layer). When even the fastest-moving layer's median step changes
# it by under 1e-5 of its size, the rate is two decades too small, however flat the loss looks
# (an LSTM at SGD 1e-5 moves its loss ~1e-6 per epoch: no curve test can see a slope).
LR_LOW_MAX_UPDATE_RATIO = 1e-5
# ...read over at least this many sampled steps (one step says little).
LR_LOW_MIN_UPDATE_SAMPLES = 3

# --- plateau ---------------------------------------------------------------------------------
# An epoch that changes the loss by less than 1% is flat.
PLATEAU_REL_CHANGE = 0.01
# "Many epochs": at least 4 flat epoch steps in a row...
PLATEAU_MIN_FLAT = 4
# ...starting in the first third of the run ("early")...
PLATEAU_EARLY_FRACTION = 1 / 3
# ...followed by a real drop of 20%: the optimizer was stuck, not the model done. A run flat from
# start to end is reported as underfitting, whose advice covers the learning rate too.
PLATEAU_ESCAPE_DROP = 0.2
# ...and the flat stretch spans at least this many optimizer steps, where the run's steps per
# epoch are known: an LSTM on 60 rows (2 steps an epoch) sits at ln K for 7-8 epochs before it
# learns, 16 steps, which is a recurrent net's ordinary start and no stuck optimizer (a higher
# rate there tipped it into exploding gradients); 4 flat epochs of 380 rows at batch 32 are 48.
PLATEAU_MIN_STEPS = 30

# --- overfitting -----------------------------------------------------------------------------
# Validation loss 25% above its minimum, sustained over the last 2 epochs, while training loss
# kept falling: beyond the epoch-to-epoch noise of a few hundred validation samples.
OVERFIT_VAL_RISE = 0.25
OVERFIT_TAIL = 2
OVERFIT_MIN_EPOCHS_AFTER_BEST = 2
# Training accuracy 15 points above validation accuracy at the end is memorization.
OVERFIT_ACC_GAP = 0.15
# Losses without an accuracy (regression): validation 3x the training loss, and the gap at least
# 10% of the first validation loss so two tiny losses do not count.
OVERFIT_LOSS_RATIO = 3.0
OVERFIT_MIN_GAP_FRACTION = 0.1

# --- underfitting ----------------------------------------------------------------------------
# Best loss still 80% of the prior-predictor loss: the model learned little beyond class shares.
UNDERFIT_LOSS_RATIO = 0.8
# Accuracy within 2 points of the majority baseline.
UNDERFIT_ACC_MARGIN = 0.02
# R² below 0.1 explains under 10% of the variance: close to predicting the mean.
UNDERFIT_R2 = 0.1

# --- class_imbalance / accuracy_paradox --------------------------------------------------------
# Largest class 8x the smallest (binary: minority under ~11%): accuracy starts to mislead.
IMBALANCE_RATIO = 8.0
# Accuracy within 25% of the majority baseline's error rate (either side): "near the baseline".
# Far *below* it the model trades majority accuracy for the rare class, which is no paradox.
PARADOX_ERROR_REDUCTION = 0.25
# Minority-class recall of 10% or less is "near zero".
PARADOX_MIN_RECALL = 0.1

# --- leakage ---------------------------------------------------------------------------------
# 1% of test rows repeated from training is enough to inflate scores visibly; 5% makes the test
# score meaningless.
LEAKAGE_MIN_SHARE = 0.01
LEAKAGE_ERROR_SHARE = 0.05
# A single shared row is common in coarse data (iris has exact duplicate flowers) and moves the
# score by one sample: at least 2 are needed.
LEAKAGE_MIN_COUNT = 2

# --- label_errors --------------------------------------------------------------------------
# Confident learning flags ~0.2% of digits' clean labels and ~22% with 20% flipped: 5% (and at
# least 5 samples) is well above what a clean set with a decent cheap model shows; 15% means the
# labels themselves limit what can be learned.
LABEL_ERRORS_MIN_SHARE = 0.05
LABEL_ERRORS_MIN_COUNT = 5
LABEL_ERRORS_ERROR_SHARE = 0.15

# --- small_data ------------------------------------------------------------------------------
# Fewer than 10 training samples in some class: its metrics are a coin toss.
SMALL_MIN_PER_CLASS = 10
# More than 1000 parameters per training sample: memorizing is easier than learning. Healthy
# runs sit far below (MNIST MLP ~2, the digits CNN template ~120); weight sharing and
# regularization make over-parameterized nets fine well past 1 parameter per sample.
SMALL_PARAMS_PER_SAMPLE = 1000
# A fit without classes (regression, forecasting windows) on fewer than 50 training samples has
# no reliable validation signal.
SMALL_MIN_SAMPLES = 50


def _r(x: float | None, digits: int = 4) -> float | None:
    """Round to a few significant digits for readable evidence; None stays None."""
    if x is None or not math.isfinite(float(x)):
        return None
    x = float(x)
    return 0.0 if x == 0 else round(x, digits - 1 - int(math.floor(math.log10(abs(x)))))


def _series(history: dict[str, Any], key: str) -> np.ndarray | None:
    """History values as floats (None -> NaN); None when the key is missing or empty."""
    values = history.get(key)
    if values is None or len(values) == 0 or all(v is None for v in values):
        return None
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


@dataclass
class RunFacts:
    """Everything the rules read, taken once from the schema (missing pieces are None)."""

    loss: np.ndarray  # training loss per epoch (may hold NaN/inf; empty without a history)
    val_loss: np.ndarray | None
    acc: np.ndarray | None
    val_acc: np.ndarray | None
    eval_metrics: dict[str, Any] | None  # validation metrics, else test
    eval_split: str | None
    test_metrics: dict[str, Any] | None
    baselines: dict[str, dict[str, Any]]  # name -> metrics (see schema.baselines)
    headline: str | None  # the task's headline metric (accuracy, r2, mase, ...)
    class_counts: dict[str, float] | None  # whole cleaned data set; None without classes
    n_train: int | None
    n_test: int | None
    n_params: int | None
    n_classes: int | None
    lr: float | None
    suggested_lr: float | None
    leakage_count: int | None
    class_weight: Any = None
    restored_epoch: int | None = None  # 1-based epoch whose weights early stopping kept
    monitor: dict[str, Any] | None = None  # monitor.json: inside the network (guru/network_rules.py)
    label_smoothing: float = 0.0  # of the training loss: its prior-predictor value is higher
    label_issues: dict[str, Any] | None = None  # guru.data_checks.label_issues
    near_duplicates: int | None = None  # test samples with a near-copy in training
    steps_per_epoch: int | None = None  # optimizer steps in one epoch (None: unknown)

    @property
    def has_classes(self) -> bool:
        """The target is classes (their counts or number are known): class-based rules apply."""
        return bool(self.class_counts) or bool(self.n_classes)

    @property
    def n_epochs(self) -> int:
        return len(self.loss)

    def best_baseline(self, metric: str) -> float | None:
        best = schema.best_baseline(self.baselines, metric)
        return None if best is None else best[1]

    def baseline_loss(self) -> float | None:
        """Log-loss of predicting the class shares: the loss a model that learned nothing gets."""
        if not self.has_classes:
            return None
        if self.label_smoothing and self.class_counts:  # the curves are of the smoothed loss
            return self._prior_loss(np.array(list(self.class_counts.values()), dtype=np.float64))
        value = self.best_baseline("loss")
        if value is not None:
            return value
        if self.class_counts:
            p = np.array(list(self.class_counts.values()), dtype=np.float64)
            p = p[p > 0] / p.sum()
            return float(-(p * np.log(p)).sum())
        if self.n_classes and self.n_classes >= 2:
            return math.log(self.n_classes)
        return None

    def train_baseline_loss(self) -> float | None:
        """The prior-predictor loss on the *training* loss' scale.

        Class weights change that scale: with weights w_c the best constant predictor's weighted
        loss is the entropy of the weighted class shares w_c * n_c ('balanced' gives ln K).
        """
        if not self.class_weight:
            return self.baseline_loss()
        if self.class_counts:
            labels = list(self.class_counts)
            n = np.array([self.class_counts[k] for k in labels], dtype=np.float64)
        elif self.n_classes:
            labels, n = list(range(self.n_classes)), np.ones(self.n_classes)
        else:
            return None
        if self.class_weight == "balanced":
            w = 1.0 / np.maximum(n, 1e-12)
        elif isinstance(self.class_weight, dict):
            cw = {str(k): float(v) for k, v in self.class_weight.items()}
            w = np.array([cw.get(str(k), 1.0) for k in labels])
        else:
            return self.baseline_loss()
        return self._prior_loss(w * n)

    def _prior_loss(self, mass: np.ndarray) -> float:
        """Loss of the best constant prediction for classes of this (weighted) mass: the entropy of
        the class shares, or with label smoothing e of the smoothed targets (1-e) p + e/K, which
        is what a label-smoothed cross-entropy's constant predictor scores."""
        p = mass / mass.sum()
        if self.label_smoothing:
            p = (1.0 - self.label_smoothing) * p + self.label_smoothing / len(p)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    def baseline_accuracy(self) -> float | None:
        if self.class_counts:
            counts = list(self.class_counts.values())
            return max(counts) / sum(counts)
        value = self.best_baseline("accuracy")
        if value is not None:
            return value
        return 1.0 / self.n_classes if self.n_classes else None


def gather_facts(
    *,
    history: dict[str, list[float]],
    data_report: schema.DataReport | None = None,
    metrics: schema.Metrics | None = None,
    headline: str | None = None,
    n_params: int | None = None,
    n_classes: int | None = None,
    lr: float | None = None,
    suggested_lr: float | None = None,
    class_weight: Any = None,
    restored_epoch: int | None = None,
    monitor: dict[str, Any] | None = None,
    label_smoothing: float = 0.0,
    label_issues: dict[str, Any] | None = None,
    near_duplicates: int | None = None,
    steps_per_epoch: int | None = None,
) -> RunFacts:
    """Read the inputs of :func:`diagnose` from the schema (exposed for tests and custom rules)."""
    history = history or {}
    loss = _series(history, "loss")
    acc_key = next((k for k in ("accuracy", "acc", "sparse_categorical_accuracy",
                                "categorical_accuracy", "binary_accuracy") if k in history), None)
    eval_split = next((s for s in ("val", "test") if isinstance(_get(metrics, s), dict)), None)
    counts = schema.class_counts(data_report)
    split = (data_report or {}).get("split")
    if lr is None:
        lrs = _series(history, "lr")
        lr = float(lrs[0]) if lrs is not None and math.isfinite(lrs[0]) else None
    return RunFacts(
        loss=loss if loss is not None else np.zeros(0),
        val_loss=_series(history, "val_loss"),
        acc=_series(history, acc_key) if acc_key else None,
        val_acc=_series(history, f"val_{acc_key}") if acc_key else None,
        eval_metrics=_get(metrics, eval_split) if eval_split else None,
        eval_split=eval_split,
        test_metrics=_get(metrics, "test") or None,
        baselines=schema.baselines(metrics),
        headline=headline,
        class_counts={k: float(v) for k, v in counts.items()} if counts else None,
        n_train=split["train"] if split else None,
        n_test=split["test"] if split else None,
        n_params=n_params,
        n_classes=n_classes or (len(counts) if counts else None),
        lr=lr,
        suggested_lr=suggested_lr,
        leakage_count=split["duplicates_train_test"] if split else None,
        class_weight=class_weight,
        restored_epoch=restored_epoch,
        monitor=monitor or None,
        label_smoothing=float(label_smoothing or 0.0),
        label_issues=label_issues,
        near_duplicates=near_duplicates,
        steps_per_epoch=int(steps_per_epoch) if steps_per_epoch else None,
    )


# --- the rules -------------------------------------------------------------------------------


def _lr_value_advice(f: RunFacts, direction: str) -> tuple[float, str]:
    """The learning rate to try next, preferring the range test's suggestion when it agrees."""
    current = f.lr if f.lr else DEFAULT_LR
    stepped = current / LR_STEP if direction == "down" else current * LR_STEP
    s = f.suggested_lr
    agrees = s is not None and (s < current if direction == "down" else s > current)
    if agrees:
        return float(s), f"the learning-rate range test suggests {s:.2g}"
    known = "" if f.lr else f" (assuming the usual default {DEFAULT_LR:g})"
    verb = "a tenth of" if direction == "down" else "ten times"
    return stepped, f"{verb} the current {current:.2g}{known}"


def _lr_too_high(f: RunFacts) -> Finding | None:
    loss, n = f.loss, f.n_epochs
    bad = np.flatnonzero(~np.isfinite(loss))
    val_bad = np.flatnonzero(~np.isfinite(f.val_loss)) if f.val_loss is not None else np.zeros(0)
    value, why = _lr_value_advice(f, "down")
    ev: dict[str, Any] = {"lr": f.lr, "epochs": n, "advised_lr": _r(value)}
    advice = (f"Lower the learning rate to {value:.2g} ({why}); run `nnguru lr-find` to pick "
              "it, and make sure the inputs are normalized. Gradient clipping also tames spikes.")
    if len(bad) or len(val_bad):
        first = int(min([*bad, *val_bad])) + 1
        which = "training" if len(bad) and bad[0] + 1 == first else "validation"
        ev.update(first_nonfinite_epoch=first, nonfinite_in=which, summary=(
            f"The {which} loss became non-finite (NaN/inf) at epoch {first}: the updates blew "
            "the weights up."))
        return Finding("lr_too_high", "error", ev, advice)
    if n < 2:
        return None
    l0 = abs(loss[0]) or 1.0
    tail = LR_HIGH_RISE_TAIL if n > LR_HIGH_RISE_TAIL else 1
    best_at = int(np.argmin(loss[:-tail]))
    best_before, end = float(loss[best_at]), float(np.min(loss[-tail:]))
    if end >= LR_HIGH_RISE_FACTOR * best_before and end - best_before >= (
            LR_HIGH_MIN_RISE_FRACTION * l0):
        ev.update(min_loss=_r(best_before), min_epoch=best_at + 1, final_loss=_r(loss[-1]),
                  summary=(f"The training loss rose from {best_before:.4g} (epoch {best_at + 1}) "
                           f"to {loss[-1]:.4g} at the end: training itself got worse, which a "
                           "well-set learning rate never does."))
        return Finding("lr_too_high", "warning", ev, advice)
    base = f.train_baseline_loss()
    if base and np.max(loss) > LR_HIGH_EXPLODE * base:
        worst = int(np.argmax(loss))
        ev.update(max_loss=_r(loss[worst]), max_epoch=worst + 1, baseline_loss=_r(base), summary=(
            f"The training loss reached {loss[worst]:.4g} at epoch {worst + 1}, "
            f"{loss[worst] / base:.0f}x the {base:.4g} of just predicting the class shares: "
            "the updates threw the weights far off."))
        return Finding("lr_too_high", "warning", ev, advice)
    if base and np.min(loss) > LR_HIGH_ABOVE_BASELINE * base and not _steady_descent(loss):
        ev.update(min_loss=_r(np.min(loss)), baseline_loss=_r(base), summary=(
            f"The best training loss {np.min(loss):.4g} stayed above {LR_HIGH_ABOVE_BASELINE}x "
            f"the {base:.4g} of just predicting the class shares: the steps overshoot."))
        return Finding("lr_too_high", "warning", ev, advice)
    stall = _stall(f, base)
    if stall is not None:
        ev.update(stall)
        return Finding("lr_too_high", "warning", ev, advice)
    if n >= OSC_MIN_EPOCHS:
        d = np.diff(loss)
        rises = int(np.sum((d > OSC_RISE_FRACTION * np.abs(loss[:-1]))
                           & (d > OSC_MIN_RISE_OF_FIRST * l0)))
        if rises >= OSC_MIN_RISES and rises / (n - 1) >= OSC_MIN_SHARE:
            ev.update(rises=rises, epoch_steps=n - 1, summary=(
                f"The training loss jumped up in {rises} of {n - 1} epochs (each time by more "
                f"than {OSC_RISE_FRACTION:.0%}): it oscillates instead of descending."))
            return Finding("lr_too_high", "warning", ev, advice)
    return None


def _steady_descent(loss: np.ndarray) -> bool:
    """A crawl (steady, slow, straight descent, see ``_crawl``) that never jumped up: a curve
    above the prior's loss that descends like this started badly (a GRU's first loss at 1.6x
    ln K) and moves too slowly; overshooting steps neither descend every epoch nor in a straight
    line (a fast-then-flat curve stuck above the prior still reads as too high)."""
    if _crawl(loss, untrained=True) is None:
        return False
    return not np.any(np.diff(loss) > OSC_RISE_FRACTION * np.abs(loss[:-1]))


def _stall(f: RunFacts, base: float | None) -> dict[str, Any] | None:
    """Evidence that the loss sits at the prior's level and wanders: steps too large to descend."""
    loss, n = f.loss, f.n_epochs
    curve = f.val_loss if f.val_loss is not None and len(f.val_loss) == n else loss
    if not base or n < OSC_MIN_EPOCHS or not np.isfinite(curve).all():
        return None
    if np.min(loss[1:]) < (1 - STALL_MAX_BELOW_BASELINE) * base:
        return None
    d = np.diff(curve)
    rises = int(np.sum(d > STALL_RISE_FRACTION * np.abs(curve[:-1])))
    if rises / (n - 1) < STALL_MIN_SHARE:
        return None
    which = "validation" if curve is not loss else "training"
    return {"min_loss": _r(np.min(loss)), "baseline_loss": _r(base), "rises": rises,
            "epoch_steps": n - 1, "curve": which, "summary": (
                f"The training loss never got below {np.min(loss):.4g}, the {base:.4g} of just "
                f"predicting the class shares, and the {which} loss went up in {rises} of "
                f"{n - 1} epochs: the steps are too large to descend (they bounce, or killed the "
                "units), not too small.")}


def _crawl(curve: np.ndarray, untrained: bool) -> dict[str, float] | None:
    """Shape of a crawl: a steady, slow, straight descent (None when the curve is not one)."""
    n = len(curve)
    if n < LR_LOW_MIN_EPOCHS or not np.isfinite(curve).all() or curve[0] <= 0:
        return None
    d = np.diff(curve)
    share_down = float(np.mean(d < 0))
    total_drop = float((curve[0] - curve[-1]) / curve[0])
    third = max(1, (n - 1) // 3)
    early = curve[0] - curve[third]
    late = curve[-1 - third] - curve[-1]
    linearity = float(late / early) if early > 0 else 0.0
    late_rate = float(late / third / curve[0])
    min_rate = LR_LOW_MIN_RATE_UNTRAINED if untrained else LR_LOW_MIN_RATE
    if not (share_down >= LR_LOW_MIN_SHARE_DOWN and 0 < total_drop < LR_LOW_MAX_TOTAL_DROP
            and linearity >= LR_LOW_MIN_LINEARITY and late_rate >= min_rate):
        return None
    return {"share_down": share_down, "total_drop": total_drop, "linearity": linearity}


def _tiny_updates(f: RunFacts) -> float | None:
    """The median over sampled steps of the fastest-moving layer's update ratio ||dW|| / ||W||,
    when it is below LR_LOW_MAX_UPDATE_RATIO (None otherwise, or without the monitor)."""
    samples = [s for s in (f.monitor or {}).get("samples") or [] if s.get("update_ratio")]
    ratios = [[np.nan if v is None else float(v) for v in s["update_ratio"]] for s in samples]
    fastest = [np.nanmax(r) for r in ratios if np.isfinite(r).any()]
    if len(fastest) < LR_LOW_MIN_UPDATE_SAMPLES:
        return None
    median = float(np.median(fastest))
    return median if 0 < median < LR_LOW_MAX_UPDATE_RATIO else None


def _lr_too_low(f: RunFacts) -> Finding | None:
    loss, n = f.loss, f.n_epochs
    if n < LR_LOW_MIN_EPOCHS or not np.isfinite(loss).all() or loss[0] <= 0:
        return None
    tiny = _tiny_updates(f)
    start = f.train_baseline_loss() or float(loss[0])
    if tiny is not None and np.min(loss) > (1 - LR_LOW_MAX_TOTAL_DROP) * start:
        # Steps that barely move the weights while the loss has not lost half of the prior's
        # (a converged run's small late steps sit far below it): a crawl seen from inside, even
        # where the curve is too flat to show a slope.
        value, why = _lr_value_advice(f, "up")
        ev = {"lr": f.lr, "advised_lr": _r(value), "epochs": n, "first_loss": _r(loss[0]),
              "final_loss": _r(loss[-1]), "median_update_ratio": _r(tiny, 3), "summary": (
                  f"Each sampled step changed even the fastest-moving layer by only {tiny:.1e} "
                  f"of its size (a well-set rate moves it by about 1e-3), and the loss went only "
                  f"from {loss[0]:.4g} to {np.min(loss):.4g}: the optimizer is crawling.")}
        advice = (f"Raise the learning rate to {value:.2g} ({why}); `nnguru lr-find` shows the "
                  "largest rate that still descends. Training longer at this rate would waste time.")
        return Finding("lr_too_low", "warning", ev, advice)
    base = f.train_baseline_loss()
    untrained = bool(base) and float(np.min(loss)) >= UNDERFIT_LOSS_RATIO * base
    k = LR_LOW_SMOOTH
    smooth = np.convolve(loss, np.ones(k) / k, mode="valid") if n >= LR_LOW_MIN_EPOCHS + k - 1 \
        else loss
    candidates = [("training", loss), ("smoothed training", smooth)]
    if f.val_loss is not None and len(f.val_loss) == n:
        candidates.append(("validation", f.val_loss))
    found = next(((which, shape) for which, curve in candidates
                  if (shape := _crawl(curve, untrained)) is not None), None)
    if found is None:
        return None
    which, shape = found
    # Training itself must not trend up (a rising training loss is never a crawl); dropout noise
    # of a percent or two either way is allowed.
    if smooth[-1] > (1 + LR_LOW_MAX_NOISE_RISE) * smooth[0]:
        return None
    share_down, total_drop = shape["share_down"], shape["total_drop"]
    value, why = _lr_value_advice(f, "up")
    ev = {"lr": f.lr, "advised_lr": _r(value), "epochs": n, "first_loss": _r(loss[0]),
          "final_loss": _r(loss[-1]), "curve": which,
          "total_drop": _r(total_drop), "share_of_epochs_down": _r(share_down),
          "late_vs_early_speed": _r(shape["linearity"]), "summary": (
              f"The {which} loss fell steadily ({share_down:.0%} of epochs) but slowly: only "
              f"{total_drop:.1%} in {n} epochs, as fast at the end as at the start — the "
              "optimizer is crawling, not converging.")}
    advice = (f"Raise the learning rate to {value:.2g} ({why}); `nnguru lr-find` shows the "
              "largest rate that still descends. Training longer at this rate would waste time.")
    return Finding("lr_too_low", "warning", ev, advice)


def _plateau(f: RunFacts) -> Finding | None:
    loss, n = f.loss, f.n_epochs
    if n < PLATEAU_MIN_FLAT + 2 or not np.isfinite(loss).all():
        return None
    flat = np.abs(np.diff(loss)) < PLATEAU_REL_CHANGE * np.maximum(np.abs(loss[:-1]), 1e-12)
    start_limit = max(1, int(math.ceil(n * PLATEAU_EARLY_FRACTION)))
    i = 0
    while i < len(flat):
        if not flat[i]:
            i += 1
            continue
        j = i
        while j < len(flat) and flat[j]:
            j += 1
        long_enough = f.steps_per_epoch is None or (j - i) * f.steps_per_epoch >= PLATEAU_MIN_STEPS
        if i < start_limit and j - i >= PLATEAU_MIN_FLAT and long_enough:
            level = float(loss[i])
            after = float(np.min(loss[j:])) if j < n else level
            if after <= level * (1 - PLATEAU_ESCAPE_DROP):
                ev = {"lr": f.lr, "suggested_lr": _r(f.suggested_lr), "flat_from_epoch": i + 1,
                      "flat_to_epoch": j + 1, "plateau_loss": _r(level),
                      "later_min_loss": _r(after), "summary": (
                          f"The training loss sat flat at {level:.4g} from epoch {i + 1} to "
                          f"{j + 1} before dropping to {after:.4g}: the optimizer was stuck "
                          "early.")}
                advice = ("Make the start easier: try another learning rate (`nnguru lr-find`), "
                          "normalize the inputs, use He/Glorot initialization with ReLU, or add "
                          "batch normalization; the stuck epochs were wasted.")
                return Finding("plateau", "warning", ev, advice)
        i = j
    return None


def _overfitting(f: RunFacts) -> Finding | None:
    """Validation loss turning up while training loss falls, or a train/validation gap.

    When early stopping kept an earlier epoch's weights (``restored_epoch``), the rise after it
    is the expected early-stopping tail, not a problem of the kept model: only the gap at the
    kept epoch is judged.
    """
    loss, n = f.loss, f.n_epochs
    advice = ("Regularize: stop early (early stopping restores the best epoch), add dropout "
              "(0.2-0.5) or weight decay, get more data or augment it, or use a smaller model.")
    vl = f.val_loss
    kept = n - 1 if f.restored_epoch is None else min(max(f.restored_epoch - 1, 0), n - 1)
    if (f.restored_epoch is None and vl is not None and np.isfinite(vl).sum() >= 3
            and len(vl) == n and np.isfinite(loss).all()):
        best = int(np.nanargmin(np.where(np.isfinite(vl), vl, np.nan)))
        vmin = float(vl[best])
        tail = vl[-OVERFIT_TAIL:]
        end = float(np.min(tail)) if np.isfinite(tail).all() else float("nan")
        after = n - 1 - best
        rise = (end - vmin) / abs(vmin) if vmin else float("inf")
        if (math.isfinite(end) and rise >= OVERFIT_VAL_RISE
                and after >= OVERFIT_MIN_EPOCHS_AFTER_BEST and loss[-1] < loss[best]):
            ev = {"best_epoch": best + 1, "best_val_loss": _r(vmin), "final_val_loss": _r(vl[-1]),
                  "train_loss_at_best": _r(loss[best]), "final_train_loss": _r(loss[-1]),
                  "val_rise": _r(rise), "summary": (
                      f"Validation loss bottomed out at {vmin:.4g} (epoch {best + 1}) and rose to "
                      f"{vl[-1]:.4g} ({rise:.0%} higher) while training loss kept falling "
                      f"({loss[best]:.4g} -> {loss[-1]:.4g}): the model memorizes the training "
                      "set.")}
            return Finding("overfitting", "warning", ev, advice)
    where = f"epoch {kept + 1}" if f.restored_epoch is not None else "the end"
    accs = (f.acc, f.val_acc)
    if all(a is not None and len(a) > kept and np.isfinite(a[kept]) for a in accs):
        tr, va = float(f.acc[kept]), float(f.val_acc[kept])
        if tr - va >= OVERFIT_ACC_GAP:
            ev = {"epoch": kept + 1, "train_accuracy": _r(tr), "val_accuracy": _r(va),
                  "gap": _r(tr - va), "summary": (
                      f"Training accuracy {tr:.3f} vs validation {va:.3f} at {where}: a "
                      f"{tr - va:.0%} gap means what is learned does not carry over to new data.")}
            return Finding("overfitting", "warning", ev, advice)
    elif (not f.has_classes and vl is not None and len(vl) > kept
          and np.isfinite([loss[kept], vl[kept], vl[0]]).all()):
        tr, va = float(loss[kept]), float(vl[kept])
        if va >= OVERFIT_LOSS_RATIO * tr and va - tr >= OVERFIT_MIN_GAP_FRACTION * abs(vl[0]):
            ev = {"epoch": kept + 1, "train_loss": _r(tr), "val_loss": _r(va),
                  "ratio": _r(va / tr) if tr else None, "summary": (
                      f"Validation loss {va:.4g} is {va / max(tr, 1e-12):.1f}x the training loss "
                      f"{tr:.4g} at {where}: the fit does not generalize.")}
            return Finding("overfitting", "warning", ev, advice)
    return None


def _underfitting(f: RunFacts) -> Finding | None:
    loss = f.loss
    finite = loss[np.isfinite(loss)]
    flat_note = ""
    flat = len(finite) >= 3 and finite[-1] > (1 - PLATEAU_ESCAPE_DROP / 2) * finite[0]
    if flat:
        flat_note = (" The training loss barely moved after the first epoch, so try a higher "
                     "learning rate first (`nnguru lr-find`).")
    advice = ("Give the model more to work with: more capacity (wider or deeper layers), more "
              "epochs, a higher learning rate, less regularization, or better features."
              + flat_note)
    ev: dict[str, Any] = {}
    if f.has_classes:
        base_loss, train_base = f.baseline_loss(), f.train_baseline_loss()
        # With rare classes (or class weights) plain accuracy against the majority baseline says
        # nothing about learning; balanced accuracy against chance (1/K) does.
        balanced = _minority(f) is not None or bool(f.class_weight)
        score_key = "balanced_accuracy" if balanced else "accuracy"
        base_acc = (1.0 / f.n_classes if f.n_classes else None) if balanced \
            else f.baseline_accuracy()
        margin = (base_acc + UNDERFIT_ACC_MARGIN) if base_acc is not None else None
        poor_train = poor_val = None
        if train_base and len(finite):
            poor_train = float(finite.min()) >= UNDERFIT_LOSS_RATIO * train_base
            ev.update(best_train_loss=_r(finite.min()), baseline_loss=_r(train_base))
        if base_loss and f.val_loss is not None and np.isfinite(f.val_loss).any():
            vmin = float(np.nanmin(np.where(np.isfinite(f.val_loss), f.val_loss, np.nan)))
            poor_val = vmin >= UNDERFIT_LOSS_RATIO * base_loss
            ev["best_val_loss"] = _r(vmin)
        if not balanced and margin is not None and f.acc is not None and np.isfinite(f.acc[-1]):
            poor_train = bool(poor_train) or f.acc[-1] <= margin
            ev["train_accuracy"] = _r(f.acc[-1])
        score = _get(f.eval_metrics, score_key)
        if margin is not None and score is not None:
            poor_val = bool(poor_val) or score <= margin
            ev[f"{f.eval_split}_{score_key}"] = _r(score)
            ev[f"baseline_{score_key}"] = _r(base_acc)
        if poor_val is None:
            poor_val = poor_train
        if not (poor_train and poor_val):
            return None
        ev["summary"] = (
            "Training and validation are both close to the trivial baseline"
            + (f" (best training loss {finite.min():.4g} vs {train_base:.4g} for predicting the "
               "class shares)" if train_base and len(finite) else "")
            + ": the model has not learned the signal.")
        ev["flat"] = bool(flat)  # the remedy tries the learning rate before capacity (guru/remedies.py)
        return Finding("underfitting", "warning", ev, advice)
    r2 = _get(f.eval_metrics, "r2")
    if r2 is None or r2 >= UNDERFIT_R2:
        return None
    ev = {f"{f.eval_split}_r2": _r(r2), "summary": (
        f"{f.eval_split.capitalize()} R² is {r2:.3f}: the model explains almost none of the "
        "variance, about as well as predicting the mean.")}
    if len(finite):
        ev["final_train_loss"] = _r(finite[-1])
    return Finding("underfitting", "warning", ev, advice)


def _minority(f: RunFacts) -> tuple[str, float, float] | None:
    """(label, count, majority/minority ratio) when the classes are imbalanced."""
    counts = {k: v for k, v in (f.class_counts or {}).items() if v > 0}
    if len(counts) < 2:
        return None
    label = min(counts, key=counts.get)
    ratio = max(counts.values()) / counts[label]
    return (label, counts[label], ratio) if ratio >= IMBALANCE_RATIO else None


def _accuracy_paradox(f: RunFacts) -> Finding | None:
    mino = _minority(f)
    m = f.eval_metrics
    if mino is None or not isinstance(m, dict) or m.get("accuracy") is None:
        return None
    label = mino[0]
    base = f.baseline_accuracy()
    recall = _get(m, "per_class", label, "recall")
    acc = float(m["accuracy"])
    reduction = (acc - base) / (1 - base) if base is not None and base < 1 else None
    balanced = _get(m, "balanced_accuracy")
    if f.class_weight and isinstance(balanced, (int, float)) and f.n_classes:
        # Class weights already make the rare class count: accuracy near the majority baseline
        # then reflects the rare class's tiny share, not a blind model. Balanced accuracy
        # against chance (1/K) says whether the rare class is missed, as underfitting reads it.
        chance = 1.0 / f.n_classes
        reduction = (float(balanced) - chance) / (1 - chance)
    near_base = reduction is not None and abs(reduction) < PARADOX_ERROR_REDUCTION
    blind = recall is not None and recall <= PARADOX_MIN_RECALL
    if not (near_base or blind):
        return None
    split = f.eval_split
    ev = {f"{split}_accuracy": _r(acc), "majority_baseline_accuracy": _r(base),
          "minority_class": label, f"{split}_minority_recall": _r(recall),
          "summary": (f"{split.capitalize()} accuracy {acc:.3f} looks good but the majority "
                      f"baseline already scores {base:.3f}"
                      + (f", and recall of the rare class '{label}' is {recall:.2f}"
                         if recall is not None else "")
                      + ": the accuracy hides that the rare class is missed.")}
    advice = ("Judge the model by precision/recall/F1 of the rare class (or PR-AUC), not "
              "accuracy; train with class weights ('balanced') or resample, and pick the "
              "decision threshold on validation (`--threshold auto`).")
    return Finding("accuracy_paradox", "warning", ev, advice)


def _class_imbalance(f: RunFacts) -> Finding | None:
    """Rare classes: a warning when they already fool the accuracy (the paradox), else info."""
    mino = _minority(f)
    if mino is None:
        return None
    label, count, ratio = mino
    share = count / sum(f.class_counts.values())
    ev = {"minority_class": label, "minority_count": int(count), "minority_share": _r(share),
          "n_classes": len(f.class_counts),
          "majority_to_minority": _r(ratio), "summary": (
              f"Class '{label}' is rare: {share:.1%} of the samples ({int(count)}), "
              f"{ratio:.0f}x fewer than the largest class.")}
    advice = ("Use class weights ('balanced') or resampling so the rare class counts in the "
              "loss, report precision/recall/F1 (`--positive` names the class that matters), "
              "and choose the threshold on validation (`--threshold auto`).")
    paradox = _accuracy_paradox(f) is not None
    return Finding("class_imbalance", "warning" if paradox else "info", ev, advice)


def _leakage(f: RunFacts) -> Finding | None:
    exact, near = f.leakage_count or 0, f.near_duplicates or 0
    count = max(exact, near)
    if not count or count < LEAKAGE_MIN_COUNT:
        return None
    share = count / f.n_test if f.n_test else None
    if share is not None and share < LEAKAGE_MIN_SHARE:
        return None
    severe = share is None or share >= LEAKAGE_ERROR_SHARE
    near_only = near > exact
    ev = {"duplicated_test_samples": int(count), "exact_copies": int(exact),
          "near_copies": int(near) if f.near_duplicates is not None else None,
          "test_samples": f.n_test, "share_of_test": _r(share), "summary": (
              f"{count} test samples" + (f" ({share:.1%} of the test split)" if share else "")
              + (" have a near-copy (resized, re-encoded or slightly changed)" if near_only
                 else " also appear") + " in the training data: the test score rewards memory, "
              "not skill.")}
    advice = ("Remove duplicates before splitting (or split by group, e.g. per patient/user), "
              "then retrain and re-evaluate; until then the test score is optimistic.")
    return Finding("leakage", "error" if severe else "warning", ev, advice)


def _label_errors(f: RunFacts) -> Finding | None:
    li = f.label_issues
    share, count = float(li.get("share") or 0.0), int(li.get("count") or 0)
    if share < LABEL_ERRORS_MIN_SHARE or count < LABEL_ERRORS_MIN_COUNT:
        return None
    rows = li.get("rows") or []
    shown = "; ".join(f"{r['item']}: given {r['given']!r}, likely {r['likely']!r}" for r in rows[:5])
    ev = {"suspicious": count, "checked": li.get("checked"), "share": _r(share),
          "method": li.get("method"), "rows": rows,
          "train_indices": li.get("train_indices") or [], "summary": (
              f"{count} of {li.get('checked')} training samples ({share:.1%}) look mislabeled: a "
              f"held-out model finds another class far more likely (e.g. {shown}).")}
    severity = "error" if share >= LABEL_ERRORS_ERROR_SHARE else "warning"
    advice = ("Check the listed samples (diagnosis.json lists the most suspicious with given and "
              "likely labels) and correct or drop the wrong ones; `--auto-fix` retrains without "
              "them. Noisy labels cap the accuracy any model can reach and mislead validation.")
    return Finding("label_errors", severity, ev, advice)


def _small_data(f: RunFacts) -> Finding | None:
    ev: dict[str, Any] = {}
    reasons = []
    if f.class_counts:
        total = sum(f.class_counts.values())
        label = min(f.class_counts, key=f.class_counts.get)
        # The counts are of the whole cleaned data set: scaled to the training split's size.
        scale = f.n_train / total if f.n_train and total > f.n_train else 1.0
        smallest = f.class_counts[label] * scale
        if smallest < SMALL_MIN_PER_CLASS:
            ev.update(smallest_class=label, smallest_class_train_samples=_r(smallest))
            reasons.append(f"class '{label}' has only about {smallest:.0f} training samples")
    elif not f.has_classes and f.n_train is not None and f.n_train < SMALL_MIN_SAMPLES:
        ev["train_samples"] = f.n_train
        reasons.append(f"only {f.n_train} training samples")
    if f.n_params and f.n_train:
        per = f.n_params / f.n_train
        if per > SMALL_PARAMS_PER_SAMPLE:
            ev.update(parameters=int(f.n_params), train_samples=int(f.n_train),
                      parameters_per_sample=_r(per))
            reasons.append(f"{f.n_params:,} parameters for {f.n_train:,} training samples "
                           f"({per:.0f} per sample)")
    if not reasons:
        return None
    vl = f.val_loss
    if f.restored_epoch is None and vl is not None and np.isfinite(vl).any():
        # where this run's validation loss was best: how long early stopping (the remedy) must
        # wait so as not to stop a slow starter at its untrained start
        ev["best_epoch"] = int(np.nanargmin(np.where(np.isfinite(vl), vl, np.nan))) + 1
    ev["summary"] = "Too little data for this model: " + "; ".join(reasons) + "."
    advice = ("Get more labeled data or augment it; meanwhile use a smaller model, dropout and "
              "early stopping, and trust cross-validated scores over one split.")
    return Finding("small_data", "warning", ev, advice)


def _worse_than_baseline(f: RunFacts) -> Finding | None:
    """The test score on the headline metric is worse than a trivial baseline's (the best one).

    With rare classes or class weights, accuracy is judged as balanced accuracy (as
    ``underfitting`` does): there a model rightly trades majority accuracy for the rare class.
    """
    metric = f.headline
    if metric == "accuracy" and (_minority(f) is not None or f.class_weight) and all(
            _get(m, "balanced_accuracy") is not None for m in (f.test_metrics, *f.baselines.values())):
        metric = "balanced_accuracy"
    score = _get(f.test_metrics, metric)
    best = schema.best_baseline(f.baselines, metric)
    if not isinstance(score, (int, float)) or not math.isfinite(score) or best is None:
        return None
    name, value = best
    if not schema.better(metric, value, float(score)):
        return None
    named = len(f.baselines) > 1 or name != schema.FLAT_BASELINE
    which = f"the '{name}' baseline" if named else "the trivial baseline"
    strategy = _get(f.baselines[name], "strategy")
    ev = {"metric": metric, "test_score": _r(score), "baseline": name,
          "baseline_score": _r(value), "summary": (
              f"Test {metric} {score:.4g} is worse than {which}'s {value:.4g}"
              + (f" ({strategy})" if strategy else "")
              + (f", the best of {', '.join(sorted(f.baselines))}" if len(f.baselines) > 1 else "")
              + ": the model has not beaten a predictor that learns nothing.")}
    if set(f.baselines) & set(FORECAST_BASELINES):
        advice = ("Give the model what the baseline sees: a longer window covering at least two "
                  "seasons (`--window`), a transform that makes the series easier (log for a "
                  "multiplicative series), more history; or use the "
                  f"'{name}' baseline itself, which is the better forecast for now.")
    else:
        advice = ("Check the inputs carry signal for the target (features, leakage-free "
                  "preprocessing), then give the model more capacity or epochs; until it beats "
                  f"the {name} baseline, use the baseline's predictions instead.")
    return Finding("worse_than_baseline", "warning", ev, advice)


def _healthy(f: RunFacts) -> Finding:
    ev: dict[str, Any] = {"epochs": f.n_epochs}
    parts = []
    if f.val_loss is not None and np.isfinite(f.val_loss).any():
        best = int(np.nanargmin(np.where(np.isfinite(f.val_loss), f.val_loss, np.nan)))
        ev.update(best_epoch=best + 1, best_val_loss=_r(f.val_loss[best]))
        parts.append(f"validation loss was best at epoch {best + 1} ({f.val_loss[best]:.4g})")
    key = f.headline
    score = _get(f.eval_metrics, key) if key else None
    if score is not None:
        base = f.best_baseline(key)
        ev[f"{f.eval_split}_{key}"] = _r(score)
        ev[f"baseline_{key}"] = _r(base)
        parts.append(f"{f.eval_split} {key} {score:.3f}"
                     + (f" vs {base:.3f} for the trivial baseline" if base is not None else ""))
    ev["summary"] = ("No problem found" + (": " + ", ".join(parts) if parts else "") + ".")
    return Finding("healthy", "info", ev,
                   "Nothing to fix. To go further, tune the learning rate and model size on "
                   "validation, or try more data.")


# --- the registry ----------------------------------------------------------------------------

# The baselines of the forecasting task: beaten by them, the advice is about windows and seasons.
FORECAST_BASELINES = ("naive", "seasonal_naive", "seasonal_naive_drift")


@dataclass(frozen=True)
class Rule:
    """A registered rule: its finding code, its check, what it suppresses and what it needs."""

    code: str
    check: Callable[[RunFacts], Finding | None]
    suppresses: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()  # RunFacts fields that must be present for the check to run
    lr_direction: str | None = None  # "up" / "down": where the advice moves the learning rate


RULES: dict[str, Rule] = {}
LR_DIRECTIONS = (None, "up", "down")
_FACT_NAMES = frozenset(field.name for field in fields(RunFacts))


def register(code: str, check: Callable[[RunFacts], Finding | None], *,
             suppresses: Iterable[str] = (), needs: Iterable[str] = (),
             lr_direction: str | None = None, replace: bool = False) -> None:
    """Add a rule that :func:`diagnose` runs after those registered before it.

    ``check(facts)`` returns a :class:`Finding` with ``code`` or None. ``suppresses``: the codes
    whose findings this one explains (they are dropped when it fires). ``needs``: RunFacts
    fields without which the rule is skipped. ``lr_direction`` ("up" or "down"): where the
    advice moves the learning rate; of two findings of one run advising opposite directions, the
    one registered first is kept (a run's advice never contradicts itself).
    """
    if lr_direction not in LR_DIRECTIONS:
        raise NNGuruError(f"rule {code!r}: lr_direction must be one of {LR_DIRECTIONS}; received "
                          f"{lr_direction!r}.")
    needs = tuple(needs)
    unknown = sorted(set(needs) - _FACT_NAMES)
    if unknown:
        raise NNGuruError(f"rule {code!r} needs unknown facts {unknown}; RunFacts has "
                          f"{', '.join(sorted(_FACT_NAMES))}.")
    if code in RULES and not replace:
        raise NNGuruError(f"a guru rule {code!r} is already registered; pass replace=True to "
                          "override it.")
    RULES[code] = Rule(code, check, tuple(suppresses), needs, lr_direction)


def _present(value: Any) -> bool:
    return value is not None and not (hasattr(value, "__len__") and len(value) == 0)


register("lr_too_high", _lr_too_high, needs=("loss",), lr_direction="down", suppresses=(
    "lr_too_low", "plateau", "overfitting", "underfitting", "worse_than_baseline"))
register("lr_too_low", _lr_too_low, needs=("loss",), lr_direction="up",
         suppresses=("plateau", "underfitting", "worse_than_baseline"))
register("plateau", _plateau, needs=("loss",), lr_direction="up")
register("overfitting", _overfitting, needs=("loss",), suppresses=("underfitting",))
register("underfitting", _underfitting, lr_direction="up")
register("class_imbalance", _class_imbalance, needs=("class_counts",))
register("accuracy_paradox", _accuracy_paradox, needs=("class_counts", "eval_metrics"),
         suppresses=("underfitting",))
register("leakage", _leakage)
register("label_errors", _label_errors, needs=("label_issues",))
register("small_data", _small_data)
register("worse_than_baseline", _worse_than_baseline,
         needs=("headline", "test_metrics", "baselines"), suppresses=("underfitting",))


def diagnose(
    *,
    history: dict[str, list[float]],
    data_report: schema.DataReport | None = None,
    metrics: schema.Metrics | None = None,
    rules: Iterable[str] | None = None,
    headline: str | None = None,
    n_params: int | None = None,
    n_classes: int | None = None,
    lr: float | None = None,
    suggested_lr: float | None = None,
    class_weight: Any = None,
    restored_epoch: int | None = None,
    monitor: dict[str, Any] | None = None,
    label_smoothing: float = 0.0,
    label_issues: dict[str, Any] | None = None,
    near_duplicates: int | None = None,
    steps_per_epoch: int | None = None,
) -> list[Finding]:
    """All findings for one run, most severe first; ``[healthy]`` when no rule fires.

    ``history`` uses Keras keys (``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``, ``lr``);
    ``data_report`` and ``metrics`` follow :mod:`nnguru.schema` (split sizes and train/test
    duplicates come from ``data_report["split"]``); ``rules`` are the codes the run's task says
    apply (None: every registered rule); ``headline`` is the task's headline test metric
    (``accuracy``, ``r2``, ``mase``, ...), compared with the baselines; ``suggested_lr`` is the
    learning-rate range test's suggestion, used in the advice; ``class_weight`` ("balanced" or
    {label: weight}) is what the training loss was weighted with, so it is compared with the
    right prior-predictor loss; ``restored_epoch`` (1-based) is the epoch whose weights early
    stopping restored, if it did; ``monitor`` is what the network monitor measured
    (``monitor.json``, :mod:`nnguru.training.monitor`), read by :mod:`nnguru.guru.network_rules`;
    ``label_issues`` and ``near_duplicates`` come from :mod:`nnguru.guru.data_checks` (likely
    mislabeled training samples; test samples with a near-copy in training, counted by ``leakage``
    next to the exact copies); ``steps_per_epoch`` (optimizer steps in one epoch) lets the curve
    rules count steps, not epochs, where that matters (a plateau of a few steps is none).
    """
    wanted = list(RULES) if rules is None else list(rules)
    unknown = [code for code in wanted if code not in RULES]
    if unknown:
        raise NNGuruError(f"unknown guru rule(s) {unknown}; registered: {', '.join(RULES)}.")
    f = gather_facts(history=history, data_report=data_report, metrics=metrics,
                     headline=headline, n_params=n_params, n_classes=n_classes, lr=lr,
                     suggested_lr=suggested_lr, class_weight=class_weight,
                     restored_epoch=restored_epoch, monitor=monitor, label_smoothing=label_smoothing,
                     label_issues=label_issues,
                     near_duplicates=near_duplicates, steps_per_epoch=steps_per_epoch)
    found = []
    for rule in (RULES[code] for code in RULES if code in wanted):
        if all(_present(getattr(f, need)) for need in rule.needs):
            finding = rule.check(f)
            if finding is not None:
                found.append(finding)
    suppressed = {code for x in found for code in RULES[x.code].suppresses}
    found = [x for x in found if x.code not in suppressed]
    # Opposite learning-rate advice: the first registered direction wins (rules run in order).
    direction = next((RULES[x.code].lr_direction for x in found if RULES[x.code].lr_direction),
                     None)
    found = [x for x in found if RULES[x.code].lr_direction in (None, direction)]
    if not found:
        return [_healthy(f)]
    return sorted(found, key=lambda x: SEVERITIES.index(x.severity))
