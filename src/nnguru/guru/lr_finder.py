"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates"; popularized by fastai).

Train for a few steps while the learning rate grows exponentially from ``start`` to ``end``,
record the smoothed loss, stop once it diverges, then put the weights back. The loss curve shows
which rates learn fast and where training blows up; it backs the diagnosis' learning-rate advice.
Each batch runs through the step ``fit`` would choose for the model and optimizer
(``training/step.py``), so the test measures the training that will follow.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from nnguru.errors import NNGuruError, describe
from nnguru.optim.base import LossFn
from nnguru.training.step import choose_step

# Exponential moving average of the loss: per-batch losses are too noisy to read (fastai's 0.98).
SMOOTHING = 0.98
# Stop once the smoothed loss exceeds 4x its best: past that point the rate only diverges.
DIVERGE_FACTOR = 4.0
# The first 10% of points are skipped when looking for the steepest slope: the moving average
# holds only a few noisy batches there, and log-spaced rates turn that noise into fake slopes
# (fastai skips the first 10 of 100 for the same reason).
SKIP_START_FRACTION = 0.1
# The slope is measured across this many points (a centred difference over a window), not
# between neighbours, for the same reason.
SLOPE_WINDOW = 5
# Without a descending stretch of at least this many points the slope cannot be trusted, and the
# suggestion falls back to a tenth of the rate with the lowest loss (the other common rule).
MIN_POINTS_FOR_SLOPE = 3
FALLBACK_DIVISOR = 10.0
# A curve whose lowest smoothed loss is within 2% of its starting loss taught nothing at any rate
# (a model that already sits at its best, e.g. a forecast network correcting a linear fit): no rate
# is suggested rather than a tenth of the first one tried.
MIN_RELATIVE_DROP = 0.02
# Median of the last 3 batch losses before smoothing: removes single-batch spikes.
SPIKE_WINDOW = 3

@dataclass
class LRFinderResult:
    """Rates tried, smoothed losses, and the suggested rate (None when nothing was learned).

    ``suggestion`` is the rate where the smoothed loss falls fastest against log(lr) (the
    steepest descent before the minimum, ignoring the first 10% of steps, see
    :func:`suggest_lr`), or a tenth of the minimum's rate when the descent is too short to read:
    large enough to learn quickly, well below divergence. A spike or NaN in the first 10% of steps
    neither ends the test nor moves the suggestion (the NaN step is undone and skipped).
    ``train_step`` names the step that ran (``Step.name``, as in ``history.params["train_step"]`` after ``fit``).
    """

    lrs: list[float]
    losses: list[float]
    suggestion: float | None
    min_loss_lr: float | None = None
    diverged: bool = False
    raw_losses: list[float] = field(default_factory=list)
    train_step: str | None = None
    optimizer: str | None = None  # the optimizer class that stepped (the one asked for)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _make_optimizer(spec: Any, module: torch.nn.Module, params: list, lr: float):
    """A torch optimizer: a name or dict from nnguru's registry (as training builds it), or a
    callable ``(params, lr)``."""
    if callable(spec):
        return spec(params, lr)
    if not isinstance(spec, (str, dict)):
        raise NNGuruError(f"lr-find optimizer must be a name or a callable; received {describe(spec)}.")
    from nnguru import optim

    opt = optim.get(spec, module, lr=lr)  # unknown names raise NNGuruError listing valid ones
    if isinstance(opt, torch.optim.Optimizer):
        return opt
    mini = [row["name"] for row in optim.table() if row["batch"] == "mini-batches"]
    raise NNGuruError(
        f"lr-find optimizer {spec!r} does not take mini-batch gradient steps, so a "
        f"learning-rate range test does not apply; use one of {', '.join(mini)}."
    )


def _three_argument_loss(loss_fn: Callable[..., torch.Tensor]) -> LossFn:
    """``loss_fn`` itself when it takes ``(out, y, w)`` like nnguru's losses (so the step sees the
    model's compiled loss); plain two-argument torch losses get ``w`` dropped."""
    from nnguru.nn.losses import Loss

    if isinstance(loss_fn, Loss):  # choose_step calls its compute(out, y, w)
        return loss_fn
    target = loss_fn.forward if isinstance(loss_fn, torch.nn.Module) else loss_fn
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return loss_fn
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params) or len(positional) >= 3:
        return loss_fn
    return lambda out, y, w: loss_fn(out, y)


def suggest_lr(lrs: list[float], losses: list[float]) -> tuple[float | None, float | None]:
    """(steepest-descent rate, rate at the lowest loss) from a range-test curve.

    The steepest descent is looked for between the first 10% of points and the minimum, as the
    largest drop of the loss per decade of learning rate across a small window. A curve that never
    falls by MIN_RELATIVE_DROP suggests nothing (None).
    """
    lr_arr, loss_arr = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    ok = np.isfinite(loss_arr) & (lr_arr > 0)
    lr_arr, loss_arr = lr_arr[ok], loss_arr[ok]
    if len(loss_arr) == 0:
        return None, None
    m = int(np.argmin(loss_arr))
    min_lr = float(lr_arr[m])
    if loss_arr[m] > loss_arr[0] - MIN_RELATIVE_DROP * abs(loss_arr[0]):
        return None, min_lr
    start = int(len(loss_arr) * SKIP_START_FRACTION)
    if m + 1 - start < MIN_POINTS_FOR_SLOPE:
        return min_lr / FALLBACK_DIVISOR, min_lr
    log_lr = np.log10(lr_arr)
    half = SLOPE_WINDOW // 2
    idx = np.arange(start, m + 1)
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half, len(loss_arr) - 1)
    slope = (loss_arr[hi] - loss_arr[lo]) / np.maximum(log_lr[hi] - log_lr[lo], 1e-12)
    return float(lr_arr[idx[int(np.argmin(slope))]]), min_lr


def find_lr(
    module: torch.nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    x: torch.Tensor | np.ndarray,
    y: torch.Tensor | np.ndarray,
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    batch_size: int = 64,
    optimizer: Any = "adam",
    seed: int = 0,
) -> LRFinderResult:
    """Run the range test on ``module`` and restore its weights (and buffers) afterwards.

    ``loss_fn(outputs, y, None)`` (nnguru's compiled loss; ``(outputs, y)`` works too) must
    return the mean batch loss from the module's raw outputs (logits).
    """
    if not (0 < start < end) or steps < 2 or batch_size < 1:
        raise NNGuruError(
            f"lr-find needs 0 < start < end, steps >= 2 and batch_size >= 1; received "
            f"start={start}, end={end}, steps={steps}, batch_size={batch_size}."
        )
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise NNGuruError("lr-find needs a model with trainable parameters; this one has none.")
    device = params[0].device
    x = torch.as_tensor(x)
    x = (x.float() if x.is_floating_point() else x).to(device)
    y = torch.as_tensor(y).to(device)
    if len(x) != len(y) or len(x) == 0:
        raise NNGuruError(f"lr-find got {len(x)} inputs and {len(y)} targets; pass matching, "
                          "non-empty x and y.")
    saved = {k: v.detach().clone() for k, v in module.state_dict().items()}
    was_training = module.training
    opt = _make_optimizer(optimizer, module, params, start)
    step = choose_step(module, opt, _three_argument_loss(loss_fn), x)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=gen)
    ratio = end / start
    lrs: list[float] = []
    raw: list[float] = []
    smoothed: list[float] = []
    avg, best, diverged, pos, kept = 0.0, math.inf, False, 0, 0
    warmup = int(steps * SKIP_START_FRACTION)  # early spikes and NaNs here do not end the test
    module.train()
    try:
        for i in range(steps):
            lr = start * ratio ** (i / (steps - 1))
            for group in opt.param_groups:
                group["lr"] = lr
            if pos + batch_size > len(order) and pos > 0:
                order, pos = torch.randperm(len(x), generator=gen), 0
            idx = order[pos : pos + batch_size].to(device)
            pos += batch_size
            value = float(step.run(x[idx], y[idx], None)[0])
            if not math.isfinite(value):
                if i < warmup:  # a fluke batch at a tiny rate: undo it and go on
                    module.load_state_dict(saved)  # and a fresh optimizer: its moments saw the NaN
                    opt = _make_optimizer(optimizer, module, params, lr)
                    step = choose_step(module, opt, _three_argument_loss(loss_fn), x)
                    continue
                diverged = True  # the weights it broke are restored below
                break
            kept += 1
            raw.append(value)
            # A one-batch spike never reaches the curve: the moving average reads the median of
            # the last SPIKE_WINDOW losses (real divergence lasts, so it still shows).
            avg = SMOOTHING * avg + (1 - SMOOTHING) * float(np.median(raw[-SPIKE_WINDOW:]))
            s = avg / (1 - SMOOTHING ** kept)  # bias correction of the moving average
            lrs.append(lr)
            smoothed.append(s)
            best = min(best, s)
            if i >= warmup and s > DIVERGE_FACTOR * best:
                diverged = True
                break
    finally:
        module.load_state_dict(saved)
        for p in params:
            p.grad = None
        module.train(was_training)
    suggestion, min_lr = suggest_lr(lrs, smoothed)
    return LRFinderResult(lrs=lrs, losses=smoothed, suggestion=suggestion, min_loss_lr=min_lr,
                          diverged=diverged, raw_losses=raw, train_step=step.name,
                          optimizer=type(opt).__name__)
